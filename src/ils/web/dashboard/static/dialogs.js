// The confirmation dialog every action goes through, and small DOM helpers shared by the
// dashboard's modules. Native <dialog> with showModal(): focus stays inside and Escape closes.

// Build an element: h("button", {class: "btn", onclick: f}, "text", child, ...)
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const child of children.flat(Infinity)) {
    if (child !== undefined && child !== null) node.append(child);
  }
  return node;
}

// Every element with data-close closes the dialog it is in.
export function wireClose(dialog) {
  for (const button of dialog.querySelectorAll("[data-close]")) {
    button.addEventListener("click", () => dialog.close("cancel"));
  }
}

const dialog = document.getElementById("confirm");
const form = document.getElementById("confirm-form");
const fieldsBox = document.getElementById("confirm-fields");
const errorBox = document.getElementById("confirm-error");
wireClose(dialog);

// A field of the dialog: {name, label, type: "number" | "select", value, min, max, options}
function field(spec) {
  const id = `confirm-field-${spec.name}`;
  let input;
  if (spec.type === "select") {
    input = h("select", { id, name: spec.name });
    for (const option of spec.options) {
      input.append(h("option", { value: option, selected: option === spec.value }, option));
    }
  } else {
    input = h("input", {
      id,
      name: spec.name,
      type: "number",
      required: true,
      min: spec.min,
      max: spec.max,
      value: spec.value,
      inputmode: "numeric",
    });
  }
  return h("div", { class: "field" }, h("label", { for: id }, spec.label), input);
}

let running = null; // the pending action's submit handler

// Ask before acting. `run(values)` does the work; its error is shown in the dialog and the
// dialog stays open, so the user can correct a field or cancel.
export function confirmAction({ title, text, confirmLabel = "Confirm", danger = false, fields = [], run }) {
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  const ok = document.getElementById("confirm-ok");
  ok.textContent = confirmLabel;
  ok.classList.toggle("btn-danger", danger);
  ok.classList.toggle("btn-primary", !danger);
  fieldsBox.replaceChildren(...fields.map(field));
  errorBox.hidden = true;
  running = async () => {
    const values = {};
    for (const spec of fields) {
      const raw = form.elements[spec.name].value;
      values[spec.name] = spec.type === "select" ? raw : Number(raw);
    }
    ok.disabled = true;
    try {
      await run(values);
      dialog.close("done");
    } catch (exc) {
      errorBox.textContent = exc.message;
      errorBox.hidden = false;
    } finally {
      ok.disabled = false;
    }
  };
  dialog.showModal();
  // Focus the first field, else the safe choice (Cancel), never the destructive one.
  (fieldsBox.querySelector("input, select") || dialog.querySelector("[data-close]")).focus();
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (running) running();
});
