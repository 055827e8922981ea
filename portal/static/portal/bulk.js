// The roadmap's bulk bar: keeps "N selected" in step with the ticked cards. Everything else is
// a plain form (the cards' checkboxes belong to it with form="bulk-form"), enhanced by htmx.
(function () {
  "use strict";
  function update() {
    var count = document.querySelectorAll("input[data-bulk-pick]:checked").length;
    document.querySelectorAll("[data-bulk-count]").forEach(function (node) {
      node.textContent = String(count);
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target && event.target.matches && event.target.matches("input[data-bulk-pick]")) {
      update();
    }
  });
  document.addEventListener("DOMContentLoaded", update);
  document.addEventListener("htmx:afterSettle", update);
})();
