// The desk's one WebSocket, shared by the buyer's chat and the agents' workbench.
//
// The contract (docs/desk.md, "WebSocket protocol"): every `send` is kept until its `ack`;
// after a reconnect the page first asks for what it missed (`sync`, in `onOpen`), then every
// unacknowledged `send` goes again with the same `client_msg_id`, which the server answers
// with the first ack instead of storing the message twice.

const PING_EVERY_MS = 20_000;
// No frame (not even a pong) for this long: the connection is dead even if the browser has
// not noticed yet (a network that drops packets closes nothing).
const SILENCE_LIMIT_MS = 45_000;
const FIRST_RETRY_MS = 500;
const LAST_RETRY_MS = 15_000;
// Close codes after which retrying cannot help: the token or the login is refused.
const FINAL_CLOSE_CODES = new Set([4401, 4403, 1008]);
// Error codes that refuse a message for good; resending it would fail the same way.
const REFUSALS = new Set(["bad_frame", "not_found", "too_long", "closed", "forbidden"]);
const RATE_LIMIT_RETRY_MS = 2_000;

export function newMessageId() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
  // crypto.randomUUID needs a secure context; a LAN address over http is not one.
  const bytes = window.crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function socketUrl(path) {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}${path}`;
}

export class ReliableSocket {
  /**
   * @param {string} url ws:// or wss:// address
   * @param {object} handlers onFrame(frame), onState(state: "connecting"|"online"|"offline"|"refused"),
   *   onOpen() (send sync frames here), onAck(ack, sent), onRefused(error, sent) (a send the server refused)
   */
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    this.pending = new Map(); // client_msg_id -> send frame, in the order they were made
    this.ws = null;
    this.attempt = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.lastHeard = 0;
    this.stopped = false;
    this.state = "connecting";
    window.addEventListener("online", () => this.reconnectNow());
  }

  start() {
    this.connect();
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    if (this.handlers.onState) this.handlers.onState(state);
  }

  connect() {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    this.setState(this.attempt === 0 ? "connecting" : "offline");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener("open", () => {
      if (ws !== this.ws) return;
      this.attempt = 0;
      this.lastHeard = Date.now();
      this.setState("online");
      this.startPings();
      if (this.handlers.onOpen) this.handlers.onOpen();
      for (const frame of this.pending.values()) this.write(frame);
    });
    ws.addEventListener("message", (event) => {
      if (ws !== this.ws) return;
      this.lastHeard = Date.now();
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      this.receive(frame);
    });
    ws.addEventListener("close", (event) => {
      if (ws !== this.ws) return;
      this.stopPings();
      this.ws = null;
      if (FINAL_CLOSE_CODES.has(event.code)) {
        this.stopped = true;
        this.setState("refused");
        return;
      }
      this.scheduleRetry();
    });
  }

  scheduleRetry() {
    if (this.stopped) return;
    this.setState("offline");
    // Exponential backoff with jitter, so a restarted server is not hit by every page at once.
    const ceiling = Math.min(LAST_RETRY_MS, FIRST_RETRY_MS * 2 ** this.attempt);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.attempt += 1;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  reconnectNow() {
    if (this.stopped || (this.ws && this.ws.readyState <= WebSocket.OPEN)) return;
    this.attempt = 0;
    this.connect();
  }

  /** Drop the connection as a network failure would (also used when the line goes silent). */
  drop() {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    this.stopPings();
    ws.close();
    this.scheduleRetry();
  }

  startPings() {
    this.stopPings();
    this.pingTimer = setInterval(() => {
      if (Date.now() - this.lastHeard > SILENCE_LIMIT_MS) {
        this.drop();
        return;
      }
      this.write({ type: "ping" });
    }, PING_EVERY_MS);
  }

  stopPings() {
    clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  write(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** A frame that needs no acknowledgement (sync, typing, read, watch); dropped while offline. */
  send(frame) {
    return this.write(frame);
  }

  /** A message: kept and resent until acknowledged. Returns its client_msg_id. */
  sendMessage(fields) {
    const frame = { type: "send", client_msg_id: newMessageId(), kind: "text", ...fields };
    this.pending.set(frame.client_msg_id, frame);
    this.write(frame);
    return frame.client_msg_id;
  }

  receive(frame) {
    if (frame.type === "ack") {
      const sent = this.pending.get(frame.client_msg_id);
      this.pending.delete(frame.client_msg_id);
      if (this.handlers.onAck) this.handlers.onAck(frame, sent);
      return;
    }
    if (frame.type === "error" && frame.client_msg_id && this.pending.has(frame.client_msg_id)) {
      const sent = this.pending.get(frame.client_msg_id);
      if (REFUSALS.has(frame.code)) {
        this.pending.delete(frame.client_msg_id);
        if (this.handlers.onRefused) this.handlers.onRefused(frame, sent);
      } else {
        setTimeout(() => this.write(sent), RATE_LIMIT_RETRY_MS);
      }
      if (this.handlers.onFrame) this.handlers.onFrame(frame);
      return;
    }
    if (frame.type === "pong") return;
    if (this.handlers.onFrame) this.handlers.onFrame(frame);
  }
}
