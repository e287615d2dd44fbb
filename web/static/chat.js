/* kbot chat: the conversation, shared by the chat page (data-mode="page") and the widget's panel (data-mode="panel").
 *
 * Safety rule: text from the API or the patient reaches the page only through textContent and DOM nodes, never
 * innerHTML. Links from the API are kept only when they are http(s).
 * Privacy rule: in panel mode, messages go only to the embedding page's exact origin (data-host), and only messages
 * from that origin and from the parent window are read. The conversation itself never leaves this frame.
 * Fail-safe rule: when the API fails (down, unreachable, 5xx, 429, any error), the reply shows the help lines
 * (data-help-lines, put in the page by kbot's server) before the error text. In panel mode, a script error before the
 * panel is ready is reported to the widget ("error"), which then shows its own help lines instead of the panel.
 */
(function () {
  "use strict";

  const root = document.getElementById("kbot-chat");
  if (!root) return;

  const mode = root.dataset.mode === "panel" ? "panel" : "page";
  const apiBase = root.dataset.api || "";
  const hostOrigin = root.dataset.host || "";
  const level = Number(root.dataset.level) || 1;
  const kb = root.dataset.kb || ""; // the knowledge base to ask; "" is the server's default
  const configuredHelpLines = parseHelpLines(root.dataset.helpLines);
  const apiKey = new URLSearchParams(location.hash.slice(1)).get("key") || "";
  const REQUEST_TIMEOUT_MS = 30000;

  const log = root.querySelector(".kbot-log");
  const intro = root.querySelector(".kbot-intro");
  const starters = root.querySelector(".kbot-starters");
  const messages = root.querySelector(".kbot-messages");
  const announcer = root.querySelector(".kbot-announcer");
  const form = root.querySelector(".kbot-form");
  const input = root.querySelector(".kbot-input");
  const reduceMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
  const documents = new Map(); // source id -> Promise of GET /v1/sources/{id}
  let turns = 0;
  let busy = false;

  const framed = mode === "panel" && window.parent !== window && hostOrigin !== "";
  let started = false;
  function toHost(type) {
    if (framed) window.parent.postMessage({ kbot: 1, type }, hostOrigin);
  }
  window.addEventListener("error", function () {
    if (!started) toHost("error"); // the widget shows its own help lines instead of a panel that can't start
  });

  function parseHelpLines(raw) {
    try {
      const lines = JSON.parse(raw || "[]");
      return Array.isArray(lines) ? lines.filter(function (l) { return l && typeof l === "object"; }) : [];
    } catch (_) {
      return [];
    }
  }

  if (apiKey) history.replaceState(null, "", location.pathname + location.search); // keep the key out of the URL

  /* ---- small DOM helpers ---------------------------------------------------------------------------------- */

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === false || value === null || value === undefined) continue;
      if (name === "className") node.className = value;
      else if (name === "hidden") node.hidden = Boolean(value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function heading(offset, text, className) {
    return el("h" + Math.min(6, level + offset), { className }, text);
  }

  function safeHttpUrl(value) {
    try {
      const url = new URL(String(value));
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : "";
    } catch (_) {
      return "";
    }
  }

  function formatDate(iso) {
    const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(iso || ""));
    if (!match) return String(iso || "");
    const date = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
    return new Intl.DateTimeFormat("en", { dateStyle: "long", timeZone: "UTC" }).format(date);
  }

  function announce(text) {
    announcer.textContent = "";
    window.setTimeout(function () {
      announcer.textContent = text;
    }, 50);
  }

  function scrollToTurn(turn) {
    const offset = turn.getBoundingClientRect().top - log.getBoundingClientRect().top;
    log.scrollTo({ top: log.scrollTop + offset - 8, behavior: reduceMotion.matches ? "auto" : "smooth" });
  }

  /* ---- colours ------------------------------------------------------------------------------------------ */

  function luminance(hex) {
    const h = hex.length === 4 ? hex.replace(/[0-9a-f]/gi, "$&$&").slice(1) : hex.slice(1);
    const [r, g, b] = [0, 2, 4].map(function (i) {
      const c = parseInt(h.slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }

  function applyAccent(hex) {
    if (!/^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i.test(hex)) return;
    const l = luminance(hex);
    const onAccent = 1.05 / (l + 0.05) >= (l + 0.05) / 0.05 ? "#ffffff" : "#111111"; // whichever reads better
    document.documentElement.style.setProperty("--kbot-accent", hex);
    document.documentElement.style.setProperty("--kbot-on-accent", onAccent);
  }

  /* ---- the API -------------------------------------------------------------------------------------------- */

  class ChatError extends Error {
    constructor(message, retry) {
      super(message);
      this.retry = retry;
    }
  }

  async function request(path, options) {
    const headers = Object.assign({ Accept: "application/json" }, options.headers || {});
    if (apiKey) headers["X-API-Key"] = apiKey;
    const controller = new AbortController();
    const timer = window.setTimeout(function () {
      controller.abort();
    }, REQUEST_TIMEOUT_MS);
    let response;
    try {
      response = await fetch(apiBase + path, Object.assign({}, options, {
        headers, signal: controller.signal, credentials: "omit", cache: "no-store",
      }));
    } catch (_) {
      throw new ChatError("kbot can't be reached right now. Check your internet connection, then try again.", true);
    } finally {
      window.clearTimeout(timer);
    }
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (response.ok && body) return body;
    if (response.status === 429) {
      throw new ChatError("kbot is getting a lot of questions right now. Please wait a moment, then try again.", true);
    }
    if (response.status >= 500 || !body) {
      throw new ChatError("kbot ran into a problem and couldn't answer. Please try again in a moment.", true);
    }
    const message = body.error && typeof body.error.message === "string" ? body.error.message : "";
    throw new ChatError(message || "kbot couldn't take that question.", false);
  }

  function postQuestion(question) {
    return request("/v1/ask", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(kb ? { question, kb } : { question }),
    });
  }

  function getDocument(sourceId) {
    if (!documents.has(sourceId)) {
      const query = kb ? "?" + new URLSearchParams({ kb }) : "";
      const pending = request("/v1/sources/" + encodeURIComponent(sourceId) + query, { method: "GET" });
      pending.catch(function () {
        documents.delete(sourceId); // let the next click try again
      });
      documents.set(sourceId, pending);
    }
    return documents.get(sourceId);
  }

  /* ---- asking --------------------------------------------------------------------------------------------- */

  function ask(text) {
    const question = String(text || "").trim();
    if (!question || busy) return;
    starters.hidden = true;
    turns += 1;
    const turn = el("li", { className: "kbot-turn", "data-turn": turns },
      el("p", { className: "kbot-question" }, el("span", { className: "visually-hidden" }, "You asked: "), question));
    messages.append(turn);
    send(question, turn);
  }

  async function send(question, turn) {
    busy = true;
    root.setAttribute("aria-busy", "true");
    const typing = el("p", { className: "kbot-typing" },
      el("span", { className: "kbot-dots", "aria-hidden": "true" }, el("span"), el("span"), el("span")),
      "Looking through the articles…");
    turn.append(typing);
    scrollToTurn(turn);
    announce("Looking through the articles…");
    try {
      const answer = await postQuestion(question);
      typing.remove();
      turn.append(renderReply(answer, Number(turn.dataset.turn)));
      announce(spoken(answer));
    } catch (error) {
      typing.remove();
      turn.append(renderError(error, question, turn));
      announce(spokenError(error));
      if (!error.retry && !input.value) input.value = question;
    } finally {
      busy = false;
      root.removeAttribute("aria-busy");
      scrollToTurn(turn);
    }
  }

  function spoken(answer) {
    const lead = {
      answered: "kbot answered with quotes.",
      crisis: "Help is available right now.",
      no_answer: "kbot has no quote for that.",
      declined: "kbot can't answer that.",
    }[answer.status] || "kbot replied.";
    return lead + " " + String(answer.text || answer.message || "");
  }

  /* ---- rendering replies ---------------------------------------------------------------------------------- */

  function renderReply(answer, turnId) {
    const status = ["answered", "crisis", "no_answer", "declined"].includes(answer.status) ? answer.status : "no_answer";
    const labels = { answered: "kbot's answer", crisis: "Help is available", no_answer: "kbot's reply", declined: "kbot's reply" };
    const article = el("article", { className: "kbot-reply kbot-reply--" + status, "data-status": status },
      heading(1, labels[status], status === "crisis" ? "kbot-crisis-title" : "visually-hidden"));
    if (status === "crisis") renderCrisis(article, answer);
    else if (status === "answered") renderAnswered(article, answer, turnId);
    else renderNoAnswer(article, answer, turnId);
    article.append(el("p", { className: "kbot-notice" }, String(answer.notice || "")));
    return article;
  }

  function renderCrisis(article, answer) {
    article.append(helpLines(answer.resources, "kbot-help-lines"));
    if (answer.message) article.append(el("p", { className: "kbot-message" }, String(answer.message)));
  }

  /* The help lines as call and text links: first and large in a crisis reply, in a compact box beside an answer
   * about an emergency ("what should you do if someone is not breathing"), whose reader may be facing one. */
  function helpLines(resources, className) {
    const lines = el("ul", { className });
    for (const line of resources || []) {
      const actions = el("p", { className: "kbot-help-actions" });
      const phone = String(line.phone || "").replace(/[^0-9+]/g, "");
      const sms = String(line.sms || "").replace(/[^0-9+]/g, "");
      if (phone) actions.append(el("a", { className: "kbot-call", href: "tel:" + phone }, "Call " + line.phone));
      if (sms) actions.append(el("a", { className: "kbot-call kbot-call--sms", href: "sms:" + sms }, "Text " + line.sms));
      lines.append(el("li", { className: "kbot-help-line" },
        el("p", { className: "kbot-help-name" }, String(line.name || "")),
        el("p", { className: "kbot-help-action" }, String(line.action || "")),
        actions.childNodes.length ? actions : null));
    }
    return lines;
  }

  function helpBox(titleText, resources, id) {
    const title = heading(2, titleText, "kbot-danger-title");
    title.id = id;
    return el("section", { className: "kbot-danger", "aria-labelledby": id },
      title, helpLines(resources, "kbot-help-lines kbot-help-lines--compact"));
  }

  function renderHelpBox(article, answer, turnId) {
    if (!(answer.resources || []).length) return;
    article.append(helpBox("If someone is in danger now", answer.resources, "kbot-danger-" + turnId));
  }

  function renderNoAnswer(article, answer, turnId) {
    const fallback = "I couldn't find that in the articles I quote from.";
    if (answer.status === "no_answer") renderHelpBox(article, answer, turnId); // a declined reply stays as it is
    article.append(el("p", { className: "kbot-message" }, String(answer.message || fallback)));
    const suggestions = (answer.suggestions || []).map(String).filter(Boolean);
    if (suggestions.length) {
      const labelId = "kbot-suggest-" + turnId;
      article.append(el("p", { className: "kbot-suggest-label", id: labelId }, "Questions I can answer:"));
      article.append(el("ul", { className: "kbot-chips", "aria-labelledby": labelId },
        ...suggestions.map(function (q) {
          return el("li", {}, el("button", { type: "button", className: "kbot-chip", "data-question": q }, q));
        })));
    }
  }

  function renderAnswered(article, answer, turnId) {
    const sources = answer.sources || [];
    const byId = new Map(sources.map(function (s) { return [s.id, s]; }));
    const sourceAnchor = function (n) { return "kbot-source-" + turnId + "-" + n; };
    renderHelpBox(article, answer, turnId);
    (answer.quotes || []).forEach(function (quote, i) {
      const source = byId.get(quote.source_id) || {};
      const contextId = "kbot-context-" + turnId + "-" + i;
      const caption = el("figcaption", { className: "kbot-quote-caption" },
        el("a", { className: "kbot-cite", href: "#" + sourceAnchor(quote.citation), "data-target": sourceAnchor(quote.citation),
          "aria-label": "Source " + quote.citation + ": " + (source.publisher || "") }, "[" + quote.citation + "]"),
        el("span", { className: "kbot-quote-publisher" }, String(source.publisher || "")),
        alsoIn(quote, byId, sourceAnchor),
        el("button", { type: "button", className: "kbot-context-btn", "aria-expanded": "false", "aria-controls": contextId },
          "Show in context"),
        articleLink(quote));
      const context = el("div", { className: "kbot-context", id: contextId, hidden: true });
      const figure = el("figure", { className: "kbot-quote" },
        el("blockquote", { className: "kbot-blockquote" }, el("p", {}, String(quote.text || ""))), caption, context);
      figure.querySelector(".kbot-context-btn").addEventListener("click", function (event) {
        toggleContext(event.currentTarget, context, quote);
      });
      article.append(figure);
    });
    if (!sources.length) return;
    article.append(heading(2, "Sources", "kbot-sources-title"));
    article.append(el("ol", { className: "kbot-sources" }, ...sources.map(function (s) {
      return renderSource(s, sourceAnchor(s.citation));
    })));
  }

  // The article's own page, scrolled to the quote by a text fragment (the API's quote.link); none without a URL.
  function articleLink(quote) {
    const url = safeHttpUrl(quote.link);
    return url
      ? el("a", { className: "kbot-article-link", href: url, target: "_blank", rel: "noopener noreferrer" },
        "Read it in the article", el("span", { className: "visually-hidden" }, " (opens in a new tab)"))
      : null;
  }

  function alsoIn(quote, byId, sourceAnchor) {
    const others = (quote.also_in || []).map(function (id) { return byId.get(id); }).filter(Boolean);
    if (!others.length) return null;
    const span = el("span", { className: "kbot-also" }, "Also in ");
    others.forEach(function (s, i) {
      if (i) span.append(" ");
      span.append(el("a", { className: "kbot-cite", href: "#" + sourceAnchor(s.citation), "data-target": sourceAnchor(s.citation),
        "aria-label": "Source " + s.citation + ": " + (s.publisher || "") }, "[" + s.citation + "]"));
    });
    return span;
  }

  function renderSource(source, anchor) {
    const url = safeHttpUrl(source.url);
    const title = String(source.title || "Untitled");
    const item = el("li", { id: anchor, tabindex: "-1", value: source.citation, className: "kbot-source" },
      el("span", { className: "kbot-source-publisher" }, String(source.publisher || "")), ", ",
      url
        ? el("a", { className: "kbot-source-link", href: url, target: "_blank", rel: "noopener noreferrer" },
          title, el("span", { className: "visually-hidden" }, " (opens in a new tab)"))
        : el("cite", { className: "kbot-source-title" }, title));
    if (source.updated) {
      item.append(", updated ", el("time", { datetime: String(source.updated) }, formatDate(source.updated)));
    }
    return item;
  }

  async function toggleContext(button, context, quote) {
    if (button.getAttribute("aria-expanded") === "true") {
      button.setAttribute("aria-expanded", "false");
      button.textContent = "Show in context";
      context.hidden = true;
      return;
    }
    button.setAttribute("aria-expanded", "true");
    button.textContent = "Hide context";
    context.hidden = false;
    if (context.dataset.loaded) return;
    context.replaceChildren(el("p", { className: "kbot-context-status" }, "Loading the article…"));
    try {
      const doc = await getDocument(quote.source_id);
      context.replaceChildren(...renderContext(doc, quote));
      context.dataset.loaded = "1";
      const mark = context.querySelector("mark");
      if (mark) mark.scrollIntoView({ block: "nearest", behavior: reduceMotion.matches ? "auto" : "smooth" });
    } catch (error) {
      context.replaceChildren(el("p", { className: "kbot-context-status" },
        "The article couldn't be loaded. " + error.message));
      button.setAttribute("aria-expanded", "false");
      button.textContent = "Show in context";
    }
  }

  function renderContext(doc, quote) {
    const blocks = (doc.blocks || []).filter(function (b) { return b.start < quote.end && b.end > quote.start; });
    if (!blocks.length) return [el("p", {}, "This passage is no longer in the article.")];
    const nodes = [];
    if (blocks[0].section) nodes.push(el("p", { className: "kbot-context-section" }, "From the section “" + blocks[0].section + "”"));
    for (const block of blocks) {
      const text = String(block.text || "");
      const from = Math.max(0, quote.start - block.start);
      const to = Math.min(text.length, quote.end - block.start);
      nodes.push(el("p", { className: "kbot-context-text" },
        text.slice(0, from), el("mark", {}, text.slice(from, to)), text.slice(to)));
    }
    return nodes;
  }

  /* No answer came: the help lines first (the question may have been a crisis kbot never saw), then what went wrong. */
  function renderError(error, question, turn) {
    const box = el("div", { className: "kbot-error-box" }, el("p", { className: "kbot-error-text" }, error.message));
    const help = configuredHelpLines.length
      ? helpBox("If you need help now", configuredHelpLines, "kbot-error-help-" + turn.dataset.turn)
      : null;
    const reply = el("div", { className: "kbot-error" }, help, box);
    if (error.retry) {
      const retry = el("button", { type: "button", className: "kbot-retry" }, "Try again");
      retry.addEventListener("click", function () {
        if (busy) return;
        reply.remove();
        input.focus();
        send(question, turn);
      });
      box.append(retry);
    }
    return reply;
  }

  function spokenError(error) {
    const actions = configuredHelpLines.map(function (line) { return String(line.action || line.name || ""); });
    return (actions.length ? "If you need help now: " + actions.join(". ") + ". " : "") + error.message;
  }

  /* ---- wiring --------------------------------------------------------------------------------------------- */

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (busy || !input.value.trim()) return;
    const question = input.value;
    input.value = "";
    ask(question);
  });

  root.addEventListener("click", function (event) {
    const chip = event.target.closest(".kbot-chip");
    if (chip && root.contains(chip)) {
      ask(chip.dataset.question);
      input.focus();
      return;
    }
    const cite = event.target.closest(".kbot-cite");
    if (cite) {
      event.preventDefault(); // no fragment navigation: it would add entries to the host page's history
      const target = document.getElementById(cite.dataset.target);
      if (target) {
        target.focus({ preventScroll: true });
        target.scrollIntoView({ block: "nearest", behavior: reduceMotion.matches ? "auto" : "smooth" });
      }
    }
  });

  applyAccent(root.dataset.colour || "");

  if (mode === "panel") {
    window.addEventListener("message", function (event) {
      if (!framed || event.origin !== hostOrigin || event.source !== window.parent) return;
      const data = event.data;
      if (data && data.kbot === 1 && data.type === "open") input.focus();
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && framed) {
        event.preventDefault();
        toHost("close");
      }
    });
    const close = root.querySelector("[data-kbot-close]");
    if (close && framed) {
      close.hidden = false;
      close.addEventListener("click", function () {
        toHost("close");
      });
    }
    toHost("ready");
    started = true;
  }
})();
