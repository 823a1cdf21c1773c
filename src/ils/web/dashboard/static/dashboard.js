// The live queue dashboard: queue cards, charts and the workers table fed by the server-sent
// event stream (/api/queue/events), with the queue actions behind a confirmation dialog.
import { api, goToLogin } from "./api.js";
import { depthChart, throughputChart } from "./charts.js";
import { DeadLettersView } from "./deadletters.js";
import { confirmAction, h } from "./dialogs.js";
import { JobsView, when } from "./jobs.js";
import { notify } from "./toast.js";

const body = document.body;
const QUEUES = body.dataset.queues.split(",");
const CAN_ACT = body.dataset.canAct === "true"; // the viewer's own jobs: retry, remove...
const CAN_OPERATE = body.dataset.canOperate === "true"; // whole queues: platform operator only
const COUNT_STATES = body.dataset.countStates.split(","); // ils.queue.states.COUNT_STATES
const FINAL_STATES = body.dataset.finalStates.split(","); // what a queue can be cleaned of
const DEPTH_SAMPLES = 300; // five minutes at one snapshot a second
const THROUGHPUT_EVERY_MS = 15_000;

let snapshot = null;
const depth = []; // [{t, waiting: {queue: n}}]
let throughput = null;

const jobs = new JobsView({ canAct: CAN_ACT, notify, onChanged: () => jobs.load() });
const deadLetters = new DeadLettersView({
  canAct: CAN_ACT,
  notify,
  panel: jobs.panel,
  onOpen: () => (jobs.detailJob = null), // the panel no longer follows a job
  onChanged: () => jobs.load(),
});

// -- queue cards ---------------------------------------------------------------------------

function queueAction(queue, label, text, method, path, { danger = false, fields = [], bodyOf } = {}) {
  return h("button", {
    type: "button",
    class: "btn btn-small",
    dataset: { action: label.toLowerCase().replace(/[^a-z]+/g, "-").replace(/-$/, "") },
    onclick: () =>
      confirmAction({
        title: `${label.replace(/…$/, "")} · ${queue}`,
        text,
        confirmLabel: label.replace(/…$/, ""),
        danger,
        fields,
        run: async (values) => {
          const result = await api(method, `/api/queue/${queue}/${path}`, bodyOf ? bodyOf(values) : undefined);
          const count = result && typeof result.count === "number" ? ` (${result.count} jobs)` : "";
          notify(`${label.replace(/…$/, "")}: ${queue}${count}`);
          jobs.load();
        },
      }),
  }, label);
}

function cardActions(queue) {
  const retryFailed = queueAction(queue, "Retry failed", "Every failed job of the queue goes back to waiting.", "POST", "retry-failed");
  if (!CAN_OPERATE) {
    // A company's admin retries its own failed jobs; the queue itself is the operator's.
    return { box: h("div", { class: "actions" }, retryFailed), pause: null, resume: null, rateClear: null, concClear: null };
  }
  const pause = queueAction(queue, "Pause", "Workers stop taking this queue's jobs; running ones finish.", "POST", "pause");
  const resume = queueAction(queue, "Resume", "Workers take this queue's jobs again.", "POST", "resume");
  const rateClear = queueAction(queue, "Clear rate limit", "The configured rate limit applies again.", "DELETE", "rate-limit");
  const concClear = queueAction(queue, "Clear concurrency", "The run-time concurrency cap is lifted.", "DELETE", "concurrency");
  const box = h("div", { class: "actions" },
    pause,
    resume,
    retryFailed,
    queueAction(queue, "Clean…", "Delete finished jobs older than an age.", "POST", "clean", {
      danger: true,
      fields: [
        { name: "state", label: "Jobs", type: "select", options: FINAL_STATES, value: FINAL_STATES[0] },
        { name: "older_than_s", label: "Finished more than (seconds) ago", value: 3600, min: 0 },
      ],
      bodyOf: (v) => v,
    }),
    queueAction(queue, "Rate limit…", "At most this many jobs per window, across all workers.", "PUT", "rate-limit", {
      fields: [
        { name: "max", label: "Jobs", value: 10, min: 1 },
        { name: "duration_ms", label: "Per (milliseconds)", value: 1000, min: 1 },
      ],
      bodyOf: (v) => v,
    }),
    rateClear,
    queueAction(queue, "Concurrency…", "At most this many jobs at once, across all workers.", "PUT", "concurrency", {
      fields: [{ name: "concurrency", label: "Jobs at once", value: 1, min: 1 }],
      bodyOf: (v) => v,
    }),
    concClear,
  );
  return { box, pause, resume, rateClear, concClear };
}

const cards = {};
function buildCards() {
  const holder = document.getElementById("cards");
  for (const queue of QUEUES) {
    const values = {};
    const counts = h("dl", { class: "counts" },
      COUNT_STATES.map((state) => {
        values[state] = h("dd", { dataset: { count: state } }, "—");
        return h("div", { class: `count count-${state}` }, h("dt", {}, state), values[state]);
      }),
    );
    const dot = h("span", { class: "dot", dataset: { health: "unknown" } });
    const dotText = h("span", { class: "visually-hidden" }, "health unknown");
    const paused = h("span", { class: "badge badge-paused", hidden: true }, "paused");
    const limits = h("p", { class: "limits" });
    const workers = h("p", { class: "muted workers-line" });
    const view = h("button", {
      type: "button",
      class: "btn btn-small",
      onclick: () => {
        jobs.select(queue, jobs.state);
        document.getElementById("jobs").scrollIntoView();
        document.getElementById("jobs-queue").focus();
      },
    }, "Jobs");
    const actions = CAN_ACT ? cardActions(queue) : null;
    const card = h("article", { class: "card", id: `card-${queue}`, "aria-labelledby": `card-${queue}-title` },
      h("header", {}, dot, dotText, h("h3", { id: `card-${queue}-title` }, queue), paused),
      counts,
      limits,
      workers,
      actions ? actions.box : h("div", { class: "actions" }),
    );
    card.querySelector(".actions").prepend(view); // "Jobs" first, then the queue's actions
    holder.append(card);
    cards[queue] = { values, dot, dotText, paused, limits, workers, actions };
  }
}

function limitText(configured, overrides) {
  const parts = [`concurrency ${configured.concurrency}`];
  parts.push(configured.rate_max ? `rate ${configured.rate_max} / ${configured.rate_duration_ms / 1000} s` : "no rate limit");
  const text = [parts.join(" · ")];
  if (overrides && overrides.rate_max) text.push(`override: ${overrides.rate_max} / ${overrides.rate_duration_ms / 1000} s`);
  if (overrides && overrides.concurrency) text.push(`override: ${overrides.concurrency} at once`);
  return text.join(" — ");
}

function renderCards(snap) {
  for (const queue of QUEUES) {
    const info = snap.queues[queue];
    const card = cards[queue];
    for (const state of COUNT_STATES) {
      // Unknown while Redis is down: a dash, never a zero that looks like "empty".
      card.values[state].textContent = info.counts ? String(info.counts[state]) : "—";
    }
    let health = "down";
    let healthText = "Redis unreachable";
    if (snap.redis) {
      health = info.workers > 0 ? "ok" : "warn";
      healthText = info.workers > 0 ? `healthy, ${info.workers} worker process(es)` : "no live worker";
    }
    card.dot.dataset.health = health;
    card.dot.title = healthText;
    card.dotText.textContent = `health: ${healthText}`;
    card.paused.hidden = !info.paused;
    card.limits.textContent = limitText(info.configured, info.overrides);
    card.workers.textContent = info.workers === 1 ? "1 worker process" : `${info.workers} worker processes`;
    if (card.actions && card.actions.pause) {
      const a = card.actions;
      a.pause.hidden = info.paused !== false;
      a.resume.hidden = info.paused !== true;
      a.rateClear.hidden = !(info.overrides && info.overrides.rate_max);
      a.concClear.hidden = !(info.overrides && info.overrides.concurrency);
    }
  }
}

// -- workers -------------------------------------------------------------------------------

function renderWorkers(snap) {
  const rows = (snap.health.worker_processes || []).map((w) =>
    h("tr", {},
      // A company's view has no host or process id either: where workers run is the platform's.
      h("td", {}, w.host == null ? "—" : w.host),
      h("td", { class: "num" }, w.pid == null ? "—" : String(w.pid)),
      h("td", {}, w.queues.join(", ")),
      // A company's view has no job counts here: they span every company's jobs.
      h("td", { class: "num" }, w.active == null ? "—" : String(w.active)),
      h("td", { class: "num" }, w.processed == null ? "—" : String(w.processed)),
      h("td", { class: "num" }, w.failed == null ? "—" : String(w.failed)),
      h("td", {}, when(w.started)),
      h("td", {}, when(w.last_seen)),
    ),
  );
  const tbody = document.getElementById("workers-body");
  const empty = snap.redis ? "No live worker process." : "Unknown while Redis is unreachable.";
  tbody.replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 8, class: "muted" }, empty))]));
}

// -- charts --------------------------------------------------------------------------------

function chartQueues() {
  const chosen = document.getElementById("chart-queue").value;
  return chosen ? [chosen] : QUEUES;
}

function renderDepth() {
  const chosen = chartQueues();
  const samples = depth.map((s) => ({ t: s.t, value: chosen.reduce((n, q) => n + (s.waiting[q] || 0), 0) }));
  depthChart(document.getElementById("chart-depth"), samples);
}

function renderThroughput() {
  if (!throughput) return;
  const chosen = chartQueues();
  const first = throughput.queues[chosen[0]] || [];
  const points = first.map((p, i) => {
    const sum = { minute: p.minute, completed: 0, failed: 0 };
    for (const q of chosen) {
      const point = throughput.queues[q][i];
      sum.completed += point.completed;
      sum.failed += point.failed;
    }
    return sum;
  });
  throughputChart(document.getElementById("chart-throughput"), points);
}

// The per-minute series moves when jobs finish: refetch then, at most every few seconds.
function finishedChanged(previous, snap) {
  if (!previous || !previous.redis) return false;
  return QUEUES.some((q) => {
    const a = previous.queues[q].counts;
    const b = snap.queues[q].counts;
    return a.completed !== b.completed || a.failed !== b.failed;
  });
}

let throughputTimer = null;
function loadThroughputSoon() {
  if (throughputTimer === null) {
    // The runtime flushes its counters about once a second: wait a little longer than that.
    throughputTimer = setTimeout(() => {
      throughputTimer = null;
      loadThroughput();
    }, 3000);
  }
}

async function loadThroughput() {
  try {
    throughput = await api("GET", "/api/queue/throughput?minutes=60");
    renderThroughput();
  } catch (exc) {
    document.getElementById("chart-throughput").textContent = `Throughput unavailable: ${exc.message}`;
  }
}

// -- live updates --------------------------------------------------------------------------

const live = document.getElementById("live");
function setLive(state, text) {
  live.dataset.state = state;
  live.textContent = text;
}

function onSnapshot(snap) {
  const previous = snapshot;
  snapshot = snap;
  const banner = document.getElementById("redis-banner");
  banner.hidden = snap.redis;
  document.getElementById("redis-error").textContent = snap.redis ? "" : snap.error || "";
  setLive(snap.redis ? "live" : "down", snap.redis ? "live" : "Redis down");
  renderCards(snap);
  renderWorkers(snap);
  if (snap.redis) {
    const waiting = {};
    for (const q of QUEUES) waiting[q] = snap.queues[q].counts.waiting;
    depth.push({ t: Date.now(), waiting });
    if (depth.length > DEPTH_SAMPLES) depth.shift();
  }
  renderDepth();
  if (snap.redis && finishedChanged(previous, snap)) {
    loadThroughputSoon();
    deadLetters.load(); // a job that failed for good is recorded before it shows as failed
  }
  const counts = snap.queues[jobs.queue].counts;
  jobs.showCounts(counts);
  // Reload the visible job page when its queue's counts moved (or Redis came back).
  const before = previous && previous.queues[jobs.queue].counts;
  if (JSON.stringify(before) !== JSON.stringify(counts)) jobs.load();
  // An open job panel follows its job while its queue moves.
  const shown = jobs.detailJob;
  if (shown && jobs.panel.open) {
    const was = previous && previous.queues[shown.queue].counts;
    if (JSON.stringify(was) !== JSON.stringify(snap.queues[shown.queue].counts)) jobs.refreshDetail();
  }
}

function connect() {
  const source = new EventSource("/api/queue/events");
  source.addEventListener("snapshot", (event) => onSnapshot(JSON.parse(event.data)));
  source.addEventListener("error", async () => {
    if (source.readyState !== EventSource.CLOSED) {
      setLive("connecting", "reconnecting…");
      return;
    }
    // The server refused the stream (e.g. the session ended): find out why, then retry.
    setLive("connecting", "reconnecting…");
    try {
      await api("GET", "/api/auth/me");
    } catch {
      return; // api() has sent a 401 to the login form
    }
    setTimeout(connect, 3000);
  });
}

// -- wiring --------------------------------------------------------------------------------

document.getElementById("chart-queue").addEventListener("change", () => {
  renderDepth();
  renderThroughput();
});
document.getElementById("jobs-queue").addEventListener("change", () => {
  if (snapshot) jobs.showCounts(snapshot.queues[jobs.queue].counts);
});
document.getElementById("logout").addEventListener("click", async () => {
  try {
    await api("POST", "/api/auth/logout");
  } finally {
    goToLogin();
  }
});

buildCards();
connect();
jobs.load();
deadLetters.load();
loadThroughput();
setInterval(loadThroughput, THROUGHPUT_EVERY_MS);

// The page is wired: its controls answer from now on (the browser tests wait for this).
document.body.dataset.ready = "true";
