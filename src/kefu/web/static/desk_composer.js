// The workbench's composer: Enter sends; "/" and a short key finds a canned reply, whose
// {?提示} blanks (shown by the server as 【提示】) the agent fills before it goes into the box.
// Choosing a reply already sent in this conversation shows a warning.

import { getJSON } from "./http.js";

const HOLE = /【([^】]+)】/g;
const SEARCH_DELAY_MS = 120;
const KEY_QUERY = /^\/\S*$/;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

/** The labels still to type in a reply's text, each once, in order. */
export function blanks(text) {
  return [...new Set([...text.matchAll(HOLE)].map((m) => m[1]))];
}

export function fillBlanks(text, typed) {
  return text.replace(HOLE, (hole, label) => (typed[label] ?? "").trim() || hole);
}

export class Composer {
  /**
   * @param {object} options t, conversation() -> selected id, onSend(text, cannedKey), onTyping(),
   *   sentKeys(conversationId) -> Set of canned keys sent there, alreadySaid(text) -> bool
   */
  constructor(options) {
    this.options = options;
    this.form = document.getElementById("composer");
    this.box = document.getElementById("composer-text");
    this.canned = document.getElementById("canned");
    this.cannedList = document.getElementById("canned-list");
    this.cannedEmpty = document.getElementById("canned-empty");
    this.prompts = document.getElementById("prompts");
    this.promptFields = document.getElementById("prompt-fields");
    this.warning = document.getElementById("repeat-warning");
    this.results = [];
    this.active = -1;
    this.chosen = null; // {key, text, repeated} while a canned reply is in the box or being filled
    this.searchTimer = null;
    this.searchRound = 0;

    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    this.box.addEventListener("keydown", (event) => this.keydown(event));
    this.box.addEventListener("input", () => this.input());
    this.cannedList.addEventListener("mousedown", (event) => {
      const item = event.target.closest("[data-index]");
      if (!item) return;
      event.preventDefault();
      this.choose(Number(item.dataset.index));
    });
    document.getElementById("prompts-done").addEventListener("click", () => this.finishPrompts());
    document.getElementById("prompts-cancel").addEventListener("click", () => this.closePrompts());
    this.promptFields.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        this.finishPrompts();
      }
    });
  }

  reset() {
    this.box.value = "";
    this.chosen = null;
    this.warning.hidden = true;
    this.closeCanned();
    this.closePrompts();
  }

  keydown(event) {
    if (!this.canned.hidden && this.results.length) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        const step = event.key === "ArrowDown" ? 1 : -1;
        this.highlight((this.active + step + this.results.length) % this.results.length);
        return;
      }
      if (event.key === "Enter" || event.key === "Tab") {
        event.preventDefault();
        this.choose(Math.max(this.active, 0));
        return;
      }
    }
    if (event.key === "Escape") {
      this.closeCanned();
      return;
    }
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (KEY_QUERY.test(this.box.value)) {
        // "/yj2" and Enter before the list came: take the first match as soon as it comes.
        clearTimeout(this.searchTimer);
        this.search(this.box.value.slice(1), { pickFirst: true });
        return;
      }
      this.send();
    }
  }

  input() {
    this.options.onTyping();
    const value = this.box.value;
    if (this.chosen && value !== this.chosen.text) {
      // Edited by hand: no longer the canned reply as it stands in the library.
      this.chosen = null;
      this.warning.hidden = true;
    }
    if (value.startsWith("/") && !value.includes("\n")) {
      clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => this.search(value.slice(1).trim()), SEARCH_DELAY_MS);
    } else {
      this.closeCanned();
    }
  }

  async search(query, { pickFirst = false } = {}) {
    const round = ++this.searchRound;
    const conversation = this.options.conversation() || "";
    const url = `/desk/replies?q=${encodeURIComponent(query)}&conversation_id=${encodeURIComponent(conversation)}`;
    let answer;
    try {
      answer = await getJSON(url);
    } catch {
      answer = [];
    }
    if (round !== this.searchRound || !this.box.value.startsWith("/")) return;
    const replies = Array.isArray(answer) ? answer : answer.replies || answer.results || [];
    this.results = replies.slice(0, 8);
    this.cannedList.replaceChildren(
      ...this.results.map((reply, index) => {
        const item = element("li", "canned-item");
        item.id = `canned-${index}`;
        item.dataset.index = String(index);
        item.setAttribute("role", "option");
        item.append(element("code", "canned-key", `/${reply.key}`));
        item.append(element("span", "canned-title", reply.title));
        item.append(element("span", "canned-text", reply.text));
        return item;
      }),
    );
    this.cannedEmpty.hidden = this.results.length > 0;
    this.canned.hidden = false;
    this.highlight(this.results.length ? 0 : -1);
    if (pickFirst && this.results.length) this.choose(0);
  }

  highlight(index) {
    this.active = index;
    for (const item of this.cannedList.children) {
      item.setAttribute("aria-selected", String(Number(item.dataset.index) === index));
    }
    if (index >= 0) this.box.setAttribute("aria-activedescendant", `canned-${index}`);
  }

  closeCanned() {
    this.searchRound += 1; // an answer still on its way is no longer wanted
    this.canned.hidden = true;
    this.cannedList.replaceChildren();
    this.results = [];
    this.active = -1;
    this.box.removeAttribute("aria-activedescendant");
  }

  choose(index) {
    const reply = this.results[index];
    if (!reply) return;
    this.closeCanned();
    const conversation = this.options.conversation();
    // Sent from this page, or (after a reload) the same words already in the conversation.
    const repeated =
      Boolean(reply.repeated) ||
      this.options.sentKeys(conversation).has(reply.key) ||
      this.options.alreadySaid(reply.text);
    this.chosen = { key: reply.key, text: reply.text, repeated };
    const labels = (reply.prompts || []).map((p) => (typeof p === "string" ? p : p.label));
    const wanted = labels.length ? labels : blanks(reply.text);
    if (wanted.length) {
      this.openPrompts(wanted);
    } else {
      this.place(reply.text);
    }
  }

  openPrompts(labels) {
    this.promptFields.replaceChildren(
      ...labels.map((label, index) => {
        const field = element("label", "field prompt-field");
        field.append(element("span", "", label));
        const input = element("input");
        input.type = "text";
        input.dataset.label = label;
        input.id = `prompt-${index}`;
        input.required = true;
        field.append(input);
        return field;
      }),
    );
    this.prompts.hidden = false;
    this.promptFields.querySelector("input").focus();
  }

  finishPrompts() {
    const typed = {};
    let missing = null;
    for (const input of this.promptFields.querySelectorAll("input")) {
      typed[input.dataset.label] = input.value;
      if (!input.value.trim() && !missing) missing = input;
    }
    if (missing) {
      missing.setAttribute("aria-invalid", "true");
      missing.focus();
      return;
    }
    this.prompts.hidden = true;
    this.place(fillBlanks(this.chosen.text, typed));
  }

  closePrompts() {
    this.prompts.hidden = true;
    this.promptFields.replaceChildren();
    if (!this.box.value.startsWith("/")) return;
    this.box.value = "";
    this.chosen = null;
  }

  place(text) {
    this.box.value = text;
    this.chosen.text = text;
    this.warning.hidden = !this.chosen.repeated;
    this.box.focus();
    this.box.setSelectionRange(text.length, text.length);
  }

  send() {
    const text = this.box.value.trim();
    if (!text || KEY_QUERY.test(text)) return;
    if (blanks(text).length) {
      this.options.onError(this.options.t("desk.js.fill_all"));
      return;
    }
    const key = this.chosen ? this.chosen.key : null;
    if (this.options.onSend(text, key)) this.reset();
  }
}
