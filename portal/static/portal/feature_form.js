/* productops portal, the feature forms: warn before leaving a page while a form marked
   data-warn-unsaved has changes that were not saved. A form is dirty from its first edit until
   it is submitted (plain post or htmx) or replaced; loaded by the feature and edit pages. */
"use strict";

(function () {
  function warned(el) {
    var form = el && (el.form || (el.closest ? el.closest("form") : null));
    return form && form.matches("[data-warn-unsaved]") ? form : null;
  }

  function mark(event) {
    var form = warned(event.target);
    if (form) { form.setAttribute("data-dirty", ""); }
  }

  document.addEventListener("input", mark);
  document.addEventListener("change", mark);

  // Submitting saves (or shows errors in a re-rendered form): no warning on the way out.
  document.addEventListener("submit", function (event) {
    var form = warned(event.target);
    if (form) { form.removeAttribute("data-dirty"); }
  }, true);
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = warned(event.target);
    if (form && event.detail.requestConfig && event.detail.requestConfig.verb !== "get") {
      form.removeAttribute("data-dirty");
    }
  });

  window.addEventListener("beforeunload", function (event) {
    if (document.querySelector("form[data-warn-unsaved][data-dirty]")) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
})();
