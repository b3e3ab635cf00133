/* The back office at phone width (with responsive.css; loaded by banyan/admin_base.html).
   - Below 992 px the menu is collapsed behind the toggler, so the notification bell, with its
     unread count, is repeated in the bar next to the toggler (class bn-navbar-compact, shown
     only below 992 px), where one tap reaches it.
   - A page's own table (a report, a sale's lines) scrolls inside its own box when it is wider
     than the screen, instead of widening the page: each table not already in a
     .table-responsive box is put in one (lists are cards; a details table fits already).
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

  function start() {
    compactBell();
    scrollingTables();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
