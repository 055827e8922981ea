/* productops portal, the release page (/w/<slug>/releases/<id>/): drag a planned feature from
   "Planned on the roadmap" onto the scope to add it. A drop chooses the feature in the
   "Add to release" form and submits it, so the drop and the keyboard / no-JavaScript way are
   one and the same form post. Loaded by that page only. */
"use strict";

(function () {
  var dragged = null;

  function dropZone(el) { return el && el.closest ? el.closest("[data-scope-drop]") : null; }

  function say(text) {
    var status = document.querySelector("[data-scope-status]");
    if (status) { status.textContent = text; }
  }

  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest ? event.target.closest(".scope-candidate[draggable=true]") : null;
    if (!card) { return; }
    dragged = card;
    event.dataTransfer.effectAllowed = "copy";
    event.dataTransfer.setData("text/plain", card.dataset.featureId);
    card.classList.add("dragging");
  });

  document.addEventListener("dragend", function () {
    if (dragged) { dragged.classList.remove("dragging"); }
    dragged = null;
    document.querySelectorAll("[data-scope-drop].drop-target").forEach(function (el) { el.classList.remove("drop-target"); });
  });

  document.addEventListener("dragover", function (event) {
    var zone = dragged ? dropZone(event.target) : null;
    if (!zone) { return; }
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    zone.classList.add("drop-target");
  });

  document.addEventListener("dragleave", function (event) {
    var zone = dropZone(event.target);
    if (zone && !zone.contains(event.relatedTarget)) { zone.classList.remove("drop-target"); }
  });

  document.addEventListener("drop", function (event) {
    var zone = dragged ? dropZone(event.target) : null;
    if (!zone) { return; }
    event.preventDefault();
    zone.classList.remove("drop-target");
    var form = zone.querySelector("form[data-scope-add]");
    var input = form ? form.querySelector('input[name="feature"]') : null;
    var id = dragged.dataset.featureId;
    if (!input || !id) {
      say("This feature cannot join the release.");
      return;
    }
    var title = dragged.querySelector(".scope-candidate-title");
    // The picker's own value for an option: "#<id> <title>" (the form checks it may join).
    input.value = "#" + id + " " + (title ? title.textContent.trim() : "");
    say("Adding “" + (title ? title.textContent.trim() : dragged.textContent.trim()) + "”…");
    if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
  });
})();
