/* productops portal: the small amount of JavaScript the pages need, in one file, no build step.
   htmx (shipped by django-htmx) does the requests; this file adds what htmx has no attribute for.
   Sections belong to page areas. */
"use strict";

/* Keyboard focus after a partial update: content swapped into (or as) an element marked
   data-focus-on-swap gets focus on its first control, so keyboard users are not sent back
   to the top of the page. */
document.addEventListener("htmx:load", function (event) {
  var elt = event.detail.elt;
  if (!elt || elt === document.body || !elt.closest) { return; }
  var box = elt.closest("[data-focus-on-swap]");
  if (!box) { return; }
  var target = box.querySelector("[autofocus], input:not([type=hidden]), select, textarea, button, a[href]");
  if (target) { target.focus(); }
});

/* == roadmap pages ============================================================= */
/* Boards (roadmap now/next/later, kanban): drag a card onto a column to move it. The drop
   posts through htmx to the card's move URL (the same endpoint as the card's "Move to" form,
   which works without JavaScript); the answer is the updated card, which is then placed in
   the column its data-column names, in rank order. */
(function () {
  function board(el) { return el.closest("[data-board]"); }

  function announce(el, text) {
    var root = board(el) || document;
    var status = root.parentElement ? root.parentElement.querySelector("[data-board-status]") : null;
    if (status) { status.textContent = text; }
  }

  function refreshCounts(root) {
    root.querySelectorAll("[data-column-key]").forEach(function (column) {
      var n = column.querySelectorAll(".cards > .card").length;
      var count = column.querySelector(".count");
      // Columns may show only their top cards; data-hidden counts the rest.
      if (count) { count.textContent = String(n + (parseInt(count.dataset.hidden, 10) || 0)); }
      var empty = column.querySelector(".column-empty");
      if (empty) { empty.hidden = n > 0; }
    });
  }

  function rankOf(card) {
    var rank = parseInt(card.dataset.rank, 10);
    return isNaN(rank) ? Infinity : rank;
  }

  function placeCard(card) {
    var root = board(card);
    if (!root) { return; }
    var column = root.querySelector('[data-column-key="' + card.dataset.column + '"]');
    var list = column ? column.querySelector(".cards") : null;
    if (!list) { return; }
    if (card.parentElement !== list) {
      var before = Array.prototype.find.call(list.children, function (other) {
        return rankOf(other) > rankOf(card);
      });
      list.insertBefore(card, before || null);
      var heading = column.querySelector("h2");
      announce(card, "Moved to " + (heading ? heading.firstChild.textContent.trim() : card.dataset.column) + ".");
      card.focus();
    }
    refreshCounts(root);
  }

  document.addEventListener("htmx:load", function (event) {
    var el = event.detail.elt;
    if (el && el.classList && el.classList.contains("card") && el.dataset.column) { placeCard(el); }
  });

  document.addEventListener("htmx:responseError", function (event) {
    var el = event.detail.elt;
    if (el && board(el)) {
      announce(el, "Not saved: " + (event.detail.xhr.status === 403 ? "your role does not allow this." : "the server refused it."));
    }
  });

  var dragged = null;

  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest ? event.target.closest(".card[draggable=true]") : null;
    if (!card) { return; }
    dragged = card;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.id);
    card.classList.add("dragging");
  });

  document.addEventListener("dragend", function () {
    if (dragged) { dragged.classList.remove("dragging"); }
    dragged = null;
    document.querySelectorAll(".drop-target").forEach(function (el) { el.classList.remove("drop-target"); });
  });

  document.addEventListener("dragover", function (event) {
    var column = dragged && event.target.closest ? event.target.closest("[data-drop]") : null;
    if (!column || board(column) !== board(dragged)) { return; }
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    column.classList.add("drop-target");
  });

  document.addEventListener("dragleave", function (event) {
    var column = event.target.closest ? event.target.closest("[data-drop]") : null;
    if (column && !column.contains(event.relatedTarget)) { column.classList.remove("drop-target"); }
  });

  document.addEventListener("drop", function (event) {
    var column = dragged && event.target.closest ? event.target.closest("[data-drop]") : null;
    if (!column) { return; }
    event.preventDefault();
    column.classList.remove("drop-target");
    var card = dragged;
    var target = column.dataset.columnKey;
    if (!card.dataset.moveUrl || card.dataset.column === target) { return; }
    var values = { next: card.dataset.next || "" };
    values[card.dataset.moveField] = target;
    // The CSRF header comes from hx-headers on <body>, inherited by the card.
    htmx.ajax("POST", card.dataset.moveUrl, { source: card, target: card, swap: "outerHTML", values: values });
  });
})();

/* == feedback pages ============================================================ */
/* The triage inbox (/w/<slug>/feedback/): keyboard shortcuts, "select all on page", the
   selected row, and swapping refusals (400/409: the pane shows why) instead of dropping them.
   Every shortcut has a button or link doing the same without JavaScript. */
(function () {
  function inbox() { return document.getElementById("inbox"); }

  function typing(el) {
    if (!el || !el.tagName) { return false; }
    var tag = el.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || el.isContentEditable;
  }

  function rows() { return Array.prototype.slice.call(document.querySelectorAll("#inbox .inbox-row")); }

  function markSelected(row) {
    rows().forEach(function (other) {
      other.classList.toggle("selected", other === row);
      var link = other.querySelector(".inbox-link");
      if (link) {
        if (other === row) { link.setAttribute("aria-current", "true"); } else { link.removeAttribute("aria-current"); }
      }
    });
  }

  function move(step) {
    var all = rows();
    var index = all.findIndex(function (row) { return row.classList.contains("selected"); });
    var next = index === -1 ? (step > 0 ? 0 : all.length - 1) : index + step;
    if (next >= 0 && next < all.length) {
      var link = all[next].querySelector(".inbox-link");
      link.click();
      link.focus({ preventScroll: true });
      all[next].scrollIntoView({ block: "nearest" });
      return;
    }
    var page = document.querySelector('#inbox .pagination a[rel="' + (step > 0 ? "next" : "prev") + '"]');
    if (page) { window.location.assign(page.href); }
  }

  function press(id) {
    var button = document.getElementById(id);
    if (button && !button.disabled) { button.click(); }
  }

  function toggleShortcuts(open) {
    var help = document.getElementById("feedback-shortcuts");
    if (!help) { return; }
    help.open = open === undefined ? !help.open : open;
    if (help.open) { help.querySelector("summary").focus(); }
  }

  document.addEventListener("keydown", function (event) {
    if (!inbox() || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    switch (event.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "l": {
        var search = document.getElementById("link-feature-q");
        if (!search) { return; }
        search.focus();
        break;
      }
      case "a": press("action-archive"); break;
      case "r": press("action-reviewed"); break;
      case "?": toggleShortcuts(); break;
      case "Escape": toggleShortcuts(false); return;
      default: return;
    }
    event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("#inbox .inbox-link") : null;
    if (link) { markSelected(link.closest(".inbox-row")); }
  });

  document.addEventListener("change", function (event) {
    if (event.target.id !== "select-all") { return; }
    document.querySelectorAll('#inbox input[name="ids"]').forEach(function (box) { box.checked = event.target.checked; });
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if ((status === 400 || status === 409) && inbox() && inbox().contains(event.detail.target)) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    // After an action the inbox shows the next item: put the keyboard on it.
    if (event.detail.target.id === "inbox") {
      var heading = document.getElementById("pane-h");
      if (heading) { heading.focus({ preventScroll: true }); }
    }
  });

  document.addEventListener("htmx:responseError", function (event) {
    var root = inbox();
    if (!root || !root.contains(event.detail.elt)) { return; }
    var status = root.querySelector(".inbox-status");
    if (status) {
      status.textContent = event.detail.xhr.status === 403
        ? "Not done: your role does not allow this."
        : "Not done: the server could not do this; reload the page and retry.";
    }
  });
})();
