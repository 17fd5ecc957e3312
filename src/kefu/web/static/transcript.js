// A conversation's messages on screen, in `seq` order, each `seq` once.
//
// Everything a person wrote is set with textContent, never parsed as HTML: a buyer who types
// <img onerror=...> sees, and makes the agent see, exactly those characters.

const GAP_WAIT_MS = 1_000;

export function clock(iso) {
  const when = iso ? new Date(iso) : new Date();
  if (Number.isNaN(when.getTime())) return "";
  return when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

export class Transcript {
  /**
   * @param {HTMLElement} list the <ol> the messages go in
   * @param {object} options
   *   mySide: "buyer" or "agent" (whose messages are "mine", on the right)
   *   who(message) -> the name shown above a message
   *   t(key, values) -> words; cardLabel(kind) -> "商品"...
   *   imageUrl(payload) -> the address of an uploaded picture, or null
   *   cardTitle(kind, payload) -> a product's title when the page knows it (optional)
   *   onChange() -> called after messages are added (to scroll, to send a read receipt)
   *   onGap(afterSeq) -> a message is still missing a second after a later one came: ask for
   *     what came after `afterSeq` (optional)
   */
  constructor(list, options) {
    this.list = list;
    this.options = options;
    this.bySeq = new Map();
    this.readUpTo = 0;
    this.contiguous = 0; // every seq up to this one is shown
    this.gapTimer = null;
  }

  clear() {
    this.bySeq.clear();
    this.readUpTo = 0;
    this.contiguous = 0;
    clearTimeout(this.gapTimer);
    this.gapTimer = null;
    this.list.replaceChildren();
  }

  get highestSeq() {
    let highest = 0;
    for (const seq of this.bySeq.keys()) if (seq > highest) highest = seq;
    return highest;
  }

  /** The seq after which to ask for what this page missed: every message up to it is shown. */
  get contiguousSeq() {
    return this.contiguous;
  }

  /** Show a stored message; false when its seq is already shown. */
  add(message) {
    const seq = Number(message.seq);
    if (!Number.isInteger(seq) || this.bySeq.has(seq)) return false;
    let node = message.client_msg_id ? this.pendingNode(message.client_msg_id) : null;
    if (node) {
      this.fill(node, message);
    } else {
      node = this.render(message);
    }
    node.dataset.seq = String(seq);
    node.classList.remove("msg-pending");
    this.bySeq.set(seq, node);
    while (this.bySeq.has(this.contiguous + 1)) this.contiguous += 1;
    this.place(node, seq);
    this.markRead(this.readUpTo);
    this.watchGap();
    if (this.options.onChange) this.options.onChange();
    return true;
  }

  /**
   * A message every other one came after but not shown: stored by a server that stopped before
   * telling anyone, or still on its way from another server process. Given a second to arrive,
   * then asked for (onGap), so it is not missing until the next reconnect.
   */
  watchGap() {
    if (!this.options.onGap || this.gapTimer || this.highestSeq <= this.contiguous) return;
    this.gapTimer = setTimeout(() => {
      this.gapTimer = null;
      if (this.highestSeq > this.contiguous) this.options.onGap(this.contiguous);
    }, GAP_WAIT_MS);
  }

  addAll(messages) {
    for (const message of [...messages].sort((a, b) => a.seq - b.seq)) this.add(message);
  }

  /** A message of ours on its way: shown at the end, greyed, until its ack gives it a seq. */
  addPending(frame, sender) {
    const node = this.render({ ...frame, sender, sent_at: null, pending: true });
    node.classList.add("msg-pending");
    node.dataset.clientMsgId = frame.client_msg_id;
    this.list.append(node);
    if (this.options.onChange) this.options.onChange();
    return node;
  }

  /** The server stored our message: give the pending bubble its seq (and drop it if shown already). */
  acknowledge(ack, frame, sender) {
    if (this.bySeq.has(ack.seq)) {
      // The message event came first; a resent copy's bubble is not needed.
      const node = this.pendingNode(ack.client_msg_id);
      if (node) node.remove();
      return;
    }
    if (!frame) return;
    this.add({ ...frame, sender, seq: ack.seq, sent_at: ack.sent_at, client_msg_id: ack.client_msg_id });
  }

  refuse(clientMsgId, reason) {
    const node = this.pendingNode(clientMsgId);
    if (!node) return;
    node.classList.remove("msg-pending");
    node.classList.add("msg-refused");
    const state = node.querySelector(".msg-state");
    if (state) state.textContent = reason;
  }

  pendingNode(clientMsgId) {
    for (const node of this.list.querySelectorAll(".msg-pending")) {
      if (node.dataset.clientMsgId === clientMsgId) return node;
    }
    return null;
  }

  place(node, seq) {
    // Before the first shown message with a higher seq; pending ones stay below all stored ones.
    for (const other of this.list.children) {
      if (other === node) continue;
      const otherSeq = other.dataset.seq ? Number(other.dataset.seq) : Infinity;
      if (otherSeq > seq) {
        this.list.insertBefore(node, other);
        return;
      }
    }
    this.list.append(node);
  }

  /** The other side has read up to `seq`: our messages up to there say so. */
  markRead(seq) {
    this.readUpTo = Math.max(this.readUpTo, Number(seq) || 0);
    const { t, mySide } = this.options;
    for (const [messageSeq, node] of this.bySeq) {
      if (!node.classList.contains("msg-mine")) continue;
      const read = messageSeq <= this.readUpTo;
      node.classList.toggle("msg-read", read);
      const state = node.querySelector(".msg-state");
      if (state) state.textContent = read ? t(`${mySide === "buyer" ? "chat" : "desk"}.js.read`) : "";
    }
  }

  /** A line about the conversation itself (transferred, closed), not a message. */
  event(text) {
    const node = element("li", "msg msg-event", text);
    this.list.append(node);
    if (this.options.onChange) this.options.onChange();
  }

  render(message) {
    const node = element("li", "msg");
    this.fill(node, message);
    return node;
  }

  fill(node, message) {
    const { mySide, who, t } = this.options;
    const mine = message.sender === mySide;
    node.className = `msg msg-${message.sender}${mine ? " msg-mine" : ""}`;
    node.replaceChildren();
    if (message.sender !== "system") {
      const meta = element("p", "msg-meta");
      meta.append(element("span", "msg-who", who(message)));
      if (message.sent_at) meta.append(element("time", "msg-time", clock(message.sent_at)));
      node.append(meta);
    }
    node.append(this.body(message));
    if (mine) {
      const pendingWord = `${mySide === "buyer" ? "chat" : "desk"}.js.sending`;
      node.append(element("p", "msg-state", message.pending ? t(pendingWord) : ""));
    }
  }

  body(message) {
    const kind = message.kind || "text";
    const payload = message.payload || {};
    if (kind === "image") {
      const box = element("div", "msg-body msg-image");
      const url = this.options.imageUrl ? this.options.imageUrl(payload) : null;
      if (url) {
        const img = element("img");
        img.src = url;
        img.alt = this.options.cardLabel("image");
        img.loading = "lazy";
        box.append(img);
      } else {
        box.append(element("span", "msg-card-label", this.options.cardLabel("image")));
      }
      return box;
    }
    if (kind === "product" || kind === "order") {
      const card = element("div", `msg-body msg-card msg-card-${kind}`);
      card.append(element("span", "msg-card-label", this.options.cardLabel(kind)));
      const id = kind === "product" ? payload.product_id : payload.order_id;
      const known = this.options.cardTitle ? this.options.cardTitle(kind, payload) : null;
      const title = known || payload.title || id;
      card.append(element("span", "msg-card-title", title));
      if (message.text) card.append(element("span", "msg-card-text", message.text));
      return card;
    }
    return element("p", "msg-body msg-text", message.text);
  }
}
