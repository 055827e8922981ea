// Scoring settings (issue 13): when another model is picked, open the scorecard weights if the
// weighted scorecard is the one picked (they stay collapsed, labelled unused, for the others).
// Without JavaScript the page explains the saved model, and the preview shows the picked one.
(function () {
  "use strict";
  function sync(select) {
    var unused = document.querySelectorAll(".scoring-weights-unused");
    for (var i = 0; i < unused.length; i++) {
      unused[i].open = select.value === "scorecard";
    }
  }
  document.addEventListener("change", function (event) {
    if (event.target && event.target.id === "id_scoring_model") sync(event.target);
  });
})();
