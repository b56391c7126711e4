// Small helpers for the web app's pages (served from /static: the CSP allows no inline script).
(function () {
  "use strict";

  // Family and story pages: hovering an article in the tree or the timeline highlights it in both.
  function mark(id, on) {
    document.querySelectorAll("[data-id]").forEach(function (el) {
      if (el.getAttribute("data-id") === id) { el.classList.toggle("wt-hl", on); }
    });
  }
  document.querySelectorAll(".wt-node[data-id], .wt-tl-row[data-id]").forEach(function (el) {
    var id = el.getAttribute("data-id");
    el.addEventListener("mouseover", function (e) { e.stopPropagation(); mark(id, true); });
    el.addEventListener("mouseout", function (e) { e.stopPropagation(); mark(id, false); });
  });
  document.querySelectorAll(".wt-tl-row[data-id]").forEach(function (row) {
    row.addEventListener("click", function () {
      var item = document.querySelector(".wt-node[data-id='" + CSS.escape(row.getAttribute("data-id")) + "']");
      if (item) { item.scrollIntoView({ block: "center", behavior: "smooth" }); }
    });
  });

  // Pair page: a sentence id in the verdict box (a left-out or changed-fact sentence) also brings
  // its column into the window; pair.js scrolls the column itself to the sentence.
  document.querySelectorAll(".wt-verdict a.wt-ref").forEach(function (a) {
    a.addEventListener("click", function () {
      var target = document.getElementById(a.getAttribute("href").slice(1));
      var pane = target && target.closest(".wt-pane");
      if (!pane) { return; }
      var box = pane.getBoundingClientRect();
      if (box.top < 0 || box.bottom > window.innerHeight) { pane.scrollIntoView({ block: "nearest" }); }
    });
  });

  // Compare form: show each text's size against the limit before it is sent.
  document.querySelectorAll("textarea[data-limit]").forEach(function (area) {
    var limit = parseInt(area.getAttribute("data-limit"), 10);
    var out = document.querySelector(".wt-size[data-for='" + area.name + "']");
    function update() {
      var bytes = new TextEncoder().encode(area.value).length;
      if (out) {
        out.textContent = bytes ? Math.ceil(bytes / 1000) + " kB of " + Math.floor(limit / 1000) + " kB" : "";
        out.classList.toggle("wt-over", bytes > limit);
      }
    }
    area.addEventListener("input", update);
    update();
  });
})();
