// The header search: arrow keys move between the live results, Escape closes them. No inline script
// (CSP): this file is loaded with <script src> and reads data attributes only.
(function () {
  "use strict";
  function panel() { return document.getElementById("search-panel"); }
  function input() { return document.getElementById("header-search"); }
  function links() {
    var p = panel();
    return p ? Array.prototype.slice.call(p.querySelectorAll("[data-search-result]")) : [];
  }
  function close() {
    var p = panel();
    if (p) { p.innerHTML = ""; }
    var i = input();
    if (i) { i.setAttribute("aria-expanded", "false"); }
  }
  document.addEventListener("keydown", function (event) {
    var i = input();
    if (!i) { return; }
    var items = links();
    var inSearch = event.target === i || items.indexOf(event.target) !== -1;
    if (!inSearch) { return; }
    var index = items.indexOf(event.target);
    if (event.key === "ArrowDown" && items.length) {
      event.preventDefault();
      items[Math.min(index + 1, items.length - 1)].focus();
    } else if (event.key === "ArrowUp" && index !== -1) {
      event.preventDefault();
      if (index === 0) { i.focus(); } else { items[index - 1].focus(); }
    } else if (event.key === "Escape") {
      close();
      i.focus();
    }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var p = panel();
    if (p && event.target === p) {
      var i = input();
      if (i) { i.setAttribute("aria-expanded", p.textContent.trim() ? "true" : "false"); }
    }
  });
  document.addEventListener("click", function (event) {
    var p = panel();
    var i = input();
    if (p && i && !p.contains(event.target) && event.target !== i) { close(); }
  });
})();
