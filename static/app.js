// Skalin's small amount of JavaScript: no framework, htmx does the rest.
(function () {
  "use strict";
  var loadedVersion = (document.querySelector('meta[name="skalin-version"]') || {}).content || "";

  function showNewVersion(version) {
    if (!loadedVersion || !version || version === loadedVersion) return;
    var banner = document.getElementById("new-version");
    if (banner) banner.hidden = false;
  }

  // Every htmx response carries the server's version: a deploy is noticed at the next click.
  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail && event.detail.xhr;
    if (xhr) showNewVersion(xhr.getResponseHeader("X-Skalin-Version"));
  });

  function checkVersion() {
    if (document.hidden) return;
    fetch("/version/", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) showNewVersion(data.version); })
      .catch(function () {});
  }
  setInterval(checkVersion, 5 * 60 * 1000);
  document.addEventListener("visibilitychange", checkVersion);

  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-reload]");
    if (target) { window.location.reload(); return; }
    var confirmer = event.target.closest("[data-confirm]");
    if (confirmer && !window.confirm(confirmer.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopImmediatePropagation();
      return;
    }
    var closer = event.target.closest("[data-close-drawer]");
    if (closer) {
      event.preventDefault();
      var drawer = document.getElementById("drawer");
      if (drawer) drawer.innerHTML = "";
    }
  }, true);

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      var drawer = document.getElementById("drawer");
      if (drawer) drawer.innerHTML = "";
    }
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-autosubmit]")) event.target.form.requestSubmit();
  });
})();
