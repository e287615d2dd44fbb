/* kbot chat: the conversation, shared by the chat page (data-mode="page") and the widget's panel (data-mode="panel").
 *
 * Safety rule: text from the API or the patient reaches the page only through textContent and DOM nodes, never
 * innerHTML. Links from the API are kept only when they are http(s).
 * Privacy rule: in panel mode, messages go only to the embedding page's exact origin (data-host), and only messages
 * from that origin and from the parent window are read. The conversation itself never leaves this frame.
 * Fail-safe rule: when the API fails (down, unreachable, 5xx, 429, any error), the reply shows the help lines
 * (data-help-lines, put in the page by kbot's server) before the error text. In panel mode, a script error before the
 * panel is ready is reported to the widget ("error"), which then shows its own help lines instead of the panel.
 * Memory rule: the conversation (questions and the answers as the API sent them) is kept in this tab's
 * sessionStorage only, so it survives a reload and a move to another page of the same site; "Clear conversation"
 * and closing the tab forget it. Nothing of it is sent anywhere.
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
  const urgentAnnouncer = root.querySelector(".kbot-announcer-urgent");
  const form = root.querySelector(".kbot-form");
  const input = root.querySelector(".kbot-input");
  const counter = root.querySelector(".kbot-counter");
  const clearButton = root.querySelector(".kbot-clear");
  const maxChars = Number(input.dataset.maxChars) || 1000;
  const STORAGE_KEY = "kbot-conversation:" + (kb || "default");
  const MAX_KEPT_TURNS = 30;
  let conversation = loadHistory(); // [{question, answer}], as kept in sessionStorage
  let modal = false; // the widget's panel is full screen (a phone): Tab stays inside it
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

  /* Polite for answers; assertive (interrupting) for a crisis reply's help lines. */
  function announce(text, urgent) {
    const region = urgent ? urgentAnnouncer : announcer;
    (urgent ? announcer : urgentAnnouncer).textContent = "";
    region.textContent = "";
    window.setTimeout(function () {
      region.textContent = text;
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
    if (question.length > maxChars) {
      input.value = question;
      updateCounter();
      announce(counter.textContent);
      return;
    }
    send(question, addTurn(question));
  }

  function addTurn(question) {
    starters.hidden = true;
    clearButton.hidden = false;
    turns += 1;
    const turn = el("li", { className: "kbot-turn", "data-turn": turns },
      el("p", { className: "kbot-question" }, el("span", { className: "visually-hidden" }, "You asked: "), question));
    messages.append(turn);
    return turn;
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
      remember(question, answer);
      const feedback = renderFeedback(answer, Number(turn.dataset.turn));
      if (feedback) turn.append(feedback);
      announce(spoken(answer), answer.status === "crisis");
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

  /* What a screen reader hears: the answer's own words (the quotes, or kbot's message), not the sources and the
   * notice every time; for a crisis, the help lines first. */
  function spoken(answer) {
    if (answer.status === "crisis") {
      const actions = (answer.resources || []).map(function (r) { return String(r.action || r.name || ""); });
      return "Help is available right now. " + actions.join(". ") + ". " + String(answer.message || "");
    }
    if (answer.status === "answered") {
      const quotes = (answer.quotes || []).map(function (q) { return String(q.text || ""); });
      return "kbot answered with " + (quotes.length === 1 ? "a quote" : quotes.length + " quotes") + ". " + quotes.join(" ");
    }
    return String(answer.message || "kbot has no quote for that.");
  }

  /* ---- the conversation kept for this browser tab --------------------------------------------------------- */

  function loadHistory() {
    try {
      const kept = JSON.parse(window.sessionStorage.getItem(STORAGE_KEY) || "[]");
      return Array.isArray(kept) ? kept.filter(function (t) { return t && typeof t.question === "string" && t.answer; }) : [];
    } catch (_) {
      return []; // storage blocked or damaged: start afresh
    }
  }

  function saveHistory() {
    try {
      if (conversation.length) window.sessionStorage.setItem(STORAGE_KEY, JSON.stringify(conversation));
      else window.sessionStorage.removeItem(STORAGE_KEY);
    } catch (_) {
      // storage full or blocked: the conversation simply is not kept
    }
  }

  function remember(question, answer) {
    conversation = conversation.concat([{ question, answer }]).slice(-MAX_KEPT_TURNS);
    saveHistory();
  }

  function restore() {
    for (const kept of conversation) {
      const turn = addTurn(kept.question);
      turn.append(renderReply(kept.answer, Number(turn.dataset.turn)));
    }
    if (conversation.length) log.scrollTop = log.scrollHeight;
  }

  function clearConversation() {
    conversation = [];
    saveHistory();
    messages.replaceChildren();
    starters.hidden = false;
    clearButton.hidden = true;
    input.focus();
    announce("Conversation cleared.");
  }

  /* ---- the question box: grows with its text, counts down near the limit ------------------------------- */

  function updateCounter() {
    const left = maxChars - input.value.length;
    const near = left <= Math.max(50, Math.round(maxChars * 0.2));
    counter.textContent = !near ? "" : left >= 0
      ? left + (left === 1 ? " character" : " characters") + " left"
      : -left + (left === -1 ? " character" : " characters") + " too many: please shorten your question";
    counter.classList.toggle("kbot-counter--over", left < 0);
    input.setAttribute("aria-invalid", left < 0 ? "true" : "false");
  }

  function grow() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 2, 160) + "px";
    updateCounter();
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
    if (answer.contact) article.append(renderContact(answer.contact));
    questionChips(article, answer.suggestions, "Questions these articles answer:", "kbot-suggest-" + turnId);
  }

  /* Questions the articles answer, as buttons that ask them: after a no-answer, and as follow-ups after an answer. */
  function questionChips(article, questions, label, labelId) {
    const list = (questions || []).map(String).filter(Boolean);
    if (!list.length) return;
    article.append(el("p", { className: "kbot-suggest-label", id: labelId }, label));
    article.append(el("ul", { className: "kbot-chips", "aria-labelledby": labelId },
      ...list.map(function (q) {
        return el("li", {}, el("button", { type: "button", className: "kbot-chip", "data-question": q }, q));
      })));
  }

  /* The clinic's own contact (its knowledge base's kb.toml), for questions about appointments, hours and prices. */
  function renderContact(contact) {
    const phone = String(contact.phone || "");
    const digits = phone.replace(/[^0-9+]/g, "");
    const url = safeHttpUrl(contact.url);
    const links = el("p", { className: "kbot-contact-links" },
      digits ? el("a", { className: "kbot-contact-link", href: "tel:" + digits }, "Call " + phone) : null,
      url ? el("a", { className: "kbot-contact-link", href: url, target: "_blank", rel: "noopener noreferrer" },
        "Contact the clinic", el("span", { className: "visually-hidden" }, " (opens in a new tab)")) : null);
    return el("div", { className: "kbot-contact" },
      contact.text ? el("p", {}, String(contact.text)) : null, links.childNodes.length ? links : null);
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
      const [words, definitions] = withTerms(String(quote.text || ""), answer.glossary, "kbot-term-" + turnId + "-" + i);
      const figure = el("figure", { className: "kbot-quote" },
        el("blockquote", { className: "kbot-blockquote" }, words), ...definitions, caption, context);
      figure.querySelector(".kbot-context-btn").addEventListener("click", function (event) {
        toggleContext(event.currentTarget, context, quote);
      });
      article.append(figure);
    });
    if (sources.length) {
      article.append(heading(2, "Sources", "kbot-sources-title"));
      article.append(el("ol", { className: "kbot-sources" }, ...sources.map(function (s) {
        return renderSource(s, sourceAnchor(s.citation));
      })));
    }
    questionChips(article, answer.follow_ups, "You could also ask:", "kbot-follow-" + turnId);
  }

  /* The quote's text with each glossary term (defined elsewhere in the articles) as a button that shows, below the
   * quote, the sentence that defines it: a disclosure in the flow, so it never covers the quote or anything else. */
  function withTerms(text, glossary, idPrefix) {
    const found = [];
    (glossary || []).forEach(function (entry, n) {
      const term = String(entry.term || "");
      if (!term) return;
      const stem = term.endsWith("s") && term.length > 5 ? term.slice(0, -1) : term;
      const match = new RegExp("(^|[^\\w-])(" + stem.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + "s?)(?![\\w-])", "i").exec(text);
      if (!match) return;
      const start = match.index + match[1].length;
      const end = start + match[2].length;
      if (found.some(function (f) { return start < f.end && f.start < end; })) return;
      found.push({ start, end, entry, id: idPrefix + "-" + n });
    });
    found.sort(function (a, b) { return a.start - b.start; });
    const paragraph = el("p", {});
    const definitions = [];
    let at = 0;
    for (const f of found) {
      const box = el("div", { className: "kbot-definition", id: f.id, hidden: true },
        el("p", { className: "kbot-definition-label" }, "“" + f.entry.term + "”, as the articles define it:"),
        el("p", { className: "kbot-definition-text" }, String(f.entry.text || "")));
      const button = el("button", { type: "button", className: "kbot-term", "aria-expanded": "false", "aria-controls": f.id },
        text.slice(f.start, f.end));
      button.addEventListener("click", function () {
        const open = button.getAttribute("aria-expanded") !== "true";
        button.setAttribute("aria-expanded", String(open));
        box.hidden = !open;
      });
      paragraph.append(text.slice(at, f.start), button);
      definitions.push(box);
      at = f.end;
    }
    paragraph.append(text.slice(at));
    return [paragraph, definitions];
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

  /* A full-screen panel (a phone) is modal: Tab from its last control goes to its first, and back. */
  function keepFocusInside(event) {
    const focusable = [...root.querySelectorAll("button, a[href], textarea, [tabindex='0']")].filter(function (e) {
      return !e.disabled && !e.closest("[hidden]") && e.getClientRects().length > 0;
    });
    if (!focusable.length) return;
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    if (event.shiftKey && (document.activeElement === first || !root.contains(document.activeElement))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (document.activeElement === last || !root.contains(document.activeElement))) {
      event.preventDefault();
      first.focus();
    }
  }

  /* ---- feedback: "Was this helpful?", then the reasons (POST /v1/feedback) ------------------------------- */

  const FEEDBACK_REASONS = [
    ["did_not_answer", "It did not answer my question"],
    ["wrong_or_misleading", "It is wrong or misleading"],
    ["hard_to_understand", "It is hard to understand"],
    ["out_of_date", "It is out of date"],
    ["other", "Something else"],
  ];
  const MAX_COMMENT_CHARS = 500;

  /* Under each reply but a crisis one (no survey under help lines); after the reply, whose notice stays its end. */
  function renderFeedback(answer, turnId) {
    if (!answer.answer_id || answer.status === "crisis") return null;
    const id = "kbot-feedback-" + turnId;
    const box = el("section", { className: "kbot-feedback", "aria-labelledby": id + "-q" });
    const yes = el("button", { type: "button", className: "kbot-thumb", "data-helpful": "true" },
      el("span", { "aria-hidden": "true" }, "👍 "), "Yes");
    const no = el("button", { type: "button", className: "kbot-thumb", "data-helpful": "false" },
      el("span", { "aria-hidden": "true" }, "👎 "), "No");
    const status = el("p", { className: "kbot-feedback-status" }); // read out through the announcer
    box.append(el("p", { className: "kbot-feedback-q", id: id + "-q" }, "Was this helpful?"),
      el("div", { className: "kbot-thumbs", role: "group", "aria-labelledby": id + "-q" }, yes, no), status);
    yes.addEventListener("click", function () {
      sendFeedback(box, status, { answer_id: answer.answer_id, helpful: true });
    });
    no.addEventListener("click", function () {
      box.querySelector(".kbot-thumbs").remove();
      const form = reasonsForm(id, function (reason, comment) {
        const vote = { answer_id: answer.answer_id, helpful: false };
        if (reason) vote.reason = reason;
        if (comment) vote.comment = comment;
        sendFeedback(box, status, vote);
      });
      box.insertBefore(form, status);
      form.querySelector("input").focus();
    });
    return box;
  }

  function reasonsForm(id, submit) {
    const options = FEEDBACK_REASONS.map(function ([value, label]) {
      return el("label", { className: "kbot-reason" },
        el("input", { type: "radio", name: id + "-reason", value }), " " + label);
    });
    const comment = el("textarea", {
      id: id + "-comment", className: "kbot-feedback-comment", maxlength: MAX_COMMENT_CHARS, rows: 2,
      "aria-describedby": id + "-privacy",
    });
    const form = el("form", { className: "kbot-feedback-form" },
      el("fieldset", {}, el("legend", {}, "What was wrong with it? (optional)"), ...options),
      el("label", { for: id + "-comment" }, "Anything else? (optional, up to " + MAX_COMMENT_CHARS + " characters)"),
      el("p", { id: id + "-privacy", className: "kbot-feedback-privacy" },
        "Please do not include personal health details, names or contact information."),
      comment,
      el("button", { type: "submit", className: "kbot-feedback-send" }, "Send feedback"));
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const checked = form.querySelector("input[type=radio]:checked");
      submit(checked ? checked.value : "", comment.value.trim().slice(0, MAX_COMMENT_CHARS));
    });
    return form;
  }

  async function sendFeedback(box, status, vote) {
    const buttons = Array.from(box.querySelectorAll("button"));
    buttons.forEach(function (b) { b.disabled = true; });
    try {
      await request("/v1/feedback", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(vote),
      });
      Array.from(box.children).forEach(function (child) { if (child !== status) child.remove(); });
      status.textContent = "Thank you for your feedback.";
      announce(status.textContent);
    } catch (error) {
      buttons.forEach(function (b) { b.disabled = false; });
      status.textContent = "Your feedback could not be sent: " + error.message;
      announce(status.textContent);
    }
  }

  /* ---- wiring --------------------------------------------------------------------------------------------- */

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (busy || !input.value.trim()) return;
    if (input.value.trim().length > maxChars) {
      updateCounter();
      announce(counter.textContent);
      return;
    }
    const question = input.value;
    input.value = "";
    grow();
    ask(question);
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault(); // Enter sends; Shift+Enter makes a new line
      form.requestSubmit();
    }
  });
  input.addEventListener("input", grow);
  clearButton.addEventListener("click", clearConversation);

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
  restore();
  updateCounter();

  if (mode === "panel") {
    window.addEventListener("message", function (event) {
      if (!framed || event.origin !== hostOrigin || event.source !== window.parent) return;
      const data = event.data;
      if (!data || data.kbot !== 1) return;
      if (data.type === "open") {
        modal = data.modal === true;
        input.focus();
      } else if (data.type === "ask" && typeof data.question === "string") {
        ask(data.question.slice(0, maxChars * 2));
      }
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && framed) {
        event.preventDefault();
        toHost("close");
      } else if (event.key === "Tab" && modal) {
        keepFocusInside(event);
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
