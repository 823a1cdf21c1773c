// The webhooks page: the company's endpoints (a platform admin's: every company's), added,
// tested, rotated, disabled and enabled, and one endpoint's delivery log with a retry per
// attempt, all through /api/webhooks.
import { api } from "./api.js";
import { at, button, cell } from "./cells.js";
import { notify } from "./toast.js";

const tbody = document.getElementById("endpoints-body");
const note = document.getElementById("endpoints-note");
const deliveriesBody = document.getElementById("deliveries-body");
const deliveriesOf = document.getElementById("deliveries-of");
const typeSelect = document.getElementById("add-types");
let shown = null; // the endpoint whose deliveries are listed

function endpointRow(e) {
  const tr = document.createElement("tr");
  tr.dataset.endpointId = e.id;
  const path = `/api/webhooks/endpoints/${e.id}`;
  const state = cell(e.enabled ? "enabled" : `disabled: ${e.disabled_reason || ""}`);
  state.className = e.enabled ? "state-on" : "state-off";
  const secret = cell(e.secret);
  secret.className = "secret";
  const actions = document.createElement("td");
  actions.className = "actions";
  actions.append(
    button("Test", async () => {
      const sent = await api("POST", `${path}/test`);
      notify(`test event ${sent.event_id} queued`);
    }),
    button("Rotate secret", async () => {
      await api("POST", `${path}/rotate-secret`, { overlap_s: 86400 });
      notify("new secret; the old one signs too for a day");
      await load();
    }),
    e.enabled
      ? button("Disable", async () => {
          await api("PATCH", path, { enabled: false });
          await load();
        })
      : button("Enable", async () => {
          await api("POST", `${path}/enable`);
          notify("endpoint enabled");
          await load();
        }),
    button("Deliveries", async () => {
      shown = e;
      await loadDeliveries();
    }),
  );
  tr.append(
    cell(e.url), cell(e.company_id), cell(e.event_types.join(", ")), state,
    cell(e.failure_streak), secret, actions,
  );
  return tr;
}

function deliveryRow(d) {
  const tr = document.createElement("tr");
  tr.dataset.deliveryId = d.id;
  const status = cell(d.status_code ?? "—");
  status.className = d.ok ? "state-on" : "state-off";
  const actions = document.createElement("td");
  actions.className = "actions";
  if (!d.ok) {
    actions.append(button("Retry", async () => {
      const job = await api("POST", `/api/webhooks/deliveries/${d.id}/retry`);
      notify(`retry queued as job ${job.job_id}`);
    }));
  }
  tr.append(
    cell(at(d.at)), cell(`${d.event_type} ${d.event_id}`), cell(`${d.attempt}/${d.max_attempts}`),
    status, cell(d.latency_ms === null ? "—" : `${d.latency_ms} ms`), cell(d.error || ""), actions,
  );
  return tr;
}

async function loadDeliveries() {
  if (shown === null) return;
  const data = await api("GET", `/api/webhooks/endpoints/${shown.id}/deliveries?limit=100`);
  deliveriesOf.textContent = `of ${shown.url} (${data.total})`;
  deliveriesBody.replaceChildren(...data.items.map(deliveryRow));
}

async function load() {
  const data = await api("GET", "/api/webhooks/endpoints?limit=200");
  tbody.replaceChildren(...data.items.map(endpointRow));
  note.textContent = data.total ? `${data.total} endpoints.` : "No endpoints yet.";
}

async function loadTypes() {
  const types = await api("GET", "/api/webhooks/event-types");
  typeSelect.replaceChildren(...types.map((t) => new Option(t, t)));
}

document.getElementById("add-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("add-error");
  error.textContent = "";
  const body = {
    url: document.getElementById("add-url").value,
    event_types: [...typeSelect.selectedOptions].map((o) => o.value),
    description: document.getElementById("add-description").value,
  };
  try {
    await api("POST", "/api/webhooks/endpoints", body);
    event.target.reset();
    notify("endpoint added");
    await load();
  } catch (err) {
    error.textContent = err.message;
  }
});
document.getElementById("refresh").addEventListener("click", () => load().catch((err) => notify(err.message, true)));
Promise.all([load(), loadTypes()]).catch((err) => {
  note.textContent = err.message;
});

// The page is wired: its controls answer from now on (the browser tests wait for this).
document.body.dataset.ready = "true";
