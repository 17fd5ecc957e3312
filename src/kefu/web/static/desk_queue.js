// The workbench's queues: which conversations are waiting, mine or anyone's, with each buyer's
// waiting timer (amber, then red, at the shop's thresholds) and a marker where the buyer has the
// last word.

export function waited(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${rest}` : `${minutes}:${rest}`;
}

export function waitLevel(waitingSince, now, thresholds) {
  if (!waitingSince) return "ok";
  const seconds = (now - Date.parse(waitingSince)) / 1000;
  if (seconds >= thresholds.red_s) return "red";
  if (seconds >= thresholds.amber_s) return "amber";
  return "ok";
}

/** How a buyer is named: their nickname, else "访客 k3Xq" for an anonymous visitor, else the id. */
export function buyerName(summary, t) {
  if (summary.buyer_nickname) return summary.buyer_nickname;
  const id = summary.buyer_id || "";
  if (id.startsWith("anon-")) return t("desk.js.visitor", { id: id.slice(5, 9) });
  return id || summary.conversation_id;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

export class Queues {
  /**
   * @param {object} options me (agent id), supervising, thresholds, t, colleagues (agent id -> nickname),
   *   onSelect(id)
   */
  constructor(options) {
    this.options = options;
    this.conversations = new Map(); // id -> summary
    this.tab = document.querySelector('.queue-tab[aria-selected="true"]')?.dataset.queue || "mine";
    this.selected = null;
    this.list = document.getElementById("queue-list");
    this.empty = document.getElementById("empty-queue");
    for (const button of document.querySelectorAll(".queue-tab")) {
      button.addEventListener("click", () => this.show(button.dataset.queue));
    }
    this.list.addEventListener("click", (event) => {
      const item = event.target.closest("[data-conversation]");
      if (item) this.options.onSelect(item.dataset.conversation);
    });
    setInterval(() => this.tick(), 1000);
  }

  /**
   * Merge what the server says about a conversation (a list row, an action's answer or a
   * `conversation` event). `asOf` is when that was true at the latest: for a list, the moment it
   * was asked for. A list asked for before the last event or answer about a conversation is older
   * than what we show and is not merged: a list that set off before a close and came back after
   * it would otherwise show the conversation open again, and a closed one is in no later list to
   * put it right.
   */
  update(summary, asOf = performance.now()) {
    const id = summary.conversation_id || summary.id;
    if (!id) return null;
    const known = this.conversations.get(id) || { conversation_id: id, asOf: -Infinity };
    if (asOf < known.asOf) return known;
    const merged = { ...known };
    for (const [key, value] of Object.entries(summary)) if (value !== undefined) merged[key] = value;
    merged.conversation_id = id;
    merged.asOf = asOf;
    this.conversations.set(id, merged);
    return merged;
  }

  /** A message in a conversation we follow: who spoke last, since when the buyer waits. */
  noteMessage(message) {
    const summary = this.conversations.get(message.conversation_id);
    if (!summary) return;
    if (message.sender === "buyer") {
      summary.last_sender = "buyer";
      summary.waiting_since = summary.waiting_since || message.sent_at;
    } else if (message.sender === "agent") {
      summary.last_sender = "agent";
      summary.waiting_since = null;
    }
    summary.last_text = message.kind === "text" ? message.text : this.options.t(`chat.kind.${message.kind}`);
    summary.last_message_at = message.sent_at;
  }

  inQueue(summary, tab) {
    const { me } = this.options;
    const open = summary.status === "open";
    if (tab === "waiting") return open && !summary.assigned_agent_id;
    // Closed ones stay in view until the page reloads, so they can be reopened.
    if (tab === "mine") return summary.assigned_agent_id === me;
    return true;
  }

  ordered(tab) {
    const rows = [...this.conversations.values()].filter((s) => this.inQueue(s, tab));
    // Open before closed; the longest waiting first; then the most recent.
    return rows.sort((a, b) => {
      if ((a.status === "open") !== (b.status === "open")) return a.status === "open" ? -1 : 1;
      const wa = a.waiting_since ? Date.parse(a.waiting_since) : Infinity;
      const wb = b.waiting_since ? Date.parse(b.waiting_since) : Infinity;
      if (wa !== wb) return wa - wb;
      return String(b.last_message_at || "").localeCompare(String(a.last_message_at || ""));
    });
  }

  show(tab) {
    this.tab = tab;
    for (const button of document.querySelectorAll(".queue-tab")) {
      button.setAttribute("aria-selected", String(button.dataset.queue === tab));
    }
    this.render();
  }

  select(id) {
    this.selected = id;
    this.render();
  }

  render() {
    for (const tab of ["waiting", "mine", "all"]) {
      const count = document.getElementById(`count-${tab}`);
      if (count) count.textContent = String(this.ordered(tab).filter((s) => s.status === "open").length);
    }
    const rows = this.ordered(this.tab);
    this.list.replaceChildren(...rows.map((summary) => this.item(summary)));
    this.empty.hidden = rows.length > 0;
    this.tick();
  }

  item(summary) {
    const { t, colleagues } = this.options;
    const item = element("li", "queue-item");
    item.dataset.conversation = summary.conversation_id;
    item.dataset.status = summary.status;
    const button = element("button", "queue-button");
    button.type = "button";
    if (summary.conversation_id === this.selected) button.setAttribute("aria-current", "true");
    const top = element("span", "queue-top");
    top.append(element("span", "queue-buyer", buyerName(summary, t)));
    if (summary.status === "open" && summary.last_sender === "buyer") {
      const marker = element("span", "last-word", t("desk.js.last_word_buyer"));
      marker.title = t("desk.js.last_word_buyer_title");
      top.append(marker);
    }
    top.append(element("span", "wait-timer"));
    button.append(top);
    button.append(element("span", "queue-preview", summary.last_text || ""));
    const who = summary.assigned_agent_id
      ? t("desk.js.assigned_to", { name: colleagues[summary.assigned_agent_id] || summary.agent_nickname || summary.assigned_agent_id })
      : t("desk.js.unassigned");
    const status = summary.status === "open" ? who : t("desk.js.status.closed");
    button.append(element("span", "queue-who", status));
    item.append(button);
    return item;
  }

  /** Every second: the timers' figures and colours. */
  tick() {
    const now = Date.now();
    const { thresholds, t } = this.options;
    for (const item of this.list.children) {
      const summary = this.conversations.get(item.dataset.conversation);
      const timer = item.querySelector(".wait-timer");
      if (!summary || !timer) continue;
      const waiting = summary.status === "open" ? summary.waiting_since : null;
      const level = waitLevel(waiting, now, thresholds);
      item.dataset.wait = waiting ? level : "none";
      timer.textContent = waiting ? waited((now - Date.parse(waiting)) / 1000) : "";
      timer.title = waiting ? t("desk.js.waited", { time: timer.textContent }) : "";
    }
    if (this.options.onTick) this.options.onTick(now);
  }
}
