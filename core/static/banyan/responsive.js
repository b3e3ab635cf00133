/* The back office at phone width (with responsive.css; loaded by banyan/admin_base.html).
   Below 992 px the menu is collapsed behind the toggler, so the notification bell, with its
   unread count, is repeated in the bar next to the toggler (class bn-navbar-compact, shown
   only below 992 px), where one tap reaches it. Vanilla JavaScript, no dependency. */
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

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", compactBell);
  } else {
    compactBell();
  }
}());
