/* The bell's live feed (loaded by banyan/admin_base.html): while the page is open and
   visible, it asks /admin/notifications/live?after=<cursor> every [notify] live_poll_seconds
   for the signed-in user's notifications newer than the last one it saw, updates the unread
   count, and shows each new one as a toast with an "Open" link.

   The feed is rows of core_notification (core.notify), so any web worker answers it and a
   user only ever gets their own. Before a toast is shown, a cancelable "banyan:notification"
   event (detail: {id, kind, subject, body, url, link}) is dispatched on window: a page that
   shows the notification its own way (the call center's screen-pop page draws an incoming
   call's pop in place) calls preventDefault(). Errors back off (doubling, at most 60 s);
   a hidden tab polls again as soon as it is shown. Vanilla JavaScript, no dependency. */
(function () {
  "use strict";

  var bell = document.getElementById("notification-bell");
  if (!bell || !window.fetch || !bell.getAttribute("data-live-url")) {
    return;
  }
  var url = bell.getAttribute("data-live-url");
  var every = Math.max(1, parseInt(bell.getAttribute("data-live-every"), 10) || 3) * 1000;
  var cursor = parseInt(bell.getAttribute("data-live-cursor"), 10) || 0;
  var failures = 0;
  var timer = null;
  var busy = false;

  function schedule(ms) {
    clearTimeout(timer);
    timer = setTimeout(poll, ms);
  }

  function setCount(n) {
    var ids = ["notification-count", "notification-count-compact"];
    var hosts = [bell, document.getElementById("notification-bell-compact")];
    for (var i = 0; i < ids.length; i++) {
      if (!hosts[i]) {
        continue;
      }
      var badge = document.getElementById(ids[i]);
      if (!n) {
        if (badge) {
          badge.parentNode.removeChild(badge);
        }
        continue;
      }
      if (!badge) {
        badge = document.createElement("span");
        badge.id = ids[i];
        badge.className = "badge badge-pill badge-danger";
        hosts[i].appendChild(badge);
      }
      badge.textContent = String(n);
    }
  }

  function box() {
    var el = document.getElementById("bn-live-toasts");
    if (!el) {
      el = document.createElement("div");
      el.id = "bn-live-toasts";
      el.className = "bn-live-toasts";
      el.setAttribute("role", "status");
      el.setAttribute("aria-live", "polite");
      document.body.appendChild(el);
    }
    return el;
  }

  function toast(item) {
    var el = document.createElement("div");
    el.className = "bn-live-toast";
    el.setAttribute("data-kind", item.kind);
    el.setAttribute("data-id", String(item.id));
    var close = document.createElement("button");
    close.type = "button";
    close.className = "close";
    close.setAttribute("aria-label", bell.getAttribute("data-live-close") || "Close");
    close.textContent = "\u00d7";
    close.addEventListener("click", function () { el.parentNode.removeChild(el); });
    var title = document.createElement("strong");
    title.className = "bn-live-subject";
    title.textContent = item.subject;
    el.appendChild(close);
    el.appendChild(title);
    if (item.body) {
      var body = document.createElement("div");
      body.className = "bn-live-body";
      body.textContent = item.body;
      el.appendChild(body);
    }
    if (item.link) {
      var open = document.createElement("a");
      open.className = "btn btn-sm btn-primary bn-live-open";
      open.href = item.url;
      open.textContent = bell.getAttribute("data-live-open") || "Open";
      el.appendChild(open);
    }
    box().appendChild(el);
  }

  function deliver(item) {
    var ev;
    try {
      ev = new CustomEvent("banyan:notification", {detail: item, cancelable: true});
    } catch (e) {
      ev = document.createEvent("CustomEvent");
      ev.initCustomEvent("banyan:notification", false, true, item);
    }
    if (window.dispatchEvent(ev)) {
      toast(item);
    }
  }

  function poll() {
    if (document.hidden || busy) {
      schedule(every);
      return;
    }
    busy = true;
    fetch(url + "?after=" + cursor, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) {
        var type = r.headers.get("Content-Type") || "";
        if (!r.ok || type.indexOf("json") < 0) {
          throw new Error("live feed: " + r.status);
        }
        return r.json();
      })
      .then(function (data) {
        busy = false;
        failures = 0;
        if (data.cursor > cursor) {
          cursor = data.cursor;
        }
        setCount(data.unread);
        for (var i = 0; i < data.items.length; i++) {
          deliver(data.items[i]);
        }
        schedule(data.items.length >= 20 ? 0 : every);
      })
      .catch(function () {
        busy = false;
        failures += 1;
        schedule(Math.min(60000, every * Math.pow(2, failures)));
      });
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      schedule(0);
    }
  });
  schedule(every);
}());
