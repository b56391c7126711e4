// Link each reused sentence to its counterparts: hover highlights both and scrolls the other
// column to the first counterpart; click (or Enter) pins the highlight; click again to release.
(function () {
  "use strict";
  var pinned = null;

  function counterparts(el) {
    return (el.getAttribute("data-links") || "").split(" ").filter(Boolean)
      .map(function (id) { return document.getElementById(id); }).filter(Boolean);
  }
  function clear() {
    document.querySelectorAll(".wt-hl").forEach(function (e) { e.classList.remove("wt-hl", "wt-hl-main"); });
  }
  function reveal(target) {
    var pane = target.closest(".wt-pane");
    if (pane) { pane.scrollTo({ top: target.offsetTop - pane.clientHeight / 3, behavior: "smooth" }); }
  }
  function show(el) {
    clear();
    el.classList.add("wt-hl", "wt-hl-main");
    var others = counterparts(el);
    others.forEach(function (o) { o.classList.add("wt-hl"); });
    if (others.length) { reveal(others[0]); }
  }
  function toggle(el) {
    if (pinned === el) { pinned = null; clear(); } else { pinned = el; show(el); }
  }

  document.querySelectorAll(".wt-sent[data-links]").forEach(function (el) {
    el.addEventListener("mouseenter", function () { if (!pinned) { show(el); } });
    el.addEventListener("mouseleave", function () { if (!pinned) { clear(); } });
    el.addEventListener("click", function () { toggle(el); });
    el.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); toggle(el); }
    });
  });
  document.querySelectorAll("a.wt-ref").forEach(function (a) {
    a.addEventListener("click", function (e) {
      var target = document.getElementById(a.getAttribute("href").slice(1));
      if (!target) { return; }
      e.preventDefault();
      reveal(target);
      pinned = target;
      show(target);
    });
  });
})();
