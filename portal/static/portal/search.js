/* productops portal: the top bar (loaded by base.html on every page).
   - "/" focuses the search box (not while typing in a field); Escape closes its dropdown.
   - The dropdown: htmx fills #topsearch-results from search/?q= as you type (the box's
     hx-* attributes); this file shows it when it has something and hides it when the box
     is emptied, Escape is pressed or focus leaves the search form. Without JavaScript the
     box submits to the results page.
   - The menu (details.navmenu): open in the HTML so wide screens show the links without
     JavaScript; on narrow screens (the CSS breakpoint) it starts closed and closes again
     after a link is followed or Escape is pressed. */
"use strict";

document.documentElement.classList.add("js");

(function () {
  var NARROW = window.matchMedia("(max-width: 1279px)");

  function menu() { return document.querySelector("[data-navmenu]"); }
  function form() { return document.querySelector("[data-topsearch]"); }
  function box() { var f = form(); return f ? f.querySelector("input[type=search]") : null; }
  function results() { return document.getElementById("topsearch-results"); }

  function hideResults() {
    var r = results();
    if (r) { r.hidden = true; }
    var b = box();
    if (b) { b.setAttribute("aria-expanded", "false"); }
  }

  function showResults() {
    var r = results();
    if (!r || !r.firstElementChild) { return; }
    r.hidden = false;
    var b = box();
    if (b) { b.setAttribute("aria-expanded", "true"); }
  }

  function fitMenu() {
    var m = menu();
    if (!m) { return; }
    if (NARROW.matches) { m.open = false; } else { m.open = true; }
  }

  function typing(target) {
    if (!target || !target.closest) { return false; }
    if (target.isContentEditable) { return true; }
    return !!target.closest("input, textarea, select, [contenteditable]");
  }

  document.addEventListener("DOMContentLoaded", function () {
    fitMenu();
    var b = box();
    if (b) { b.setAttribute("aria-expanded", "false"); }
  });
  if (NARROW.addEventListener) { NARROW.addEventListener("change", fitMenu); }

  // Wide screens: the menu cannot be closed (its summary is hidden); keep it open anyway.
  document.addEventListener("toggle", function (event) {
    var m = menu();
    if (event.target === m && !m.open && !NARROW.matches) { m.open = true; }
  }, true);

  document.addEventListener("keydown", function (event) {
    if (event.key === "/" && !event.ctrlKey && !event.metaKey && !event.altKey && !typing(event.target)) {
      var b = box();
      if (!b) { return; }
      event.preventDefault();
      var m = menu();
      if (m && !m.open) { m.open = true; }
      b.focus();
      b.select();
      return;
    }
    if (event.key === "Escape") {
      var f = form();
      if (f && f.contains(event.target)) {
        var r = results();
        if (r && !r.hidden) { hideResults(); event.preventDefault(); return; }
      }
      var menuEl = menu();
      if (menuEl && NARROW.matches && menuEl.open && menuEl.contains(event.target)) {
        menuEl.open = false;
        menuEl.querySelector("summary").focus();
      }
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail && event.detail.target === results()) {
      var b = box();
      if (b && b.value.trim() === "") { hideResults(); } else { showResults(); }
    }
  });

  document.addEventListener("input", function (event) {
    if (event.target === box() && event.target.value.trim() === "") { hideResults(); }
  });

  document.addEventListener("focusin", function (event) {
    var f = form();
    if (!f) { return; }
    if (f.contains(event.target)) {
      if (event.target === box() && box().value.trim() !== "") { showResults(); }
    } else {
      hideResults();
    }
  });

  document.addEventListener("click", function (event) {
    var f = form();
    if (f && !f.contains(event.target)) { hideResults(); }
  });
})();
