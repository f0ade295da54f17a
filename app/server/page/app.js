// The accord chat page: plain JavaScript, no build step. It talks to the server's /api with a
// bearer token kept in localStorage, and reads replies as Server-Sent Events from a POST.
"use strict";

const TOKEN_KEY = "accord.token";
const $ = (id) => document.getElementById(id);
const state = { token: "", me: null, session: null, sending: false, bubble: null, said: {}, run: [], paused: false };

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

// Pattern steps that write a message but are no agent: name the team part that speaks.
const PSEUDO_AGENTS = { tally: "panel vote" };
const speaker = (name) => PSEUDO_AGENTS[name] || name || "agent";

// A one-line version of a long text (a handoff reason is often the whole reply).
function short(text, size = 90) {
  const line = (text || "").replace(/\s+/g, " ").trim();
  const sentence = line.match(/^.+?[.!?](?=\s|$)/);
  const first = sentence && sentence[0].length <= size ? sentence[0] : line;
  return first.length <= size ? first : `${first.slice(0, size - 1).trimEnd()}…`;
}

const percent = (value) => `${Math.round(value * 100)}%`;

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
    state.me = me.id;
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
    const name = document.createElement("span");
    name.className = "session-id";
    name.textContent = session.id;
    const meta = document.createElement("span");
    meta.className = "session-meta";
    const when = new Date(session.updated_at).toLocaleString();
    const ended = session.status === "open" ? "" : ` · ${session.status === "closed" ? "ended" : session.status}`;
    meta.textContent = `${session.agent ? speaker(session.agent) + " · " : ""}${when}${ended}`;
    item.append(name, meta);
    item.title = `${session.id} (${session.status}, owner ${session.owner})`;
    item.classList.toggle("ended", session.status === "closed");
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
  $("session-title").classList.remove("muted");
  $("agent").textContent = session.agent ? speaker(session.agent) : "";
  showUsage(session.usage);
  for (const item of $("sessions").children) {
    item.classList.toggle("active", item.dataset.id === session.id);
  }
  $("log").replaceChildren();
  const open = session.status !== "closed";
  setComposer(session.status === "open");
  $("end-session").hidden = !open;
  $("restore-session").hidden = false;
  $("restore-form").hidden = true;
  status(open ? "" : "This session was ended; it can be read but takes no more messages.");
  try {
    const answers = {};
    for (const message of await api("GET", `/sessions/${session.id}/messages`)) {
      if (message.role === "human") addBubble("you", "You", message.text);
      else if (message.role === "ai" && message.text) {
        const bubble = addBubble("agent", speaker(message.name), message.text);
        if (message.id) answers[message.id] = addThumbs(bubble, message.id);
      }
    }
    // The caller's own ratings, as the audit trail holds them (the latest counts).
    for (const event of await api("GET", `/sessions/${session.id}/audit`)) {
      const thumbs = event.kind === "feedback" && event.actor === state.me && answers[event.details.message_id];
      if (thumbs) thumbs.show(event.details.score);
    }
    if (session.status === "paused") {
      for (const question of await api("GET", `/sessions/${session.id}/questions`)) ask(question);
    }
  } catch (error) {
    status(error.message, true);
  }
}

async function endSession() {
  if (!state.session) return;
  try {
    const session = await api("POST", `/sessions/${state.session.id}/end`);
    await selectSession(session);
    await loadSessions();
  } catch (error) {
    status(error.message, true);
  }
}

// The moments a session can go back to: after each reply, as the audit trail recorded them.
async function showRestore() {
  if (!state.session) return;
  try {
    const trail = await api("GET", `/sessions/${state.session.id}/audit`);
    const choices = $("restore-to");
    choices.replaceChildren();
    // A reply is stamped as it streams, before its checkpoint is written: "after reply N" is
    // the moment the next message (the next reply or user turn) was stamped, or now.
    const messages = trail.filter((e) => e.kind === "message_out" || e.kind === "message_in");
    let reply = 0;
    for (const [index, event] of messages.entries()) {
      if (event.kind !== "message_out") continue;
      reply += 1;
      const next = messages[index + 1];
      const option = document.createElement("option");
      option.value = next ? next.at : new Date().toISOString();
      const when = new Date(event.at).toLocaleTimeString();
      option.textContent = `after reply ${reply} (${speaker(event.agent)}, ${when})`;
      choices.append(option);
    }
    if (!reply) {
      status("Nothing to go back to yet: the session has no reply.");
      return;
    }
    choices.selectedIndex = choices.options.length - 1;
    $("restore-form").hidden = false;
  } catch (error) {
    status(error.message, true);
  }
}

async function restore(at) {
  try {
    await api("POST", `/sessions/${state.session.id}/restore`, { at });
    $("restore-form").hidden = true;
    await selectSession(await api("GET", `/sessions/${state.session.id}`));
    status("Restored: the conversation is back to that moment (later turns stay in the history).");
    await loadSessions();
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
  return { agent: name, el: bubble, label, text: body };
}

// Thumbs up (score 1) and down (score 0) under an answer: the user's rating of it, stored by
// the server as feedback for the agent that wrote it; rating again replaces the rating.
// A thumb drawn as SVG (Material's thumb_up path): emoji fonts are missing on many servers.
const THUMB = "M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L14.17 1 7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z";

function thumbIcon(down) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  if (down) svg.setAttribute("transform", "rotate(180)");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", THUMB);
  svg.append(path);
  return svg;
}

function addThumbs(bubble, messageId) {
  const box = document.createElement("span");
  box.className = "rate";
  const buttons = [[1, "Good answer"], [0, "Bad answer"]].map(([score, label]) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "thumb";
    button.append(thumbIcon(score === 0));
    button.title = label;
    button.setAttribute("aria-label", label);
    button.setAttribute("aria-pressed", "false");
    button.dataset.score = String(score);
    button.addEventListener("click", () => rate(messageId, score, thumbs));
    box.append(button);
    return button;
  });
  const thumbs = {
    show(score) {
      for (const button of buttons) {
        button.setAttribute("aria-pressed", String(Number(button.dataset.score) === score));
      }
    },
  };
  bubble.el.append(box);
  return thumbs;
}

async function rate(messageId, score, thumbs) {
  try {
    await api("POST", `/sessions/${state.session.id}/feedback`, { score, message_id: messageId });
    thumbs.show(score);
    status("Thanks: your rating is saved.");
  } catch (error) {
    status(error.message, true);
  }
}

function marker(text, kind = "", full = "") {
  const note = document.createElement("div");
  note.className = `marker ${kind}`.trim();
  note.textContent = text;
  if (full) note.title = full;
  $("log").append(note);
  $("log").scrollTop = $("log").scrollHeight;
}

// A step's output that is worth reading but not a reply to the user: folded, one click away.
function card(summary, text, kind) {
  const box = document.createElement("details");
  box.className = `card ${kind}`;
  const head = document.createElement("summary");
  head.textContent = summary;
  const body = document.createElement("div");
  body.className = "text";
  body.textContent = text;
  box.append(head, body);
  $("log").append(box);
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
  // The reply as kept replaces what its tokens showed (a gate asked for a missing detail).
  correction(data) {
    const bubble = state.bubble || streamingBubble(speaker(data.agent));
    bubble.text.textContent = data.text;
  },
  agent(data) { $("agent").textContent = speaker(data.agent); },
  message(data) {
    const name = speaker(data.agent);
    const bubble = state.bubble || streamingBubble(name);
    // Tokens name the graph step that streamed them (a coordinator's "synthesis", say);
    // the finished message names the agent that wrote it.
    bubble.agent = name;
    bubble.label.textContent = name;
    bubble.text.textContent = data.text;
    state.said[data.agent] = data.text;
    state.run.push(bubble);
    finishBubble();
  },
  handoff(data) {
    finishBubble();
    // The reason is often the reply just shown in full: then it is not repeated.
    const repeated = data.reason && data.reason.trim() === (state.said[data.source] || "").trim();
    const why = data.reason && !repeated ? `: ${short(data.reason)}` : "";
    marker(`⇢ ${data.source} hands off to ${data.target}${why}`, "", data.reason);
  },
  route(data) { marker(`↳ routed to ${data.agent}${data.reason ? ": " + short(data.reason) : ""}`, "", data.reason); },
  plan(data) { marker(`☐ ${data.worker} is asked to: ${short(data.task)}`, "plan", data.task); },
  result(data) {
    finishBubble();
    card(`✓ ${data.worker} finished: ${short(data.task, 60)}`, data.result, "result");
  },
  opinion(data) {
    finishBubble();
    card(`${data.agent} answers (confidence ${percent(data.confidence)})`, data.answer, "opinion");
  },
  confidence(data) {
    marker(`overall confidence ${percent(data.confidence)}${data.low ? " (low)" : ""}`, data.low ? "warn" : "");
  },
  vote(data) {
    const why = data.rationale ? `: ${short(data.rationale, 70)}` : "";
    marker(`${data.agent} votes ${data.option} (confidence ${percent(data.confidence)})${why}`, "", data.rationale);
  },
  decision(data) {
    finishBubble();
    const counts = Object.entries(data.tally).map(([option, weight]) => `${option} ${weight}`).join(", ");
    const outcome = data.decision ? `Decision: ${data.decision}` : "No decision";
    const sure = data.decision ? ` · confidence ${percent(data.confidence)}` : "";
    marker(`⚖ ${outcome}${sure} · votes ${counts || "none"} · ${data.reason}`, "decision");
  },
  failure(data) {
    finishBubble();
    const tries = data.attempts === 1 ? "1 attempt" : `${data.attempts} attempts`;
    marker(`✗ ${data.agent} failed after ${tries} (${data.error}): ${short(data.message)}`, "error", data.message);
  },
  interrupt(data) {
    finishBubble();
    ask(data);
  },
  usage(data) { showUsage(data.usage); },
  done(data) {
    finishBubble();
    if (data.reply.agent) $("agent").textContent = speaker(data.reply.agent);
    // The finished run names its answers' ids: they can be rated now.
    const shown = state.run.splice(0);
    for (const message of data.reply.messages) {
      if (message.role !== "ai" || !message.text || !message.id) continue;
      const index = shown.findIndex((bubble) => bubble.text.textContent === message.text);
      if (index >= 0) addThumbs(shown.splice(index, 1)[0], message.id);
    }
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
  addBubble("you", "You", text);
  await run("messages", { text });
}

// Streams one run of the session (a message, or the answer to its question) into the log.
async function run(path, body) {
  state.sending = true;
  state.run = [];
  state.paused = false;
  $("send").disabled = true;
  status("The team is working…");
  try {
    const response = await fetch(`/api/sessions/${state.session.id}/${path}`, {
      method: "POST",
      headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream" }),
      body: JSON.stringify(body),
    });
    if (!response.ok) throw await failure(response);
    await readEvents(response, handle);
    if (!$("status").classList.contains("error")) status(state.paused ? WAITING : "");
    await loadSessions();
  } catch (error) {
    finishBubble();
    marker(error.message, "error");
    status(error.message, true);
  } finally {
    state.sending = false;
    setComposer(!state.paused);
  }
}

// --- human in the loop --------------------------------------------------------------------------

const WAITING = "The team is waiting for your answer to its question.";

function setComposer(enabled) {
  $("message").disabled = !enabled;
  $("send").disabled = !enabled;
}

// A question the graph asked (`interrupt`): approve/reject for a tool an agent wants to run,
// a text answer otherwise. The session takes no message until it is answered.
function ask(question) {
  state.paused = true;
  setComposer(false);
  status(WAITING);
  const value = question.value;
  const approval = value && typeof value === "object" && value.type === "approval";
  const box = document.createElement("form");
  box.className = "question";
  box.dataset.id = question.id;
  const text = document.createElement("p");
  text.className = "text";
  if (approval) {
    const args = JSON.stringify(value.args || {});
    text.textContent = `${speaker(value.agent)} asks to run ${value.tool} ${args}`;
  } else {
    const said = typeof value === "string" ? value : value && value.question;
    text.textContent = said || JSON.stringify(value);
  }
  box.append(text);
  const answer = (reply) => {
    for (const control of box.querySelectorAll("button, input")) control.disabled = true;
    box.classList.add("answered");
    run("answer", { answer: reply });
  };
  if (approval) {
    for (const [label, reply] of [["Approve", true], ["Reject", false]]) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = label;
      button.addEventListener("click", () => answer(reply));
      box.append(button);
    }
  } else {
    const input = document.createElement("input");
    input.placeholder = "Your answer";
    input.setAttribute("aria-label", "Your answer");
    const button = document.createElement("button");
    button.type = "submit";
    button.textContent = "Answer";
    box.append(input, button);
    box.addEventListener("submit", (event) => {
      event.preventDefault();
      if (input.value.trim()) answer(input.value);
    });
  }
  $("log").append(box);
  $("log").scrollTop = $("log").scrollHeight;
}

// --- wiring -----------------------------------------------------------------------------------

window.addEventListener("DOMContentLoaded", () => {
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    useToken($("token").value);
  });
  $("new-session").addEventListener("click", newSession);
  $("end-session").addEventListener("click", endSession);
  $("restore-session").addEventListener("click", showRestore);
  $("restore-form").addEventListener("submit", (event) => {
    event.preventDefault();
    restore($("restore-to").value);
  });
  $("restore-cancel").addEventListener("click", () => { $("restore-form").hidden = true; });
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
