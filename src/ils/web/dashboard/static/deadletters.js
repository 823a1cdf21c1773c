// The dead letters (jobs that failed for good): a paged list filtered by queue and by "not
// replayed yet", each one's detail in the panel, and replay (one or the selected) and discard
// behind the confirmation dialog. The API applies the viewer's company and masking.
import { api } from "./api.js";
import { at } from "./cells.js";
import { confirmAction, h } from "./dialogs.js";
import { PAGE_SIZE, PagedTable } from "./paged.js";

const URL = "/api/queue/dead-letters";

export class DeadLettersView extends PagedTable {
  constructor({ canAct, notify, panel, onOpen, onChanged }) {
    super({ bodyId: "dlq-body", prefix: "dlq", columns: 8, noun: "dead letters" });
    this.canAct = canAct;
    this.notify = notify;
    this.panel = panel; // the detail dialog, shared with the job panel
    this.onOpen = onOpen; // the panel now shows a dead letter, not a job
    this.onChanged = onChanged;
    this.selected = new Set();
    this.replaySelected = document.getElementById("dlq-replay-selected");
    for (const id of ["dlq-queue", "dlq-pending"]) {
      document.getElementById(id).addEventListener("change", () => {
        this.page = 1;
        this.load();
      });
    }
    if (this.replaySelected) {
      this.replaySelected.addEventListener("click", () => this.replayMany([...this.selected]));
    }
  }

  query() {
    const params = new URLSearchParams({ page: this.page, page_size: PAGE_SIZE });
    const queue = document.getElementById("dlq-queue").value;
    if (queue) params.set("queue", queue);
    if (document.getElementById("dlq-pending").checked) params.set("replayed", "false");
    return `${URL}?${params}`;
  }

  render(data) {
    const shown = new Set(data.dead_letters.map((d) => d.id));
    this.selected = new Set([...this.selected].filter((id) => shown.has(id)));
    if (!data.dead_letters.length) {
      this.message("No dead letters.");
    } else {
      this.body.replaceChildren(...data.dead_letters.map((d) => this.row(d)));
    }
    this.markSelection();
    this.showPage(data);
  }

  row(d) {
    const cells = [];
    if (this.canAct) {
      cells.push(h("td", {}, h("input", {
        type: "checkbox",
        "aria-label": `Select dead letter ${d.id}`,
        checked: this.selected.has(d.id),
        disabled: Boolean(d.replayed_as),
        onchange: (e) => {
          if (e.target.checked) this.selected.add(d.id);
          else this.selected.delete(d.id);
          this.markSelection();
        },
      })));
    }
    cells.push(
      h("td", {}, h("button", {
        type: "button",
        class: "link",
        "aria-label": `Open dead letter ${d.id}`,
        onclick: () => this.open(d.id),
      }, String(d.id))),
      h("td", {}, `${d.queue} · ${d.name}`),
      h("td", {}, d.job_id),
      h("td", { class: "num" }, String(d.attempts)),
      h("td", {}, at(d.last_failed_at)),
      h("td", { class: "reason" }, d.reason),
      h("td", {}, d.replayed_as || "—"),
    );
    return h("tr", { dataset: { deadLetter: d.id } }, cells);
  }

  markSelection() {
    if (!this.replaySelected) return;
    const n = this.selected.size;
    this.replaySelected.disabled = n === 0;
    this.replaySelected.textContent = n ? `Replay selected (${n})` : "Replay selected";
  }

  // -- one dead letter in the panel --------------------------------------------------------

  async open(id) {
    this.onOpen();
    let d;
    try {
      d = await api("GET", `${URL}/${id}`);
    } catch (exc) {
      this.notify(exc.message, true);
      return;
    }
    document.getElementById("detail-title").textContent = `Dead letter ${d.id}`;
    const facts = [
      ["Job", `${d.queue} · ${d.name} · ${d.job_id}`],
      ["Company", d.company_id === null ? "— (system work)" : String(d.company_id)],
      ["Attempts", String(d.attempts)],
      ["First failed", at(d.first_failed_at)],
      ["Last failed", at(d.last_failed_at)],
      ["Replayed as", d.replayed_as ? `${d.replayed_as} (${at(d.replayed_at)})` : "—"],
    ];
    document.getElementById("detail-body").replaceChildren(
      h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
      h("h3", {}, "Failure"), h("p", { class: "reason", id: "dlq-reason" }, d.reason),
      h("h3", {}, "Stack trace"), h("pre", { class: "code" }, d.stack),
      h("h3", {}, "Payload"), h("pre", { class: "code", id: "dlq-payload" }, JSON.stringify(d.payload, null, 2)),
    );
    document.getElementById("detail-actions").replaceChildren(...this.actions(d));
    if (!this.panel.open) this.panel.showModal();
  }

  actions(d) {
    if (!this.canAct) return [];
    const replay = h("button", {
      type: "button",
      class: "btn",
      onclick: () => this.replayMany([d.id]),
    }, d.replayed_as ? "Replayed" : "Replay");
    replay.disabled = Boolean(d.replayed_as);
    const discard = h("button", {
      type: "button",
      class: "btn btn-danger",
      onclick: () => confirmAction({
        title: `Discard dead letter ${d.id}?`,
        text: "The record goes; the failed job stays in its queue until cleaned.",
        confirmLabel: "Discard",
        danger: true,
        run: async () => {
          await api("DELETE", `${URL}/${d.id}`);
          this.notify(`Discarded dead letter ${d.id}`);
          this.panel.close();
          await this.load();
        },
      }),
    }, "Discard");
    return [replay, discard];
  }

  replayMany(ids) {
    if (!ids.length) return;
    const which = ids.length === 1 ? `dead letter ${ids[0]}` : `${ids.length} dead letters`;
    confirmAction({
      title: `Replay ${which}?`,
      text: "Each is enqueued again as a new job (dlq-<id>), once however often it is replayed.",
      confirmLabel: "Replay",
      run: async () => {
        const result = await api("POST", `${URL}/replay`, { ids });
        const done = result.results.filter((r) => r.job_id);
        const refused = result.results.filter((r) => r.error);
        const text = `Replayed ${done.map((r) => r.job_id).join(", ") || "nothing"}`;
        this.notify(refused.length ? `${text}; not replayed: ${refused.map((r) => r.error).join("; ")}` : text, refused.length > 0);
        this.selected.clear();
        if (this.panel.open) this.panel.close();
        await this.load();
        this.onChanged();
      },
    });
  }
}
