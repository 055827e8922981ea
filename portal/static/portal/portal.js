/* productops portal: the small amount of JavaScript the pages need, in one file, no build step.
   htmx (shipped by django-htmx) does the requests; this file adds what htmx has no attribute for.
   Sections belong to page areas. */
"use strict";

/* == roadmap pages ============================================================= */

/* == feedback pages ============================================================ */
