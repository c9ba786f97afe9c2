/* The member portal inside a partner's frame (docs/portal.md "Embedding by iframe").
 * Posts its height and its events only to the partner's registered origins (data-parent-origins), and
 * takes a theme colour only from them. No framework, no third-party code. */
(function () {
  "use strict";
  var root = document.getElementById("portal");
  if (!root) { return; }

  /* Keep an open page signed in: rotate the session before the access token expires (double-submit CSRF). */
  var refreshAfter = Number(root.getAttribute("data-refresh-after") || 0);
  function csrfToken() {
    var found = document.cookie.split("; ").filter(function (c) { return c.indexOf("__Host-ledger_csrf=") === 0; })[0];
    return found ? found.slice("__Host-ledger_csrf=".length) : "";
  }
  function refresh() {
    fetch("/portal/session/refresh", { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrfToken() } })
      .then(function (answer) { if (answer.ok) { window.setTimeout(refresh, refreshAfter * 1000); } });
  }
  if (refreshAfter > 0) { window.setTimeout(refresh, refreshAfter * 1000); }

  if (window.parent === window) { return; }
  var allowed = [];
  try { allowed = JSON.parse(root.getAttribute("data-parent-origins") || "[]"); } catch (e) { allowed = []; }
  var ancestors = window.location.ancestorOrigins;
  var parentOrigin = ancestors && ancestors.length ? ancestors[0] : null;
  var targets = parentOrigin !== null ? allowed.filter(function (o) { return o === parentOrigin; }) : allowed;

  function post(message) {
    targets.forEach(function (origin) { window.parent.postMessage(message, origin); });
  }

  function luminance(hex) {
    var rgb = [1, 3, 5].map(function (i) {
      var c = parseInt(hex.slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];
  }

  /* WCAG 2.1 SC 1.4.3: the colour is used as a background under white text and as link text on white. */
  function readableOnWhite(hex) { return (1.05) / (luminance(hex) + 0.05) >= 4.5; }

  window.addEventListener("message", function (event) {
    if (allowed.indexOf(event.origin) === -1 || !event.data || event.data.type !== "fairunderwriting:theme") { return; }
    var colour = String(event.data.primaryColor || "");
    if (/^#[0-9a-fA-F]{6}$/.test(colour) && readableOnWhite(colour)) {
      document.documentElement.style.setProperty("--pq-primary", colour);
    }
  });

  var lastHeight = 0;
  function sendHeight() {
    var height = Math.ceil(document.body.scrollHeight);
    if (height !== lastHeight) {
      lastHeight = height;
      post({ type: "fairunderwriting:resize", height: height });
    }
  }
  if (typeof ResizeObserver === "function") { new ResizeObserver(sendHeight).observe(document.body); }
  window.addEventListener("load", sendHeight);
  sendHeight();

  var done = new URLSearchParams(window.location.search).get("done");
  var error = document.getElementById("portal-error");
  post({ type: "fairunderwriting:ready", page: window.location.pathname });
  if (done) { post({ type: "fairunderwriting:" + done }); }
  if (error) { post({ type: "fairunderwriting:error", message: error.textContent.trim() }); }
}());
