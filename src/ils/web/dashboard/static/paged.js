// What the dashboard's paged tables share: the pager (buttons and text with the ids
// `<prefix>-prev`, `<prefix>-info`, `<prefix>-next`), one list request at a time (a newer one
// replaces the one in flight), and a message in the table's one row.
import { api } from "./api.js";
import { h } from "./dialogs.js";

export const PAGE_SIZE = 20;

export class PagedTable {
  // `bodyId`: the table's body; `prefix`: its pager's ids; `columns`: how many it has;
  // `noun`: what its rows are ("jobs"). A subclass gives `query()` (the list's URL for
  // `this.page`) and `render(data)`.
  constructor({ bodyId, prefix, columns, noun }) {
    this.prefix = prefix;
    this.columns = columns;
    this.noun = noun;
    this.page = 1;
    this.total = 0;
    this.loading = null;
    this.body = document.getElementById(bodyId);
    document.getElementById(`${prefix}-prev`).addEventListener("click", () => this.goTo(this.page - 1));
    document.getElementById(`${prefix}-next`).addEventListener("click", () => this.goTo(this.page + 1));
  }

  goTo(page) {
    const pages = Math.max(1, Math.ceil(this.total / PAGE_SIZE));
    this.page = Math.min(Math.max(1, page), pages);
    return this.load();
  }

  async load() {
    const url = this.query();
    this.loading = url;
    let data;
    try {
      data = await api("GET", url);
    } catch (exc) {
      if (this.loading === url) this.message(`Cannot list ${this.noun}: ${exc.message}`);
      return;
    }
    if (this.loading !== url) return;
    this.total = data.total;
    this.render(data);
  }

  message(text) {
    this.body.replaceChildren(h("tr", {}, h("td", { colspan: this.columns, class: "muted" }, text)));
  }

  // The pager for the page `data` is.
  showPage(data) {
    const pages = Math.max(1, Math.ceil(data.total / PAGE_SIZE));
    document.getElementById(`${this.prefix}-info`).textContent = `page ${data.page} of ${pages} · ${data.total} ${this.noun}`;
    document.getElementById(`${this.prefix}-prev`).disabled = data.page <= 1;
    document.getElementById(`${this.prefix}-next`).disabled = data.page >= pages;
  }
}
