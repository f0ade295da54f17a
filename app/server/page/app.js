// The accord chat page: plain JavaScript, no build step. It talks to the server's /api with a
// bearer token kept in localStorage, and reads replies as Server-Sent Events from a POST.
"use strict";

const TOKEN_KEY = "accord.token";
const $ = (id) => document.getElementById(id);
const state = { token: "", session: null, sending: false, bubble: null };

function headers(extra = {}) {
  return { Authorization: `Bearer ${state.token}`, ...extra };
}

async function api(method, path, body) {
  const init = { method, headers: headers(body ? { "Content-Type": "application/json" } : {}) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(`/api${path}`, init);
  if (!response.ok) throw await failure(response);
  return response.json();
}

async function failure(response) {
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body.error) message = `${body.error.type}: ${body.error.message}`;
  } catch (_) { /* not JSON: keep the status line */ }
  const error = new Error(message);
  error.status = response.status;
  return error;
}

function status(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

// --- token ------------------------------------------------------------------------------------

async function useToken(token) {
  state.token = token.trim();
  if (!state.token) return;
  try {
    const me = await api("GET", "/me");
    localStorage.setItem(TOKEN_KEY, state.token);
    $("whoami").textContent = `Signed in as ${me.id}` + (me.roles.length ? ` (${me.roles.join(", ")})` : "");
    $("new-session").disabled = false;
    status("");
    await loadSessions();
  } catch (error) {
    $("whoami").textContent = "";
    $("new-session").disabled = true;
    status(error.status === 401 ? "That token is not valid here." : error.message, true);
  }
}

// --- sessions ---------------------------------------------------------------------------------

async function loadSessions() {
  const sessions = await api("GET", "/sessions");
  const list = $("sessions");
  list.replaceChildren();
  sessions.sort((a, b) => b.updated_at.localeCompare(a.updated_at));
  for (const session of sessions) {
    const item = document.createElement("li");
    item.dataset.id = session.id;
    item.textContent = `${session.id.slice(0, 8)}${session.agent ? " · " + session.agent : ""}`;
    item.title = `${session.id} (${session.status}, owner ${session.owner})`;
    item.classList.toggle("active", state.session !== null && state.session.id === session.id);
    item.addEventListener("click", () => selectSession(session));
    list.append(item);
  }
}

async function newSession() {
  try {
    const session = await api("POST", "/sessions", {});
    await selectSession(session);
    await loadSessions();
  } catch (error) {
    status(error.message, true);
  }
}

async function selectSession(session) {
  state.session = session;
  state.bubble = null;
  $("session-title").textContent = `Session ${session.id}`;
  $("agent").textContent = session.agent || "";
  showUsage(session.usage);
  for (const item of $("sessions").children) {
    item.classList.toggle("active", item.dataset.id === session.id);
  }
  $("log").replaceChildren();
  const open = session.status === "open";
  $("message").disabled = !open;
  $("send").disabled = !open;
  status(open ? "" : "This session was ended; it can be read but takes no more messages.");
  try {
    for (const message of await api("GET", `/sessions/${session.id}/messages`)) {
      if (message.role === "human") addBubble("you", "You", message.text);
      else if (message.role === "ai" && message.text) addBubble("agent", message.name || "agent", message.text);
    }
  } catch (error) {
    status(error.message, true);
  }
}

// --- the conversation -------------------------------------------------------------------------

function addBubble(kind, name, text) {
  const bubble = document.createElement("div");
  bubble.className = `bubble ${kind}`;
  const label = document.createElement("span");
  label.className = "name";
  label.textContent = name;
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  bubble.append(label, body);
  $("log").append(bubble);
  $("log").scrollTop = $("log").scrollHeight;
  return { agent: name, el: bubble, text: body };
}

function marker(text, kind = "") {
  const note = document.createElement("div");
  note.className = `marker ${kind}`.trim();
  note.textContent = text;
  $("log").append(note);
  $("log").scrollTop = $("log").scrollHeight;
}

function showUsage(usage) {
  $("usage").textContent = usage ? `${usage.tokens} tokens · ${usage.model_calls} model calls` : "";
}

function streamingBubble(agent) {
  if (!state.bubble || state.bubble.agent !== agent) {
    finishBubble();
    state.bubble = addBubble("agent", agent, "");
    state.bubble.el.classList.add("streaming");
  }
  return state.bubble;
}

function finishBubble() {
  if (state.bubble) state.bubble.el.classList.remove("streaming");
  state.bubble = null;
}

const handlers = {
  token(data) {
    const bubble = streamingBubble(data.agent);
    bubble.text.textContent += data.text;
    $("log").scrollTop = $("log").scrollHeight;
  },
  agent(data) { $("agent").textContent = data.agent; },
  message(data) {
    const bubble = state.bubble && state.bubble.agent === data.agent ? state.bubble : streamingBubble(data.agent);
    bubble.text.textContent = data.text;
    finishBubble();
  },
  handoff(data) {
    finishBubble();
    marker(`⇢ ${data.source} hands off to ${data.target}${data.reason ? ": " + data.reason : ""}`);
  },
  route(data) { marker(`↳ routed to ${data.agent}${data.reason ? ": " + data.reason : ""}`); },
  opinion(data) { marker(`${data.agent} (confidence ${data.confidence.toFixed(2)}): ${data.answer}`); },
  vote(data) { marker(`${data.agent} votes ${data.option} (confidence ${data.confidence.toFixed(2)})`); },
  usage(data) { showUsage(data.usage); },
  done(data) {
    finishBubble();
    if (data.reply.agent) $("agent").textContent = data.reply.agent;
  },
  error(data) {
    finishBubble();
    marker(`${data.type}: ${data.message}`, "error");
    status(data.message, true);
  },
};

// Each event is also dispatched on the document as "accord:event", for pages built on this one.
function handle(kind, data) {
  const handler = handlers[kind];
  if (handler) handler(data);
  else if (kind !== "plan" && kind !== "result") marker(`${kind}: ${JSON.stringify(data)}`);
  document.dispatchEvent(new CustomEvent("accord:event", { detail: { kind, data } }));
}

// Server-Sent Events from a POST: EventSource only does GET, so the stream is parsed here.
async function readEvents(response, onEvent) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let kind = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") kind = text;
        else if (field === "data") data.push(text);
      }
      if (data.length) onEvent(kind, JSON.parse(data.join("\n")));
    }
  }
}

async function send(text) {
  if (!state.session || state.sending || !text.trim()) return;
  state.sending = true;
  $("send").disabled = true;
  addBubble("you", "You", text);
  status("The team is working…");
  try {
    const response = await fetch(`/api/sessions/${state.session.id}/messages`, {
      method: "POST",
      headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream" }),
      body: JSON.stringify({ text }),
    });
    if (!response.ok) throw await failure(response);
    await readEvents(response, handle);
    if (!$("status").classList.contains("error")) status("");
    await loadSessions();
  } catch (error) {
    finishBubble();
    marker(error.message, "error");
    status(error.message, true);
  } finally {
    state.sending = false;
    $("send").disabled = false;
  }
}

// --- wiring -----------------------------------------------------------------------------------

window.addEventListener("DOMContentLoaded", () => {
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    useToken($("token").value);
  });
  $("new-session").addEventListener("click", newSession);
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("message").value;
    $("message").value = "";
    send(text);
  });
  $("message").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  // `accord serve` prints a link with the token in the fragment (never sent to the server).
  const fromLink = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromLink) history.replaceState(null, "", location.pathname);
  const token = fromLink || localStorage.getItem(TOKEN_KEY) || "";
  $("token").value = token;
  if (token) useToken(token);
});
