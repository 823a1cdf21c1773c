// The schedules tab: every schedule the viewer may see (its company's; a platform admin's: all)
// with its next and last run, and pause, resume and run-now through /api/schedules.
import { api } from "./api.js";
import { at, button, cell } from "./cells.js";
import { notify } from "./toast.js";

const tbody = document.getElementById("schedules-body");
const note = document.getElementById("schedules-note");

function row(s) {
  const tr = document.createElement("tr");
  tr.dataset.scheduleId = s.id;
  const when = s.cron ? s.cron : `every ${s.every_s} s`;
  const state = cell(s.enabled ? "enabled" : "paused");
  state.className = s.enabled ? "state-on" : "state-off";
  const actions = document.createElement("td");
  actions.className = "actions";
  const path = `/api/schedules/${s.id}`;
  const [label, action, done] = s.enabled ? ["Pause", "pause", "paused"] : ["Resume", "resume", "resumed"];
  actions.append(
    button(label, async () => {
      await api("POST", `${path}/${action}`);
      notify(`${s.name}: ${done}`);
      await load();
    }),
    button("Run now", async () => {
      const job = await api("POST", `${path}/run-now`);
      notify(`${s.name}: job ${job.job_id} queued`);
    }),
  );
  tr.append(
    cell(s.name),
    cell(s.company_id === null ? "platform" : s.company_id),
    cell(s.job_type),
    cell(when),
    cell(s.timezone || "company's"),
    state,
    cell(at(s.last_run_at)),
    cell(at(s.next_run_at)),
    actions,
  );
  return tr;
}

async function load() {
  const data = await api("GET", "/api/schedules?limit=200");
  tbody.replaceChildren(...data.items.map(row));
  note.textContent = data.total
    ? `${data.total} schedules; times in this browser's zone.`
    : "No schedules yet.";
}

document.getElementById("refresh").addEventListener("click", () => load().catch((err) => notify(err.message, true)));
load().catch((err) => {
  note.textContent = err.message;
});

// The page is wired: its controls answer from now on (the browser tests wait for this).
document.body.dataset.ready = "true";
