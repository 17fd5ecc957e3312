// The agents' workbench: queues on the left, the conversation in the middle, the buyer's
// sidebar and internal notes on the right, all kept current by the desk's WebSocket.

import { Composer } from "./desk_composer.js";
import { buyerName, Queues, waited, waitLevel } from "./desk_queue.js";
import { getJSON, postJSON } from "./http.js";
import { pageData, translator } from "./page_data.js";
import { ReliableSocket, socketUrl } from "./socket.js";
import { clock, Transcript } from "./transcript.js";

const TYPING_EVERY_MS = 3_000;
const TYPING_SHOWN_MS = 5_000;
const REFRESH_EVERY_MS = 15_000;

const data = pageData("desk-data");
const t = translator(data.words || {});
const $ = (id) => document.getElementById(id);
const me = data.agent_id;
const colleagues = { ...data.colleagues, [me]: data.nickname };
const COMPOSER_HINT = $("composer-text").placeholder;

const state = {
  selected: null,
  sentKeys: new Map(), // conversation id -> canned keys sent from this page
  lastTypingSent: 0,
  typingTimer: null,
  readSent: new Map(),
  refreshTimer: null,
};

function showError(text) {
  const box = $("desk-error");
  box.textContent = text || "";
  box.hidden = !text;
}

function actionError(error) {
  const detail = error.status === 0 ? t("desk.js.error.network") : error.message;
  showError(t("desk.js.error", { detail }));
}

// --- the queues ------------------------------------------------------------------------------

const queues = new Queues({
  me,
  supervising: data.supervising,
  thresholds: data.thresholds,
  colleagues,
  t,
  onSelect: (id) => select(id),
  onTick: (now) => headerTimer(now),
});

async function loadQueues() {
  const names = data.supervising ? ["waiting", "mine", "all"] : ["waiting", "mine"];
  const asked = performance.now();
  const lists = await Promise.all(
    names.map((queue) => getJSON(`/desk/conversations?queue=${queue}`).catch(() => null)),
  );
  for (const list of lists) {
    if (!list) continue;
    const rows = Array.isArray(list) ? list : list.conversations || [];
    for (const row of rows) follow(queues.update(row, asked));
  }
  queues.render();
  renderPane();
}

function refreshSoon() {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(loadQueues, 300);
}

/** Receive the messages of an open conversation we show, so its marker and timer stay true. */
function follow(summary) {
  if (!summary || summary.status !== "open" || summary.followed) return;
  if (socket.send({ type: "watch", conversation_id: summary.conversation_id })) summary.followed = true;
}

// --- the conversation ------------------------------------------------------------------------

const scroller = $("transcript");
const transcript = new Transcript($("transcript"), {
  mySide: "agent",
  t,
  who: (message) => {
    if (message.sender === "buyer") return current() ? buyerName(current(), t) : t("desk.js.buyer");
    if (message.sender === "agent") {
      return message.agent_id === me ? t("desk.js.you") : message.nickname || colleagues[message.agent_id] || "";
    }
    return t(`desk.js.${message.sender}`);
  },
  cardLabel: (kind) => t(`chat.kind.${kind}`),
  imageUrl: (payload) => (payload.upload_id ? `/uploads/${encodeURIComponent(payload.upload_id)}` : null),
  onGap: (afterSeq) => {
    if (state.selected) socket.send({ type: "sync", conversation_id: state.selected, after_seq: afterSeq });
  },
  onChange: () => {
    scroller.scrollTop = scroller.scrollHeight;
    sendReadReceipt();
  },
});

function current() {
  return state.selected ? queues.conversations.get(state.selected) : null;
}

function canWrite(summary) {
  return summary.status === "open" && (summary.assigned_agent_id === me || data.supervising);
}

function renderPane() {
  const summary = current();
  $("no-conversation").hidden = Boolean(summary);
  $("conversation-pane").hidden = !summary;
  $("notes-block").hidden = !summary;
  $("conversation").dataset.conversation = summary ? summary.conversation_id : "";
  if (!summary) return;
  const open = summary.status === "open";
  const mine = summary.assigned_agent_id === me;
  $("conversation-title").textContent = buyerName(summary, t);
  $("conversation-status").textContent = t(`desk.js.status.${open ? "open" : "closed"}`);
  $("conversation-agent").textContent = summary.assigned_agent_id
    ? t("desk.js.assigned_to", { name: colleagues[summary.assigned_agent_id] || summary.agent_nickname || summary.assigned_agent_id })
    : t("desk.js.unassigned");
  $("pickup").hidden = !(open && !mine && (!summary.assigned_agent_id || data.supervising));
  $("transfer").hidden = !canWrite(summary);
  $("close").hidden = !canWrite(summary);
  $("reopen").hidden = open || !(mine || data.supervising);
  const writable = canWrite(summary);
  $("composer-text").disabled = !writable;
  $("send").disabled = !writable;
  $("composer-text").placeholder = writable ? COMPOSER_HINT : t(open ? "desk.js.watching" : "desk.js.error.closed");
  headerTimer(Date.now());
}

function headerTimer(now) {
  const summary = current();
  const timer = $("conversation-timer");
  const waiting = summary && summary.status === "open" ? summary.waiting_since : null;
  timer.hidden = !waiting;
  if (!waiting) return;
  timer.dataset.wait = waitLevel(waiting, now, data.thresholds);
  timer.textContent = t("desk.js.waited", { time: waited((now - Date.parse(waiting)) / 1000) });
}

async function select(id) {
  if (id === state.selected) return;
  state.selected = id;
  queues.select(id);
  transcript.clear();
  composer.reset();
  showError("");
  $("typing").hidden = true;
  $("notes").replaceChildren();
  renderPane();
  socket.send({ type: "sync", conversation_id: id, after_seq: 0 });
  loadSidebar(id);
  try {
    const asked = performance.now();
    const detail = await getJSON(`/desk/conversations/${encodeURIComponent(id)}`);
    if (id !== state.selected) return;
    const { messages, notes, transfers, ...summary } = detail;
    queues.update(summary, asked);
    for (const note of notes || []) addNote(note);
    if (messages) transcript.addAll(messages);
    showTransfers(transfers || []);
    queues.render();
    renderPane();
  } catch (error) {
    actionError(error);
  }
}

function loadSidebar(id) {
  const url = `/desk/conversations/${encodeURIComponent(id)}/sidebar`;
  if (window.htmx) {
    window.htmx.ajax("GET", url, { target: "#buyer-sidebar", swap: "innerHTML" });
  }
}

function sendReadReceipt() {
  const id = state.selected;
  const seq = transcript.highestSeq;
  if (!id || !seq || document.visibilityState !== "visible" || seq <= (state.readSent.get(id) || 0)) return;
  if (!canWrite(current() || {})) return; // a supervisor looking over a shoulder does not mark it read
  if (socket.send({ type: "read", conversation_id: id, seq })) state.readSent.set(id, seq);
}

function addNote(note) {
  const item = document.createElement("li");
  item.className = "note";
  const meta = document.createElement("p");
  meta.className = "note-meta";
  meta.textContent = note.heading
    ? `${note.heading} · ${clock(note.at)}`
    : t("desk.js.note_by", { name: colleagues[note.author_agent_id] || note.author_agent_id, time: clock(note.at) });
  if (note.heading) item.classList.add("note-handover");
  const text = document.createElement("p");
  text.className = "note-text";
  text.textContent = note.text;
  item.append(meta, text);
  $("notes").append(item);
}

function addHandover(transfer) {
  const to = transfer.to_agent_id
    ? colleagues[transfer.to_agent_id] || transfer.to_agent_id
    : t(`desk.group.${transfer.to_group}`);
  addNote({
    author_agent_id: transfer.from_agent_id,
    at: transfer.at,
    text: transfer.note,
    heading: t("desk.js.handover", { from: colleagues[transfer.from_agent_id] || t("desk.js.unassigned"), to }),
  });
}

function showTransfers(transfers) {
  for (const transfer of transfers) addHandover(transfer);
}

// --- the socket ------------------------------------------------------------------------------

function onConversation(frame) {
  const before = queues.conversations.get(frame.conversation_id);
  const summary = queues.update(frame);
  if (frame.status !== "open") summary.followed = false;
  follow(summary);
  if (frame.conversation_id === state.selected && frame.change && frame.change !== "new") {
    const key = `desk.change.${frame.change}`;
    if (frame.change === "transferred") {
      const to = frame.agent_nickname || t(`desk.group.${frame.to_group}`);
      transcript.event(t("desk.js.transferred_to", { to }));
      if (frame.note) {
        addHandover({ ...frame, at: new Date().toISOString(), to_agent_id: frame.assigned_agent_id });
      }
    } else if (data.words[key]) {
      transcript.event(t(key));
    }
  }
  if (!before && frame.status === "open" && !frame.assigned_agent_id && document.visibilityState !== "visible") {
    document.title = `(${t("desk.js.new_waiting")}) ${document.title.replace(/^\(.*?\) /, "")}`;
  }
  queues.render();
  renderPane();
  refreshSoon();
}

function onFrame(frame) {
  switch (frame.type) {
    case "welcome":
      break;
    case "history":
      if (frame.conversation_id === state.selected) transcript.addAll(frame.messages);
      for (const message of frame.messages) queues.noteMessage(message);
      queues.render();
      break;
    case "message":
      queues.noteMessage(frame);
      if (frame.conversation_id === state.selected) {
        transcript.add(frame);
        if (frame.sender === "buyer") $("typing").hidden = true;
      }
      queues.render();
      break;
    case "conversation":
      onConversation(frame);
      break;
    case "note":
      if (frame.conversation_id === state.selected) addNote(frame);
      break;
    case "typing":
      if (frame.side === "buyer" && frame.conversation_id === state.selected) {
        $("typing").hidden = false;
        clearTimeout(state.typingTimer);
        state.typingTimer = setTimeout(() => ($("typing").hidden = true), TYPING_SHOWN_MS);
      }
      break;
    case "read":
      if (frame.side === "buyer" && frame.conversation_id === state.selected) transcript.markRead(frame.seq);
      break;
    case "presence":
      if (frame.agent_id === me) setPresence(frame.presence);
      break;
    case "error":
      if (frame.client_msg_id) break;
      if (frame.code === "internal") {
        // Most likely a read receipt the server could not store: receipts are safe to repeat.
        state.readSent.clear();
        setTimeout(sendReadReceipt, 1_000);
      } else {
        showError(t(`desk.js.error.${frame.code}`));
      }
      break;
    default:
      break;
  }
}

const socket = new ReliableSocket(socketUrl("/ws/desk"), {
  onFrame,
  onOpen: () => {
    for (const summary of queues.conversations.values()) summary.followed = false;
    for (const summary of queues.conversations.values()) follow(summary);
    if (state.selected) {
      socket.send({ type: "sync", conversation_id: state.selected, after_seq: transcript.contiguousSeq });
    }
    loadQueues();
  },
  onState: (connection) => {
    const indicator = $("connection");
    indicator.dataset.state = connection;
    $("desk").dataset.state = connection;
    indicator.textContent = t(`desk.js.${connection === "refused" ? "offline" : connection}`);
    if (connection === "refused") window.location.assign(`/login?next=${encodeURIComponent("/desk")}`);
  },
  onAck: (ack, sent) => {
    // The server sends no echo of our own message: its ack stands for it.
    queues.noteMessage({
      ...sent,
      kind: sent.kind || "text",
      sender: "agent",
      seq: ack.seq,
      sent_at: ack.sent_at,
      conversation_id: ack.conversation_id,
    });
    if (ack.conversation_id === state.selected) transcript.acknowledge(ack, sent, "agent");
    queues.render();
  },
  onRefused: (error) => {
    transcript.refuse(error.client_msg_id, t(`desk.js.error.${error.code}`));
    showError(t(`desk.js.error.${error.code}`));
  },
});

// --- writing ---------------------------------------------------------------------------------

const composer = new Composer({
  t,
  conversation: () => state.selected,
  sentKeys: (id) => state.sentKeys.get(id) || new Set(),
  alreadySaid: (text) =>
    [...document.querySelectorAll("#transcript .msg-agent .msg-text")].some((node) => node.textContent === text),
  onError: showError,
  onTyping: () => {
    const now = Date.now();
    if (!state.selected || now - state.lastTypingSent < TYPING_EVERY_MS) return;
    state.lastTypingSent = now;
    socket.send({ type: "typing", conversation_id: state.selected });
  },
  onSend: (text, cannedKey) => {
    const summary = current();
    if (!summary || !canWrite(summary)) {
      showError(t("desk.js.pick_first"));
      return false;
    }
    showError("");
    const frame = { conversation_id: summary.conversation_id, kind: "text", text };
    const id = socket.sendMessage(frame);
    transcript.addPending({ ...frame, client_msg_id: id, agent_id: me }, "agent");
    if (cannedKey) {
      if (!state.sentKeys.has(summary.conversation_id)) state.sentKeys.set(summary.conversation_id, new Set());
      state.sentKeys.get(summary.conversation_id).add(cannedKey);
    }
    return true;
  },
});

// --- actions ---------------------------------------------------------------------------------

async function act(action, body) {
  const id = state.selected;
  if (!id) return null;
  try {
    const answer = await postJSON(`/desk/conversations/${encodeURIComponent(id)}/${action}`, body);
    showError("");
    if (answer && answer.id && answer.status) queues.update(answer);
    queues.render();
    renderPane();
    return answer;
  } catch (error) {
    actionError(error);
    return null;
  }
}

$("pickup").addEventListener("click", () => act("pickup"));
$("close").addEventListener("click", () => act("close"));
$("reopen").addEventListener("click", () => act("reopen"));

const dialog = $("transfer-dialog");
$("transfer").addEventListener("click", () => {
  $("transfer-form").reset();
  dialog.showModal();
});
$("transfer-cancel").addEventListener("click", () => dialog.close());
$("transfer-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const [kind, target] = $("transfer-to").value.split(":");
  const note = $("transfer-note").value.trim();
  if (!target || !note) {
    ($("transfer-to").value ? $("transfer-note") : $("transfer-to")).focus();
    return;
  }
  const body = kind === "agent" ? { to_agent_id: target, note } : { to_group: target, note };
  const answer = await act("transfer", body);
  if (answer) dialog.close();
});

$("note-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("note-text").value.trim();
  if (!text) return;
  if (await act("notes", { text })) $("note-text").value = "";
});

function setPresence(presence) {
  $("presence").value = presence;
  $("presence-dot").className = `presence-dot presence-${presence}`;
}

$("presence").addEventListener("change", async () => {
  const presence = $("presence").value;
  setPresence(presence);
  try {
    await postJSON("/desk/presence", { presence });
  } catch (error) {
    actionError(error);
  }
});

document.addEventListener("visibilitychange", sendReadReceipt);
setInterval(loadQueues, REFRESH_EVERY_MS);

socket.start();
renderPane();
