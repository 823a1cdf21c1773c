// The event log: the viewer's company's domain events (a platform admin's: every company's),
// newest first, filtered by type and subject, paged by cursor through /api/events; events
// recorded while the page is open arrive over /ws and are added on top when they match.
import { api } from "./api.js";
import { cell } from "./cells.js";
import { notify } from "./toast.js";

const tbody = document.getElementById("events-body");
const note = document.getElementById("events-note");
const typeSelect = document.getElementById("event-type");
const subjectInput = document.getElementById("subject");
const older = document.getElementById("older");
const liveState = document.getElementById("live-state");
const shown = new Set();
let cursor = null;

// An order's subject links to the order's page (its lens shapes).
function subjectCell(e) {
  const td = cell(`${e.subject_type} ${e.subject_id}`);
  if (e.subject_type === "order" && /^\d+$/.test(String(e.subject_id))) {
    const link = document.createElement("a");
    link.href = `/admin/orders/${e.subject_id}`;
    link.textContent = td.textContent;
    td.replaceChildren(link);
  }
  return td;
}

function row(e) {
  const tr = document.createElement("tr");
  tr.dataset.eventId = e.id;
  const by = e.actor.kind === "user" ? `user ${e.actor.user_id}` : "system";
  const job = e.actor.job_id ? ` (job ${e.actor.job_id})` : "";
  const data = cell(JSON.stringify(e.data));
  data.className = "event-data";
  tr.append(
    cell(new Date(e.occurred_at).toLocaleString()),
    cell(`${e.type} v${e.version}`),
    cell(e.company_id === null ? "platform" : e.company_id),
    subjectCell(e),
    cell(by + job),
    data,
  );
  return tr;
}

function subject() {
  const [kind, id] = subjectInput.value.trim().split(/\s+/);
  return kind ? { subject_type: kind, ...(id ? { subject_id: id } : {}) } : {};
}

function query(extra) {
  const params = new URLSearchParams({ limit: "50", ...subject(), ...extra });
  if (typeSelect.value) params.set("type", typeSelect.value);
  return `/api/events?${params}`;
}

function matches(e) {
  const s = subject();
  return (!typeSelect.value || e.type === typeSelect.value)
    && (!s.subject_type || e.subject_type === s.subject_type)
    && (!s.subject_id || e.subject_id === s.subject_id);
}

async function load(more = false) {
  const page = await api("GET", query(more && cursor ? { cursor } : {}));
  if (!more) {
    shown.clear();
    tbody.replaceChildren();
  }
  for (const e of page.events) {
    shown.add(e.id);
    tbody.append(row(e));
  }
  cursor = page.next_cursor;
  older.hidden = !cursor;
  note.textContent = tbody.children.length
    ? `${tbody.children.length} events shown, newest first; times in this browser's zone.`
    : "No events match.";
}

async function loadTypes() {
  const types = await api("GET", "/api/events/types");
  const names = [...new Set(types.map((t) => t.type))].sort();
  typeSelect.append(...names.map((name) => new Option(name, name)));
}

function live() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws`);
  socket.addEventListener("open", () => { liveState.textContent = "live"; });
  socket.addEventListener("close", () => { liveState.textContent = "not live: refresh for new events"; });
  socket.addEventListener("message", (message) => {
    const body = JSON.parse(message.data);
    if (body.type !== "event" || shown.has(body.event.id) || !matches(body.event)) return;
    shown.add(body.event.id);
    tbody.prepend(row(body.event));
  });
}

const reload = () => load().catch((err) => notify(err.message, true));
document.getElementById("refresh").addEventListener("click", reload);
typeSelect.addEventListener("change", reload);
subjectInput.addEventListener("change", reload);
older.addEventListener("click", () => load(true).catch((err) => notify(err.message, true)));
loadTypes().catch((err) => notify(err.message, true));
load().catch((err) => { note.textContent = err.message; });
live();

// The page is wired: its controls answer from now on (the browser tests wait for this).
document.body.dataset.ready = "true";
