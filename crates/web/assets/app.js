// EverReach's keyboard layer and small enhancements. Every page works without it.
// Shortcuts: "/" focuses search, j/k move through a list, Enter opens, x selects,
// "?" lists them. None fires while typing in a field, with a modifier held, or
// deletes anything.
(function () {
  "use strict";

  function typing(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  function rows() {
    var list = document.querySelector("[data-list]");
    return list ? Array.prototype.slice.call(list.querySelectorAll("tbody tr[data-row]")) : [];
  }

  function selectRow(index) {
    var all = rows();
    if (!all.length) return;
    index = Math.max(0, Math.min(all.length - 1, index));
    all.forEach(function (r) { r.classList.remove("is-selected"); });
    var row = all[index];
    row.classList.add("is-selected");
    var link = row.querySelector("a.row-link");
    if (link) link.focus();
    row.scrollIntoView({ block: "nearest" });
  }

  function current() {
    var all = rows();
    for (var i = 0; i < all.length; i++) {
      if (all[i].classList.contains("is-selected") || all[i].contains(document.activeElement)) return i;
    }
    return -1;
  }

  document.addEventListener("keydown", function (e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    var dialog = document.getElementById("shortcuts");
    if (dialog && dialog.open) return;
    if (e.key === "/") {
      var search = document.getElementById("people-search");
      e.preventDefault();
      if (search) { search.focus(); search.select(); } else { window.location.href = "/people"; }
    } else if (e.key === "j" || e.key === "k") {
      if (!rows().length) return;
      e.preventDefault();
      var i = current();
      selectRow(e.key === "j" ? i + 1 : (i < 0 ? 0 : i - 1));
    } else if (e.key === "x") {
      var all = rows(), at = current();
      if (at < 0) return;
      var box = all[at].querySelector("input[type=checkbox]");
      if (box) { e.preventDefault(); box.checked = !box.checked; }
    } else if (e.key === "?") {
      if (dialog && dialog.showModal) { e.preventDefault(); dialog.showModal(); }
    }
  });

  // Copy buttons: data-copy names the input whose value to copy.
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    source.select();
    var done = function () { button.textContent = "Copied"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.value).then(done, function () { document.execCommand("copy"); done(); });
    } else {
      document.execCommand("copy");
      done();
    }
  });

  // The 24-hour reply window counts down in its own words (the server wrote the
  // first ones; this keeps them true while the page stays open).
  function countdown() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var left = Math.floor((Date.parse(el.getAttribute("data-countdown")) - Date.now()) / 60000);
      if (isNaN(left)) return;
      if (left <= 0) {
        el.textContent = "Instagram's 24-hour window has closed: this reply cannot be sent until they write again.";
        el.removeAttribute("data-countdown");
        return;
      }
      var text = el.textContent;
      el.textContent = text.replace(/\d+ h \d+ min/, Math.floor(left / 60) + " h " + (left % 60) + " min");
    });
  }
  setInterval(countdown, 30000);

  // An error summary takes focus so screen readers announce it.
  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.querySelector("[data-autofocus]");
    if (summary) summary.focus();
  });
})();

// The Activity page: new events arrive over Server-Sent Events as rendered rows.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var list = document.querySelector("[data-stream]");
    if (!list || !window.EventSource) return;
    var status = document.getElementById("live-status");
    var source = new EventSource(list.getAttribute("data-stream"));
    source.onopen = function () { if (status) status.textContent = "Live: new events appear as they happen."; };
    source.onerror = function () { if (status) status.textContent = "Reconnecting…"; };
    source.onmessage = function (e) {
      var empty = document.getElementById("activity-empty");
      if (empty) empty.remove();
      list.insertAdjacentHTML("afterbegin", e.data);
    };
  });
})();
