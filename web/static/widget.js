/* kbot widget: the one tag a clinic adds to its site.
 *
 *   <script src="https://kbot.example/widget.js" data-kbot-endpoint="https://kbot.example"
 *           data-kbot-title="Ask our health library" async></script>
 *
 * Optional: data-kbot-color="#0b5fad" (accent; text on it is picked for contrast), data-kbot-position="left",
 * data-kbot-starters="What is it used for?|What are the side effects?", data-kbot-api-key="...".
 *
 * This script draws only the launcher button, inside a Shadow DOM so the page's CSS and kbot's never meet. The chat
 * itself is an iframe served from kbot's origin, so scripts on this page (analytics, session replay) cannot read what a
 * patient types. The two talk with postMessage, to kbot's exact origin only, and read only messages from that origin
 * and that frame. No other request is made.
 */
(function () {
  "use strict";

  const script = document.currentScript;
  if (!script || window.__kbotWidget || !("attachShadow" in Element.prototype)) return;
  window.__kbotWidget = true;

  const data = script.dataset;
  const endpoint = (data.kbotEndpoint || script.src.replace(/\/widget\.js(?:[?#].*)?$/, "")).replace(/\/+$/, "");
  let kbotOrigin;
  try {
    kbotOrigin = new URL(endpoint, location.href).origin;
  } catch (_) {
    return;
  }
  const title = (data.kbotTitle || "Ask a question").trim().slice(0, 80);
  const colour = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i.test(data.kbotColor || "") ? data.kbotColor : "";
  const position = data.kbotPosition === "left" ? "left" : "right";
  const starters = (data.kbotStarters || "").split("|").map(function (s) { return s.trim(); }).filter(Boolean).slice(0, 4);
  const apiKey = data.kbotApiKey || "";

  const CSS = `
    :host { all: initial; }
    .launcher {
      position: fixed; bottom: 20px; z-index: 2147483646; display: inline-flex; align-items: center; gap: 8px;
      min-height: 48px; max-width: calc(100vw - 40px); padding: 0 20px 0 16px; border: 0; border-radius: 999px;
      background: var(--accent); color: var(--on-accent); box-shadow: 0 4px 14px rgba(0, 0, 0, 0.28);
      font: 600 16px/1.25 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
      cursor: pointer; text-align: left;
    }
    .launcher:hover { filter: brightness(1.08); }
    .launcher:focus-visible { outline: 3px solid #111; outline-offset: 3px; box-shadow: 0 0 0 6px #fff; }
    .launcher svg { flex: none; }
    .panel {
      position: fixed; bottom: 84px; z-index: 2147483647; width: min(400px, calc(100vw - 40px));
      height: min(660px, calc(100vh - 104px)); border-radius: 14px; overflow: hidden; background: #fff;
      box-shadow: 0 10px 40px rgba(0, 0, 0, 0.32);
    }
    .panel[hidden] { display: none; }
    .right { right: 20px; } .left { left: 20px; }
    iframe { display: block; width: 100%; height: 100%; border: 0; }
    @media (max-width: 600px), (max-height: 500px) {
      .panel { inset: 0; width: 100%; height: 100%; border-radius: 0; }
    }
    @media (prefers-reduced-motion: no-preference) {
      .panel:not([hidden]) { animation: kbot-in 160ms ease-out; }
      @keyframes kbot-in { from { opacity: 0; transform: translateY(12px); } }
    }`;

  function onAccent(hex) {
    const h = hex.length === 4 ? hex.replace(/[0-9a-f]/gi, "$&$&").slice(1) : hex.slice(1);
    const [r, g, b] = [0, 2, 4].map(function (i) {
      const c = parseInt(h.slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    const l = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    return 1.05 / (l + 0.05) >= (l + 0.05) / 0.05 ? "#ffffff" : "#111111";
  }

  function svgIcon() {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "24");
    svg.setAttribute("height", "24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M4 5h16v11H9l-5 4z");
    path.setAttribute("fill", "none");
    path.setAttribute("stroke", "currentColor");
    path.setAttribute("stroke-width", "2");
    path.setAttribute("stroke-linejoin", "round");
    svg.append(path);
    return svg;
  }

  function addStyles(shadow) {
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      shadow.adoptedStyleSheets = [sheet];
    } catch (_) {
      const style = document.createElement("style");
      style.textContent = CSS;
      shadow.append(style);
    }
  }

  function panelUrl() {
    const params = new URLSearchParams({ host: location.origin, title });
    if (colour) params.set("color", colour);
    for (const q of starters) params.append("q", q);
    // The key travels in the fragment: never sent to a server, so it stays out of access logs.
    return endpoint + "/panel?" + params.toString() + (apiKey ? "#" + new URLSearchParams({ key: apiKey }) : "");
  }

  const host = document.createElement("kbot-widget");
  const shadow = host.attachShadow({ mode: "open" });
  addStyles(shadow);
  const accent = colour || "#0b5fad";
  host.style.setProperty("--accent", accent);
  host.style.setProperty("--on-accent", onAccent(accent));

  const launcher = document.createElement("button");
  launcher.type = "button";
  launcher.className = "launcher " + position;
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "kbot-panel");
  const label = document.createElement("span");
  label.textContent = title;
  launcher.append(svgIcon(), label);

  const panel = document.createElement("div");
  panel.id = "kbot-panel";
  panel.className = "panel " + position;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", title);
  panel.hidden = true;
  shadow.append(launcher, panel);

  let frame = null;
  let ready = false;

  function post(type) {
    if (frame && frame.contentWindow && ready) frame.contentWindow.postMessage({ kbot: 1, type }, kbotOrigin);
  }

  function open() {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    if (!frame) {
      frame = document.createElement("iframe");
      frame.title = title;
      frame.referrerPolicy = "no-referrer";
      frame.src = panelUrl();
      panel.append(frame);
    }
    frame.focus();
    post("open");
  }

  function close() {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }

  launcher.addEventListener("click", function () {
    if (panel.hidden) open();
    else close();
  });

  host.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !panel.hidden) {
      event.preventDefault();
      close();
    }
  });

  window.addEventListener("message", function (event) {
    if (event.origin !== kbotOrigin || !frame || event.source !== frame.contentWindow) return;
    const message = event.data;
    if (!message || message.kbot !== 1) return;
    if (message.type === "ready") {
      ready = true;
      if (!panel.hidden) {
        frame.focus();
        post("open");
      }
    } else if (message.type === "close" && !panel.hidden) {
      close();
    }
  });

  function mount() {
    document.body.append(host);
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
