// An order's page: what it is (GET /api/orders/{id}) and the lens shapes of its newest OMA file
// (GET /api/orders/{id}/oma/trace.svg, drawn by the render-oma-trace job), or why there are none.
import { api } from "./api.js";

const orderId = document.body.dataset.orderId;
const title = document.getElementById("order-title");
const note = document.getElementById("order-note");
const shape = document.getElementById("shape");
const shapeNote = document.getElementById("shape-note");
const figure = document.getElementById("shape-figure");
const trace = document.getElementById("trace");

function showShape(number) {
  const base = `/api/orders/${orderId}/oma`;
  document.getElementById("oma-download").href = base;
  shapeNote.textContent = "Loading the trace…";
  shape.hidden = false;
  // An <img>, not inline markup: the SVG is shown as a picture and runs nothing.
  trace.addEventListener("load", () => {
    trace.alt = `Lens shapes of order ${number}`;
    shapeNote.textContent = "";
    figure.hidden = false;
  });
  trace.addEventListener("error", () => {
    shapeNote.textContent = "No trace drawn for this order: it has no OMA file yet, or its file is still being read.";
  });
  trace.src = `${base}/trace.svg`;
}

async function load() {
  try {
    const order = await api("GET", `/api/orders/${orderId}`);
    title.textContent = `Order ${order.number}`;
    document.title = `Order ${order.number} · ILS Jobs`;
    document.getElementById("order-customer").textContent = order.customer_name;
    document.getElementById("order-status").textContent = order.status.replaceAll("_", " ");
    document.getElementById("order-facts").hidden = false;
    note.textContent = "";
    showShape(order.number);
  } catch (err) {
    note.textContent = err.status === 404 ? `Order ${orderId} not found.` : `Could not load the order: ${err.message}`;
  }
}

await load();
document.body.dataset.ready = "true";
