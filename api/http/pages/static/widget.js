/* Fair Underwriting portal widget (seed 001 §5.3; docs/portal.md "The widget").
 *
 *   FairUnderwriting.init({partnerId, container, ssoToken, theme: {primaryColor}})
 *
 * Mounts the member portal inside a shadow root on the partner's page: the shadow root holds one frame of
 * the portal (same pages, same CSP, same session cookies as the iframe embed), so no style crosses either
 * way. The container receives DOM CustomEvents (bubbling, composed): fairunderwriting:ready,
 * fairunderwriting:enrolled, fairunderwriting:subscribed, fairunderwriting:cancelled, fairunderwriting:resize and
 * fairunderwriting:error. Messages are accepted only from the app's origin and
 * from the widget's own frame. No dependency, no third-party request. */
(function () {
  "use strict";
  var script = document.currentScript;
  var appOrigin = new URL(script ? script.src : window.location.href).origin;
  var SANDBOX = "allow-scripts allow-same-origin allow-forms";

  function emit(container, name, detail) {
    container.dispatchEvent(new CustomEvent("fairunderwriting:" + name, { detail: detail || {}, bubbles: true, composed: true }));
  }

  function resolve(container) {
    var element = typeof container === "string" ? document.querySelector(container) : container;
    if (!element || typeof element.attachShadow !== "function") { throw new Error("FairUnderwriting: container not found"); }
    return element;
  }

  function mount(container, config, options) {
    var shadow = container.shadowRoot || container.attachShadow({ mode: "open" });
    while (shadow.firstChild) { shadow.removeChild(shadow.firstChild); }
    var frame = document.createElement("iframe");
    frame.setAttribute("sandbox", SANDBOX);
    frame.setAttribute("title", config.displayName + ": genetic testing benefit");
    frame.setAttribute("loading", "eager");
    frame.style.border = "0";
    frame.style.width = "100%";
    frame.style.display = "block";
    frame.style.height = "600px";
    var src = new URL(config.framePath, appOrigin);
    if (options.ssoToken) { src.searchParams.set("sso_token", options.ssoToken); }
    frame.src = src.toString();
    window.addEventListener("message", function (event) {
      if (event.origin !== appOrigin || event.source !== frame.contentWindow || !event.data) { return; }
      var type = String(event.data.type || "");
      if (type.indexOf("fairunderwriting:") !== 0) { return; }
      var name = type.slice("fairunderwriting:".length);
      if (name === "resize") {
        frame.style.height = Math.max(0, Number(event.data.height) || 0) + "px";
      } else if (name === "ready" && options.theme && options.theme.primaryColor) {
        frame.contentWindow.postMessage({ type: "fairunderwriting:theme", primaryColor: options.theme.primaryColor }, appOrigin);
      }
      emit(container, name, event.data);
    });
    shadow.appendChild(frame);
    return frame;
  }

  function init(options) {
    var container = resolve(options.container);
    var url = appOrigin + "/embed/" + encodeURIComponent(options.partnerId) + "/widget.json";
    return fetch(url, { mode: "cors", credentials: "omit" })
      .then(function (answer) {
        if (!answer.ok) { throw new Error("the portal answered " + answer.status); }
        return answer.json();
      })
      .then(function (config) { return mount(container, config, options); })
      .catch(function (error) {
        emit(container, "error", { message: "The portal cannot be shown on this page (" + error.message + ")." });
        throw error;
      });
  }

  window.FairUnderwriting = { init: init, version: "1" };
}());
