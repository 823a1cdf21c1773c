// The demand-forecast page: the reorder list at the chosen service level, and a product's
// history, forecast and bands drawn when its row is chosen (?product=ID opens one directly).
import { api } from "./api.js";
import { forecastChart } from "./charts.js";

const level = document.getElementById("service-level");
const tbody = document.getElementById("reorders-body");
const note = document.getElementById("reorders-note");
const caption = document.getElementById("product-caption");
const chart = document.getElementById("chart-forecast");

function cell(text, numeric = false) {
  const td = document.createElement("td");
  if (numeric) td.className = "num";
  td.textContent = String(text);
  return td;
}

async function showProduct(productId) {
  const data = await api("GET", `/api/ai/forecasts/products/${productId}?service_level=${level.value}`);
  const f = data.forecast;
  caption.textContent = f
    ? `${data.sku} ${data.name}: ${f.pattern.label} demand, model ${f.model}` +
      (data.reorder ? `; order ${data.reorder.quantity} now` : "")
    : `${data.sku} ${data.name}: no forecast yet`;
  forecastChart(chart, data.history, f);
}

async function load() {
  const data = await api("GET", `/api/ai/reorders?service_level=${level.value}`);
  note.textContent = data.made_at
    ? `From the forecast made ${new Date(data.made_at).toLocaleString()} (history to ${data.history_end}); ${data.items.length} products to order.`
    : "No demand forecast has run for your company yet.";
  tbody.replaceChildren(
    ...data.items.map((item) => {
      const row = document.createElement("tr");
      const link = document.createElement("button");
      link.type = "button";
      link.className = "link";
      link.textContent = item.sku;
      link.addEventListener("click", () => showProduct(item.product_id));
      const sku = document.createElement("td");
      sku.append(link);
      row.append(
        sku,
        cell(item.name),
        cell(item.quantity, true),
        cell(item.stock, true),
        cell(item.on_order, true),
        cell(item.demand_at_service_level, true),
        cell(`${Math.round(item.stockout_risk_without_order * 100)} %`, true),
      );
      return row;
    }),
  );
  const asked = new URLSearchParams(location.search).get("product");
  const first = asked || (data.items.length ? data.items[0].product_id : null);
  if (first) await showProduct(first);
}

level.addEventListener("change", load);
load().catch((err) => {
  note.textContent = err.message;
});
