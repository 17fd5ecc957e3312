// The buyer's chat page: one conversation with the shop over the desk's WebSocket.

import { pageData, translator } from "./page_data.js";
import { ReliableSocket, socketUrl } from "./socket.js";
import { Transcript } from "./transcript.js";

const TYPING_EVERY_MS = 3_000;
const TYPING_SHOWN_MS = 5_000;
const MAX_IMAGE_BYTES = 5 * 1024 * 1024;

const data = pageData("chat-data");
const t = translator(data.words || {});
const $ = (id) => document.getElementById(id);

// --- who the buyer is ----------------------------------------------------------------------

function tokenPayload(token) {
  try {
    const body = token.split(".")[0].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

function storedTokenKey() {
  return `kefu.chat.${data.shop_id}.token`;
}

/** An anonymous buyer keeps the token of their first visit, so a reload is the same buyer. */
function chooseToken() {
  if (!data.anonymous) return data.token;
  try {
    const stored = window.localStorage.getItem(storedTokenKey());
    const payload = stored ? tokenPayload(stored) : null;
    if (payload && payload.shop === data.shop_id && payload.exp * 1000 > Date.now() + 60_000) return stored;
    window.localStorage.setItem(storedTokenKey(), data.token);
  } catch {
    // Storage may be off (a private window, a sandboxed frame): this visit stays one buyer.
  }
  return data.token;
}

function forgetToken() {
  try {
    if (data.anonymous) window.localStorage.removeItem(storedTokenKey());
  } catch {
    // nothing stored
  }
}

const token = chooseToken();
const buyerId = tokenPayload(token)?.buyer ?? data.buyer_id;

// --- the conversation ------------------------------------------------------------------------

const state = {
  conversationId: null,
  syncedOnThisConnection: false,
  agentNickname: null,
  ratingFor: null,
  typingTimer: null,
  lastTypingSent: 0,
};
const productTitles = new Map();
if (data.product) productTitles.set(data.product.product_id, data.product.title);

const scroller = $("chat-scroll");
const transcript = new Transcript($("transcript"), {
  mySide: "buyer",
  t,
  who: (message) => {
    if (message.sender === "buyer") return t("chat.js.me");
    if (message.sender === "bot") return t("chat.js.bot");
    return message.nickname || state.agentNickname || t("chat.js.agent");
  },
  cardLabel: (kind) => t(`chat.kind.${kind}`),
  cardTitle: (kind, payload) => (kind === "product" ? productTitles.get(payload.product_id) : null),
  imageUrl: (payload) =>
    payload.upload_id
      ? `/uploads/${encodeURIComponent(payload.upload_id)}?token=${encodeURIComponent(token)}`
      : null,
  onGap: (afterSeq) => {
    if (state.conversationId) socket.send({ type: "sync", conversation_id: state.conversationId, after_seq: afterSeq });
  },
  onChange: () => {
    scroller.scrollTop = scroller.scrollHeight;
    sendReadReceipt();
  },
});

/** The conversation the buyer writes in; shown on the page (data-conversation) for tests and tools. */
function setConversation(id) {
  state.conversationId = id;
  $("chat").dataset.conversation = id || "";
}

function showError(text) {
  const box = $("chat-error");
  box.textContent = text;
  box.hidden = !text;
}

function setAgent(nickname) {
  if (!nickname || nickname === state.agentNickname) return;
  state.agentNickname = nickname;
  $("chat-sub").textContent = t("chat.js.agent_joined", { name: nickname });
}

function sync() {
  if (!state.conversationId) return;
  state.syncedOnThisConnection = socket.send({
    type: "sync",
    conversation_id: state.conversationId,
    after_seq: transcript.contiguousSeq,
  });
}

function sendReadReceipt() {
  const seq = transcript.highestSeq;
  if (!state.conversationId || !seq || document.visibilityState !== "visible") return;
  if (seq <= (state.readSent || 0)) return;
  if (socket.send({ type: "read", conversation_id: state.conversationId, seq })) state.readSent = seq;
}

function onConversation(frame) {
  if (frame.change === "opened" || !state.conversationId) setConversation(frame.conversation_id);
  if (frame.conversation_id !== state.conversationId) return;
  if (frame.agent_nickname) setAgent(frame.agent_nickname);
  if (frame.status === "closed") {
    transcript.event(t("chat.js.closed"));
    state.ratingFor = frame.conversation_id;
    setConversation(null);
    state.readSent = 0;
    $("rating").hidden = false;
    $("rating-done").hidden = true;
    for (const button of document.querySelectorAll(".rating-score")) button.disabled = false;
  }
}

function onFrame(frame) {
  switch (frame.type) {
    case "welcome":
      if (frame.conversation) {
        setConversation(frame.conversation.id);
        setAgent(frame.conversation.agent_nickname);
        if (!state.syncedOnThisConnection) sync();
      }
      break;
    case "history":
      if (frame.conversation_id === state.conversationId) transcript.addAll(frame.messages);
      break;
    case "message":
      if (!state.conversationId) setConversation(frame.conversation_id);
      if (frame.conversation_id !== state.conversationId) break;
      if (frame.sender === "agent") {
        setAgent(frame.nickname);
        $("typing").hidden = true;
      }
      transcript.add(frame);
      break;
    case "conversation":
      onConversation(frame);
      break;
    case "typing":
      if (frame.side === "agent" && frame.conversation_id === state.conversationId) {
        $("typing").hidden = false;
        clearTimeout(state.typingTimer);
        state.typingTimer = setTimeout(() => ($("typing").hidden = true), TYPING_SHOWN_MS);
      }
      break;
    case "read":
      if (frame.side === "agent" && frame.conversation_id === state.conversationId) transcript.markRead(frame.seq);
      break;
    case "error":
      if (!frame.client_msg_id) {
        if (frame.code === "internal") {
          // Most likely a read receipt the server could not store: receipts are safe to repeat.
          state.readSent = 0;
          setTimeout(sendReadReceipt, 1_000);
        } else if (frame.code === "forbidden") {
          forgetToken();
          showError(t("chat.js.session_expired"));
        } else {
          showError(t(`chat.js.error.${frame.code}`));
        }
      } else if (frame.code === "rate_limited") {
        showError(t("chat.js.error.rate_limited"));
      }
      break;
    default:
      break;
  }
}

const socket = new ReliableSocket(socketUrl(`/ws/chat/${encodeURIComponent(data.shop_id)}?token=${encodeURIComponent(token)}`), {
  onFrame,
  onOpen: () => {
    state.syncedOnThisConnection = false;
    sync();
  },
  onState: (connection) => {
    const indicator = $("connection");
    indicator.dataset.state = connection;
    $("chat").dataset.state = connection;
    indicator.textContent = t(`chat.js.${connection === "refused" ? "offline" : connection}`);
    if (connection === "refused") showError(t("chat.js.session_expired"));
    else if (connection === "online") showError("");
  },
  onAck: (ack, sent) => {
    if (!state.conversationId) setConversation(ack.conversation_id);
    transcript.acknowledge(ack, sent, "buyer");
  },
  onRefused: (error) => {
    const reason = t(`chat.js.error.${error.code}`);
    transcript.refuse(error.client_msg_id, reason);
    showError(reason);
  },
});

// --- writing -------------------------------------------------------------------------------

function send(fields) {
  showError("");
  const frame = { ...fields };
  if (state.conversationId) frame.conversation_id = state.conversationId;
  const id = socket.sendMessage(frame);
  transcript.addPending({ ...frame, client_msg_id: id }, "buyer");
  return id;
}

function sendText() {
  const box = $("chat-text");
  const text = box.value.trim();
  if (!text) return;
  send({ kind: "text", text });
  box.value = "";
  box.focus();
}

$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  sendText();
});

$("chat-text").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    sendText();
  }
});

$("chat-text").addEventListener("input", () => {
  const now = Date.now();
  if (!state.conversationId || now - state.lastTypingSent < TYPING_EVERY_MS) return;
  state.lastTypingSent = now;
  socket.send({ type: "typing", conversation_id: state.conversationId });
});

$("emoji-toggle").addEventListener("click", () => {
  const panel = $("emoji-panel");
  panel.hidden = !panel.hidden;
  $("emoji-toggle").setAttribute("aria-expanded", String(!panel.hidden));
});

$("emoji-panel").addEventListener("click", (event) => {
  const button = event.target.closest("[data-emoji]");
  if (!button) return;
  const box = $("chat-text");
  const at = box.selectionStart ?? box.value.length;
  box.value = box.value.slice(0, at) + button.dataset.emoji + box.value.slice(box.selectionEnd ?? at);
  box.focus();
});

const productButton = $("send-product");
if (productButton && data.product) {
  productButton.addEventListener("click", () => {
    send({ kind: "product", text: "", payload: { product_id: data.product.product_id } });
    $("ask-product").hidden = true;
  });
}

$("image-input").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  event.target.value = "";
  if (!file) return;
  if (file.size > MAX_IMAGE_BYTES) {
    showError(t("chat.js.too_big"));
    return;
  }
  showError(t("chat.js.uploading"));
  const form = new FormData();
  form.append("file", file);
  if (state.conversationId) form.append("conversation_id", state.conversationId);

  try {
    const response = await fetch(`/chat/${encodeURIComponent(data.shop_id)}/uploads`, {
      method: "POST",
      body: form,
      headers: { Authorization: `Bearer ${token}` },
      credentials: "same-origin",
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok || !answer.upload_id) throw new Error(answer.detail?.message || answer.detail || response.statusText);
    showError("");
    send({ kind: "image", text: "", payload: { upload_id: answer.upload_id } });
  } catch (error) {
    showError(t("chat.js.upload_failed", { detail: error.message }));
  }
});

// --- rating --------------------------------------------------------------------------------

$("rating").addEventListener("click", async (event) => {
  const button = event.target.closest("[data-score]");
  if (!button || !state.ratingFor) return;
  const buttons = document.querySelectorAll(".rating-score");
  for (const b of buttons) b.disabled = true;
  try {
    const response = await fetch(`/chat/${encodeURIComponent(data.shop_id)}/rating`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      body: JSON.stringify({ conversation_id: state.ratingFor, score: button.dataset.score, tags: [] }),
      credentials: "same-origin",
    });
    if (!response.ok) throw new Error(String(response.status));
    for (const b of buttons) b.setAttribute("aria-pressed", String(b === button));
    $("rating-done").hidden = false;
  } catch {
    for (const b of buttons) b.disabled = false;
    showError(t("chat.js.rating_failed"));
  }
});

document.addEventListener("visibilitychange", sendReadReceipt);

socket.start();
