// The job tables (one queue, one state, paged, newest first) and the job detail panel with
// the actions that apply to the job's state, the flow the job belongs to (as a tree) and, for a
// batch's callback, the batch's progress.
import { api } from "./api.js";
import { confirmAction, h, wireClose } from "./dialogs.js";
import { PAGE_SIZE, PagedTable } from "./paged.js";

// The states a job can be cancelled in (ils.queue.states.CANCELLABLE_STATES).
const CANCELLABLE = new Set(document.body.dataset.cancellableStates.split(","));

export function when(ms) {
  return ms ? new Date(ms).toLocaleString() : "—";
}

function pretty(value) {
  return value === null || value === undefined ? "—" : JSON.stringify(value, null, 2);
}

// What a cancel touched beyond the job itself (a parent's children), for the notice.
function cancelSummary(answer) {
  const done = answer && answer.cancelled;
  if (!done) return "";
  const parts = [];
  if (done.removed.length) parts.push(`${done.removed.length} removed`);
  if (done.stopping.length) parts.push(`${done.stopping.length} asked to stop`);
  if (done.marked.length) parts.push(`${done.marked.length} waiting parent(s) to end cancelled`);
  if (done.left_alone) parts.push(`${done.left_alone} of other companies left alone`);
  return parts.length ? ` (${parts.join(", ")})` : "";
}

export class JobsView extends PagedTable {
  constructor({ canAct, notify, onChanged }) {
    super({ bodyId: "jobs-body", prefix: "page", columns: 6, noun: "jobs" });
    this.canAct = canAct;
    this.notify = notify;
    this.onChanged = onChanged; // an action changed something: refresh what depends on it
    this.queue = document.getElementById("jobs-queue").value;
    this.state = "failed";
    this.panel = document.getElementById("detail");
    wireClose(this.panel);
    this.detailJob = null;
    document.getElementById("jobs-queue").addEventListener("change", (e) => {
      this.select(e.target.value, this.state);
    });
    for (const tab of document.querySelectorAll("#state-tabs .tab")) {
      tab.addEventListener("click", () => this.select(this.queue, tab.dataset.state));
    }
    this.markTabs();
  }

  select(queue, state) {
    this.queue = queue;
    this.state = state;
    this.page = 1;
    document.getElementById("jobs-queue").value = queue;
    this.markTabs();
    return this.load();
  }

  markTabs() {
    for (const tab of document.querySelectorAll("#state-tabs .tab")) {
      tab.setAttribute("aria-pressed", String(tab.dataset.state === this.state));
    }
  }

  // The tabs show the selected queue's counts, from the live snapshot.
  showCounts(counts) {
    for (const badge of document.querySelectorAll("[data-tab-count]")) {
      const n = counts ? counts[badge.dataset.tabCount] : undefined;
      badge.textContent = n === undefined ? "" : `(${n})`;
    }
  }

  // The list's URL for this.page (one request at a time: see PagedTable.load).
  query() {
    return `/api/queue/${this.queue}/jobs?state=${this.state}&page=${this.page}&page_size=${PAGE_SIZE}`;
  }

  render(data) {
    const caption = `${data.state} jobs of ${data.queue}`;
    document.getElementById("jobs-caption").textContent = caption;
    if (!data.jobs.length) {
      this.message(`No ${data.state} jobs in ${data.queue}.`);
    } else {
      this.body.replaceChildren(
        ...data.jobs.map((job) =>
          h(
            "tr",
            { dataset: { jobId: job.id } },
            h("td", {}, h("button", {
              type: "button",
              class: "link",
              "aria-label": `Open job ${job.id}`,
              onclick: () => this.open(data.queue, job.id),
            }, job.id)),
            h("td", {}, job.name),
            h("td", { class: "num" }, `${job.attempts_made}/${job.attempts}`),
            h("td", {}, when(job.timestamp)),
            h("td", {}, when(job.finished_on)),
            h("td", { class: "reason" }, job.failed_reason || (job.state === "cancelled" ? "cancelled" : "")),
          ),
        ),
      );
    }
    this.showPage(data);
  }

  // -- the detail panel ------------------------------------------------------------------

  async open(queue, id) {
    this.detailJob = { queue, id };
    await this.refreshDetail();
    if (!this.panel.open) this.panel.showModal();
  }

  async refreshDetail() {
    if (!this.detailJob) return;
    const { queue, id } = this.detailJob;
    const body = document.getElementById("detail-body");
    let job;
    try {
      job = await api("GET", `/api/queue/${queue}/jobs/${encodeURIComponent(id)}`);
    } catch (exc) {
      body.replaceChildren(h("p", { class: "form-error" }, exc.message));
      document.getElementById("detail-actions").replaceChildren();
      this.actionsFor = null;
      return;
    }
    document.getElementById("detail-title").textContent = `${queue} · job ${job.id}`;
    const facts = [
      ["Name", job.name],
      ["State", h("span", { class: `state state-${job.state}`, id: "detail-state" }, job.state)],
      ["Attempts", `${job.attempts_made} of ${job.attempts}`],
      ["Progress", pretty(job.progress)],
      ["Created", when(job.timestamp)],
      ["Started", when(job.processed_on)],
      ["Finished", when(job.finished_on)],
    ];
    if (job.delay) facts.push(["Delay", `${job.delay} ms`]);
    if (job.parent) facts.push(["Parent", `${job.parent.queue} ${job.parent.id}`]);
    const blocks = [h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]))];
    if (job.failed_reason) {
      blocks.push(h("h3", {}, "Failure"), h("p", { class: "reason", id: "detail-reason" }, job.failed_reason));
    }
    if (job.stacktrace.length) {
      blocks.push(h("h3", {}, "Stack trace"), h("pre", { class: "code" }, job.stacktrace.join("\n\n")));
    }
    blocks.push(h("h3", {}, "Payload"), h("pre", { class: "code", id: "detail-payload" }, pretty(job.data)));
    blocks.push(h("h3", {}, "Options"), h("pre", { class: "code" }, pretty(job.options)));
    if (job.return_value !== null) {
      blocks.push(h("h3", {}, "Return value"), h("pre", { class: "code" }, pretty(job.return_value)));
    }
    const logTitle = job.log_count > job.logs.length ? `Logs (newest ${job.logs.length} of ${job.log_count})` : "Logs";
    blocks.push(h("h3", {}, logTitle), h("pre", { class: "code" }, job.logs.join("\n") || "—"));
    if (job.parent || job.children.length) {
      blocks.push(h("h3", {}, "Flow"), await this.flowTree(queue, job.id));
    }
    if (job.children.length) {
      const batch = await this.batchProgress(job.id);
      if (batch) blocks.push(h("h3", {}, "Batch"), batch);
    }
    body.replaceChildren(...blocks);
    // Live refreshes keep the buttons (and the keyboard focus on them) unless the state moved.
    const key = `${queue}/${job.id}/${job.state}`;
    if (this.actionsFor !== key) {
      this.actionsFor = key;
      document.getElementById("detail-actions").replaceChildren(...this.jobActions(queue, job));
    }
  }

  // The whole flow, from its root; the job shown is in bold, the others open on a click.
  async flowTree(queue, id) {
    let root;
    try {
      root = await api("GET", `/api/queue/${queue}/jobs/${encodeURIComponent(id)}/flow`);
    } catch (exc) {
      return h("p", { class: "muted" }, `Cannot read the flow: ${exc.message}`);
    }
    return h("ul", { class: "flow-tree", id: "detail-flow" }, this.flowNode(root, queue, id));
  }

  flowNode(node, queue, current) {
    if (node.hidden) {
      return h("li", { class: "muted" }, `${node.queue} ${node.id} (another company's job)`);
    }
    const name = `${node.queue}/${node.name}`;
    const label = node.id === current && node.queue === queue
      ? h("strong", {}, name)
      : h("button", { type: "button", class: "link", "aria-label": `Open job ${node.id}`,
          onclick: () => this.open(node.queue, node.id) }, name);
    const parts = [label, " ", h("span", { class: `state state-${node.state}` }, node.state)];
    if (node.on_child_failure) {
      parts.push(h("span", { class: "muted" }, ` · a failed child: ${node.on_child_failure}`));
    }
    if (node.failed_reason) parts.push(h("div", { class: "reason" }, node.failed_reason));
    const children = node.children.map((c) => this.flowNode(c, queue, current));
    if (node.children_total > node.children.length) {
      children.push(h("li", { class: "muted" }, `… and ${node.children_total - node.children.length} more`));
    }
    if (children.length) parts.push(h("ul", {}, children));
    return h("li", { dataset: { jobId: node.id } }, parts);
  }

  // A parent that is a batch's callback: its jobs per state; nothing for any other parent.
  async batchProgress(id) {
    let batch;
    try {
      batch = await api("GET", `/api/batches/${encodeURIComponent(id)}`);
    } catch {
      return null;
    }
    const facts = [["Jobs", String(batch.total)], ["Done", batch.done ? "yes" : "no"]];
    for (const [state, count] of Object.entries(batch.counts)) {
      if (count !== null) facts.push([state, String(count)]);
    }
    return h("dl", { class: "facts", id: "detail-batch" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
  }

  jobActions(queue, job) {
    if (!this.canAct) return [];
    const path = `/api/queue/${queue}/jobs/${encodeURIComponent(job.id)}`;
    // `gone`: the job no longer exists afterwards (removed, or cancelled before it ran).
    const act = (label, text, method, url, danger = false, gone = method === "DELETE") =>
      h("button", {
        type: "button",
        class: `btn ${danger ? "btn-danger" : ""}`,
        onclick: () =>
          confirmAction({
            title: `${label} job ${job.id}?`,
            text,
            confirmLabel: label,
            danger,
            run: async () => {
              const answer = await api(method, url);
              this.notify(`${label}: job ${job.id} of ${queue}${cancelSummary(answer)}`);
              if (gone) {
                this.detailJob = null;
                this.panel.close();
              } else {
                await this.refreshDetail();
              }
              this.onChanged();
            },
          }),
      }, label);
    const buttons = [];
    if (job.state === "failed") {
      buttons.push(act("Retry", "The job goes back to waiting and runs again.", "POST", `${path}/retry`));
    }
    if (job.state === "delayed") {
      buttons.push(act("Promote", "The job runs now instead of at its due time.", "POST", `${path}/promote`));
    }
    if (job.state === "waiting-children") {
      buttons.push(act("Cancel job", "Its children that have not finished are cancelled with it (those not running yet are removed, running ones asked to stop); it ends cancelled without running.", "POST", `${path}/cancel`, true));
    } else if (job.state === "active") {
      buttons.push(act("Cancel job", "The worker running it is asked to stop it at its next step; it ends cancelled.", "POST", `${path}/cancel`, true));
    } else {
      if (CANCELLABLE.has(job.state)) {
        buttons.push(act("Cancel job", "The job has not run yet: it is removed and will not run.", "POST", `${path}/cancel`, true, true));
      }
      buttons.push(act("Remove", "The job and its logs are deleted for good.", "DELETE", path, true));
    }
    return buttons;
  }
}
