/* The back office at phone width (with responsive.css; loaded by banyan/admin_base.html).
   - Below 992 px the menu is collapsed behind the toggler, so the notification bell, with its
     unread count, is repeated in the bar next to the toggler (class bn-navbar-compact, shown
     only below 992 px), where one tap reaches it.
   - A page's own table (a report, a sale's lines) scrolls inside its own box when it is wider
     than the screen, instead of widening the page: each table not already in a
     .table-responsive box is put in one (lists are cards; a details table fits already).
   - A table with a field to type on its rows is stacked instead, row by row (bn-stack).
   Vanilla JavaScript, no dependency. */
(function () {
  "use strict";

  function compactBell() {
    var bell = document.getElementById("notification-bell");
    var toggler = document.querySelector(".navbar .navbar-toggler");
    if (!bell || !toggler || document.getElementById("notification-bell-compact")) {
      return;
    }
    var box = document.createElement("div");
    box.className = "bn-navbar-compact";
    var link = document.createElement("a");
    link.id = "notification-bell-compact";
    link.href = bell.getAttribute("href");
    link.title = bell.getAttribute("title") || "";
    link.setAttribute("aria-label", link.title);
    var icon = document.createElement("span");
    icon.className = "fa fa-bell";
    icon.setAttribute("aria-hidden", "true");
    link.appendChild(icon);
    var count = document.getElementById("notification-count");
    if (count) {
      var badge = count.cloneNode(true);
      badge.id = "notification-count-compact";
      link.appendChild(badge);
    }
    box.appendChild(link);
    toggler.parentNode.insertBefore(box, toggler.nextSibling);
  }

  function scrollingTables() {
    var tables = document.querySelectorAll("table");
    for (var i = 0; i < tables.length; i++) {
      var table = tables[i];
      var parent = table.parentNode;
      if (table.classList.contains("searchable") || !parent ||
          (parent.classList && parent.classList.contains("table-responsive")) ||
          (parent.closest && parent.closest("table"))) {
        continue;
      }
      var box = document.createElement("div");
      box.className = "table-responsive bn-table-box";
      parent.insertBefore(box, table);
      box.appendChild(table);
    }
  }

  // A table one fills in (a quantity or a value typed on each row: a refund's lines, a stock
  // count) is not scrolled sideways on a phone, where the field to type, in its last column,
  // would start off the screen: each row is stacked, every cell under its column's name
  // (data-label, from the header; responsive.css, class bn-stack, below 576 px).
  // A page that lays its own rows out (the till) marks its table bn-no-stack.
  var TYPED = "input:not([type=hidden]):not([type=checkbox]):not([type=radio]):not([type=submit]), select, textarea";
  function stackedFormTables() {
    var tables = document.querySelectorAll("table");
    for (var i = 0; i < tables.length; i++) {
      var table = tables[i];
      if (table.classList.contains("bn-no-stack") || table.classList.contains("model-list") ||
          !table.tBodies.length || !table.tBodies[0].querySelector("td " + TYPED.split(", ").join(", td "))) {
        continue;
      }
      var heads = table.tHead ? table.tHead.rows[table.tHead.rows.length - 1].cells : [];
      var rows = table.tBodies[0].rows;
      for (var r = 0; r < rows.length; r++) {
        for (var c = 0, col = 0; c < rows[r].cells.length; c++) {
          var cell = rows[r].cells[c];
          var head = heads[col];
          if (head && !cell.hasAttribute("data-label")) {
            cell.setAttribute("data-label", (head.textContent || "").trim());
          }
          col += cell.colSpan || 1;
        }
      }
      table.classList.add("bn-stack");
    }
  }

  function start() {
    compactBell();
    stackedFormTables();
    scrollingTables();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
