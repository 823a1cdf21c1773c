// What the list pages (schedules, webhooks, events, dead letters) build their tables from: a
// time in this browser's zone, a text cell, and a small button that reports its action's error
// as a toast.
import { notify } from "./toast.js";

export function at(iso) {
  return iso ? new Date(iso).toLocaleString() : "—";
}

export function cell(text) {
  const td = document.createElement("td");
  td.textContent = String(text);
  return td;
}

export function button(label, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "btn btn-small";
  b.textContent = label;
  b.addEventListener("click", async () => {
    b.disabled = true;
    try {
      await onClick();
    } catch (err) {
      notify(err.message, true);
    } finally {
      b.disabled = false;
    }
  });
  return b;
}
