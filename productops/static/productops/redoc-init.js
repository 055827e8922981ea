/* The ReDoc page (/api/redoc/): start ReDoc on the schema with REDOC_UI_SETTINGS, from a file
   rather than drf-spectacular's inline script (templates/api_docs/redoc.html). */
"use strict";

(function () {
  var container = document.getElementById("redoc-container");
  Redoc.init(container.dataset.specUrl, JSON.parse(container.dataset.settings || "{}"), container);
})();
