/* kbot widget: the one tag a clinic adds to its site.
 *
 *   <script src="https://kbot.example/widget.js" data-kbot-endpoint="https://kbot.example"
 *           data-kbot-title="Ask our health library" async></script>
 *
 * Optional attributes:
 *   data-kbot-color="#0b5fad"        accent colour; the text on it is black or white, whichever contrasts more
 *   data-kbot-position="left"        the launcher bottom left (default bottom right)
 *   data-kbot-starters="What is it used for?|What are the side effects?"   up to four starter questions
 *   data-kbot-api-key="..."          the clinic's key, when kbot's operator turned keys on
 *   data-kbot-kb="NAME"              the knowledge base to ask (lower-case letters, digits, - and _, up to 40;
 *                                    default: kbot's "default")
 *   data-kbot-help-lines='[{"name": "...", "action": "...", "phone": "...", "sms": "..."}]'
 *                                    the help lines shown when the chat can't open (a JSON list; default: the US
 *                                    lines, 988, 911 and Poison Control). phone and sms become tel: and sms: links
 *                                    when written with digits only (spaces, dashes, dots, brackets and a leading +
 *                                    allowed); an invalid or empty list falls back to the default, with a warning
 *   data-kbot-contact="https://clinic.example/contact"   the clinic's contact page (http or https only)
 *   data-kbot-z-index="2147483647"   the launcher's and panel's stacking order (an integer; default 2147483646, one
 *                                    below the maximum): raise it over a cookie banner, or lower it under the site's
 *                                    own dialogs
 *   data-kbot-offset="96 24"         the launcher's distance in px from the bottom and from the side (one number sets
 *                                    both; default 20): moves it clear of a banner or a "back to top" button
 *
 * Script API, for the clinic's own links and buttons ("Ask our assistant"):
 *   window.kbot.open()               opens the panel (as the launcher does)
 *   window.kbot.close()              closes it
 *   window.kbot.ask("question")      opens the panel and asks the question in it
 *
 * On a phone (the panel is full screen) the panel is modal: the page behind it does not scroll, and focus stays
 * inside the panel until it is closed.
 *
 * This script draws only the launcher button, inside a Shadow DOM so the page's CSS and kbot's never meet. The chat
 * itself is an iframe served from kbot's origin, so scripts on this page (analytics, session replay) cannot read what a
 * patient types. The two talk with postMessage, to kbot's exact origin only, and read only messages from that origin
 * and that frame. No other request is made.
 *
 * Fail-safe: until the panel says it is ready, this script shows its own small panel (a close button and "Opening the
 * chat"). If the panel has not said so within READY_TIMEOUT_MS, or says it failed, that small panel shows the help lines
 * and the contact link instead. They come from this tag, not from kbot's server, so a patient still gets them when
 * kbot is down or when this site's Content-Security-Policy (frame-src) or kbot's frame-ancestors blocks the panel.
 */
(function () {
  "use strict";

  const script = document.currentScript;
  if (!script || window.__kbotWidget || !("attachShadow" in Element.prototype)) return;
  window.__kbotWidget = true;

  const READY_TIMEOUT_MS = 4000;
  const OPEN_ICON = "M4 5h16v11H9l-5 4z";
  const CLOSE_ICON = "M6 6l12 12M18 6L6 18";
  const MAX_HELP_LINES = 6;
  const DEFAULT_HELP_LINES = [
    { name: "988 Suicide & Crisis Lifeline", action: "Call or text 988, any time, day or night", phone: "988", sms: "988" },
    {
      name: "Emergency services",
      action: "Call 911 for an emergency, or if someone is not breathing or will not wake up",
      phone: "911",
      sms: "",
    },
    { name: "Poison Control", action: "Call Poison Control at 1-800-222-1222", phone: "1-800-222-1222", sms: "" },
  ];

  /* ---- the tag's configuration, checked ------------------------------------------------------------------- */

  function warn(message) {
    if (window.console) console.warn("kbot widget: " + message);
  }

  function text(value, max) {
    return typeof value === "string" ? value.trim().slice(0, max) : "";
  }

  /* A number for a tel: or sms: link, made of its digits (and a leading +); "" unless written with digits only. */
  function dialable(value) {
    const number = text(value, 32);
    const digits = number.replace(/[^0-9]/g, "");
    if (!digits || !/^\+?[0-9 ().-]+$/.test(number)) return "";
    return (number.startsWith("+") ? "+" : "") + digits;
  }

  function helpLine(value) {
    if (!value || typeof value !== "object") return null;
    const line = { name: text(value.name, 120), action: text(value.action, 300) };
    if (!line.name && !line.action) return null;
    line.phone = text(value.phone, 32);
    line.sms = text(value.sms, 32);
    return line;
  }

  function parseHelpLines(raw) {
    if (raw === undefined) return DEFAULT_HELP_LINES;
    let lines = [];
    try {
      const parsed = JSON.parse(raw);
      if (Array.isArray(parsed)) lines = parsed.map(helpLine).filter(Boolean).slice(0, MAX_HELP_LINES);
    } catch (_) {
      lines = [];
    }
    if (lines.length) return lines;
    warn('data-kbot-help-lines must be a JSON list of {"name", "action", "phone", "sms"}; showing the default lines');
    return DEFAULT_HELP_LINES;
  }

  function httpUrl(raw) {
    if (!raw) return "";
    try {
      const url = new URL(raw, location.href);
      if (url.protocol === "https:" || url.protocol === "http:") return url.href;
    } catch (_) {
      // fall through to the warning
    }
    warn("data-kbot-contact must be an http(s) address; no contact link is shown");
    return "";
  }

  function kbName(raw) {
    if (!raw) return "";
    if (/^[a-z0-9][a-z0-9_-]{0,39}$/.test(raw)) return raw;
    warn("data-kbot-kb must be a knowledge base's name (lower-case letters, digits, - and _); asking the default one");
    return "";
  }

  function integerIn(raw, min, max, fallback, name) {
    if (raw === undefined || raw === "") return fallback;
    const value = Number(raw);
    if (Number.isInteger(value) && value >= min && value <= max) return value;
    warn(name + " must be a whole number from " + min + " to " + max + "; using " + fallback);
    return fallback;
  }

  /* "24" (bottom and side) or "96 24" (bottom, then side), in px, 0 to 2000. */
  function parseOffset(raw) {
    const match = /^\s*(\d{1,4})(?:px)?(?:\s+(\d{1,4})(?:px)?)?\s*$/.exec(raw || "");
    if (!match || Number(match[1]) > 2000 || Number(match[2] || 0) > 2000) {
      if (raw) warn('data-kbot-offset must be one or two numbers of px, "bottom side" (e.g. "96 24"); using 20');
      return { bottom: 20, side: 20 };
    }
    return { bottom: Number(match[1]), side: Number(match[2] === undefined ? match[1] : match[2]) };
  }

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
  const kb = kbName(data.kbotKb);
  const helpLines = parseHelpLines(data.kbotHelpLines);
  const contact = httpUrl(data.kbotContact);
  const zIndex = integerIn(data.kbotZIndex, 0, 2147483647, 2147483646, "data-kbot-z-index");
  const offset = parseOffset(data.kbotOffset);
  const PHONE = window.matchMedia("(max-width: 600px), (max-height: 500px)"); // the panel is full screen

  const CSS = `
    :host { all: initial; }
    *, *::before, *::after { box-sizing: border-box; }
    .launcher {
      position: fixed; bottom: var(--bottom); z-index: var(--z); display: inline-flex; align-items: center; gap: 8px;
      min-height: 48px; max-width: calc(100vw - 40px); padding: 0 20px 0 16px; border: 0; border-radius: 999px;
      background: var(--accent); color: var(--on-accent); box-shadow: 0 4px 14px rgba(0, 0, 0, 0.28);
      font: 600 16px/1.25 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
      cursor: pointer; text-align: left;
    }
    .launcher:hover { filter: brightness(1.08); }
    .launcher:focus-visible { outline: 3px solid #111; outline-offset: 3px; box-shadow: 0 0 0 6px #fff; }
    .launcher svg, .close svg { flex: none; }
    .panel {
      position: fixed; bottom: calc(var(--bottom) + 64px); z-index: var(--z-panel); width: min(400px, calc(100vw - 40px));
      height: min(660px, calc(100vh - var(--bottom) - 84px)); border-radius: 14px; overflow: hidden; background: #fff;
      box-shadow: 0 10px 40px rgba(0, 0, 0, 0.32);
    }
    .panel[hidden] { display: none; }
    .right { right: var(--side); } .left { left: var(--side); }
    iframe { display: block; width: 100%; height: 100%; border: 0; }
    .panel:not([data-state="chat"]) iframe { visibility: hidden; }
    .shell {
      position: absolute; inset: 0; display: flex; flex-direction: column; background: #fff; color: #1b1d21;
      font: 400 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
    }
    .panel[data-state="chat"] .shell { display: none; }
    .bar {
      display: flex; flex: none; align-items: center; justify-content: space-between; gap: 8px; min-height: 56px;
      padding: 6px 8px 6px 16px; background: var(--accent); color: var(--on-accent);
    }
    .bar-title { margin: 0; font-size: 18px; font-weight: 650; line-height: 1.3; }
    .close {
      display: inline-flex; flex: none; align-items: center; justify-content: center; width: 44px; height: 44px;
      border: 0; border-radius: 8px; background: transparent; color: inherit; cursor: pointer;
    }
    .close:hover { background: rgba(0, 0, 0, 0.12); }
    .close:focus-visible { outline: 3px solid currentColor; outline-offset: -5px; }
    .body { flex: 1 1 auto; min-height: 0; overflow-y: auto; padding: 16px; }
    .body p { margin: 0 0 4px; }
    .loading { color: #4a5059; }
    .panel:not([data-state="loading"]) .loading, .panel:not([data-state="fallback"]) .fallback { display: none; }
    .fallback-title { margin: 0 0 12px; color: #b3261e; font-size: 20px; line-height: 1.3; }
    .help { display: grid; gap: 14px; margin: 0 0 16px; padding: 0; list-style: none; }
    .help-name { font-size: 17px; font-weight: 700; line-height: 1.3; }
    .calls { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 6px !important; }
    .call {
      display: inline-flex; align-items: center; min-height: 44px; padding: 4px 16px; border: 2px solid #b3261e;
      border-radius: 8px; background: #b3261e; color: #fff; font-size: 17px; font-weight: 700; text-decoration: none;
    }
    .call.sms { background: #fff; color: #b3261e; }
    .note { color: #4a5059; }
    .contact a { display: inline-flex; align-items: center; min-height: 44px; color: #0a55a0; font-weight: 600; }
    .call:focus-visible, .contact a:focus-visible { outline: 3px solid #1b1d21; outline-offset: 3px; }
    .visually-hidden {
      position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden;
      clip: rect(0 0 0 0); white-space: nowrap; border: 0;
    }
    @media (max-width: 600px), (max-height: 500px) {
      .panel { inset: 0; width: 100%; height: 100%; border-radius: 0; }
    }
    @media (prefers-reduced-motion: no-preference) {
      .panel:not([hidden]) { animation: kbot-in 160ms ease-out; }
      @keyframes kbot-in { from { opacity: 0; transform: translateY(12px); } }
    }
    @media (forced-colors: active) {
      .call, .close { border: 1px solid CanvasText; }
    }`;

  /* ---- small DOM helpers: text only ever goes in through text nodes, never as markup ---------------------- */

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "className") node.className = value;
      else node.setAttribute(name, value);
    }
    for (const child of children) {
      if (child) node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function onAccent(hex) {
    const h = hex.length === 4 ? hex.replace(/[0-9a-f]/gi, "$&$&").slice(1) : hex.slice(1);
    const [r, g, b] = [0, 2, 4].map(function (i) {
      const c = parseInt(h.slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    const l = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    return 1.05 / (l + 0.05) >= (l + 0.05) / 0.05 ? "#ffffff" : "#111111";
  }

  function svgIcon(d) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    for (const [name, value] of [["viewBox", "0 0 24 24"], ["width", "24"], ["height", "24"], ["aria-hidden", "true"],
      ["focusable", "false"]]) svg.setAttribute(name, value);
    const path = document.createElementNS(ns, "path");
    for (const [name, value] of [["d", d], ["fill", "none"], ["stroke", "currentColor"], ["stroke-width", "2"],
      ["stroke-linecap", "round"], ["stroke-linejoin", "round"]]) path.setAttribute(name, value);
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
    if (kb) params.set("kb", kb);
    for (const q of starters) params.append("q", q);
    // The key travels in the fragment: never sent to a server, so it stays out of access logs.
    return endpoint + "/panel?" + params.toString() + (apiKey ? "#" + new URLSearchParams({ key: apiKey }) : "");
  }

  /* ---- the fail-safe panel: help lines and the clinic's contact page, with nothing needed from kbot -------- */

  function renderHelpLine(line) {
    const calls = el("p", { className: "calls" });
    const phone = dialable(line.phone);
    const sms = dialable(line.sms);
    if (phone) calls.append(el("a", { className: "call", href: "tel:" + phone }, "Call " + line.phone));
    if (sms) calls.append(el("a", { className: "call sms", href: "sms:" + sms }, "Text " + line.sms));
    return el("li", { className: "help-line" },
      el("p", { className: "help-name" }, line.name),
      el("p", { className: "help-action" }, line.action),
      calls.childNodes.length ? calls : null);
  }

  function renderFallback() {
    return el("div", { className: "fallback" },
      el("h2", { className: "fallback-title" }, "If you need help now"),
      el("ul", { className: "help" }, ...helpLines.map(renderHelpLine)),
      el("p", { className: "note" }, "The chat can't open right now. Please try again later."),
      contact ? el("p", { className: "contact" }, el("a", { href: contact }, "Contact the clinic")) : null);
  }

  /* ---- the launcher and the panel ------------------------------------------------------------------------- */

  const host = document.createElement("kbot-widget");
  const shadow = host.attachShadow({ mode: "open" });
  addStyles(shadow);
  const accent = colour || "#0b5fad";
  host.style.setProperty("--accent", accent);
  host.style.setProperty("--on-accent", onAccent(accent));
  host.style.setProperty("--z", String(zIndex));
  host.style.setProperty("--z-panel", String(Math.min(zIndex + 1, 2147483647)));
  host.style.setProperty("--bottom", offset.bottom + "px");
  host.style.setProperty("--side", offset.side + "px");

  const launcher = el("button", {
    type: "button", className: "launcher " + position, "aria-expanded": "false", "aria-controls": "kbot-panel",
  }, svgIcon(OPEN_ICON), el("span", {}, title));

  const closeButton = el("button", { type: "button", className: "close", "aria-label": "Close chat" },
    svgIcon("M6 6l12 12M18 6L6 18"));
  const announcer = el("div", { className: "visually-hidden", role: "status" });
  const fallback = renderFallback();
  const shell = el("div", { className: "shell" },
    el("div", { className: "bar" }, el("p", { className: "bar-title" }, title), closeButton),
    el("div", { className: "body" }, el("p", { className: "loading" }, "Opening the chat…"), fallback, announcer));
  const panel = el("div", {
    id: "kbot-panel", className: "panel " + position, role: "dialog", "aria-label": title, "data-state": "loading",
  }, shell);
  panel.hidden = true;
  shadow.append(launcher, panel);

  let frame = null;
  let ready = false;
  let timer = 0;

  let pendingQuestion = ""; // window.kbot.ask() before the panel is ready

  function post(type, extra) {
    if (frame && frame.contentWindow && ready) {
      frame.contentWindow.postMessage(Object.assign({ kbot: 1, type }, extra || {}), kbotOrigin);
    }
  }

  function openInFrame() {
    frame.focus();
    post("open", { modal: PHONE.matches });
    if (pendingQuestion) post("ask", { question: pendingQuestion });
    pendingQuestion = "";
  }

  /* (Re)loads the panel, and shows the help lines if it has not said it is ready in time. */
  function loadFrame() {
    if (!frame) {
      frame = el("iframe", { title, referrerpolicy: "no-referrer" });
      panel.append(frame);
    }
    frame.src = panelUrl();
    window.clearTimeout(timer);
    timer = window.setTimeout(function () {
      showFallback("timeout");
    }, READY_TIMEOUT_MS);
  }

  function showFallback(reason) {
    window.clearTimeout(timer);
    if (ready || panel.dataset.state === "fallback") return;
    panel.dataset.state = "fallback";
    fallback.dataset.reason = reason;
    announcer.textContent = "The chat can't open right now. Help lines are shown instead.";
  }

  function showChat() {
    window.clearTimeout(timer);
    ready = true;
    panel.dataset.state = "chat";
    if (!panel.hidden) openInFrame();
  }

  function open() {
    const wasHidden = panel.hidden;
    panel.hidden = false;
    setLauncher(true);
    if (wasHidden) holdPage(PHONE.matches);
    if (ready) {
      openInFrame();
      return;
    }
    if (!frame || panel.dataset.state === "fallback") loadFrame(); // after a failure: try again, help lines stay
    closeButton.focus();
  }

  function close() {
    if (panel.hidden) return;
    panel.hidden = true;
    setLauncher(false);
    holdPage(false);
    launcher.focus();
  }

  /* While the panel is open the launcher is its close control (an X, "Close chat"). */
  function setLauncher(isOpen) {
    launcher.setAttribute("aria-expanded", String(isOpen));
    launcher.replaceChildren(svgIcon(isOpen ? CLOSE_ICON : OPEN_ICON), el("span", {}, isOpen ? "Close chat" : title));
  }

  /* On a phone the open panel is modal: the page behind neither scrolls nor takes focus (inert) until it closes. */
  const held = [];
  function holdPage(hold) {
    if (hold && !held.length) {
      held.push([document.documentElement, document.documentElement.style.overflow]);
      held.push([document.body, document.body.style.overflow]);
      for (const [node] of held) node.style.overflow = "hidden";
      for (const child of document.body.children) {
        if (child !== host && !child.inert) {
          child.inert = true;
          held.push([child, null]);
        }
      }
    } else if (!hold) {
      for (const [node, overflow] of held.splice(0)) {
        if (overflow === null) node.inert = false;
        else node.style.overflow = overflow;
      }
    }
  }

  function ask(question) {
    const text = typeof question === "string" ? question.trim().slice(0, 2000) : "";
    if (text) pendingQuestion = text;
    open(); // asks once the panel is ready (now, if it already is)
  }

  if (!window.kbot) {
    window.kbot = Object.freeze({ open, close, ask });
  }

  launcher.addEventListener("click", function () {
    if (panel.hidden) open();
    else close();
  });
  closeButton.addEventListener("click", close);

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
    if (message.type === "ready") showChat();
    else if (message.type === "error") showFallback("error");
    else if (message.type === "close" && !panel.hidden) close();
  });

  function mount() {
    document.body.append(host);
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
