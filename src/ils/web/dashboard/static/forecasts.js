// The demand-forecast page: the reorder list at the company's service level (GET
// /api/ai/settings) or another the user picks, and a product's history, forecast and bands drawn
// when its row is chosen (?product=ID opens one directly). The level is sent only when the user
// picked one other than the company's; its admins may save the pick as the company's (PUT).
import { api } from "./api.js";
import { forecastChart } from "./charts.js";

const level = document.getElementById("service-level");
const save = document.getElementById("save-level"); // only for those who may set the level
const levelNote = document.getElementById("level-note");
const tbody = document.getElementById("reorders-body");
const note = document.getElementById("reorders-note");
const caption = document.getElementById("product-caption");
const chart = document.getElementById("chart-forecast");

let companyLevel = null; // the company's own service level, as the API says it

const percent = (value) => `${Math.round(Number(value) * 100)} %`;

// The ?service_level= of a request: none while the company's level is shown.
function levelQuery() {
  return level.value === String(companyLevel) ? "" : `?service_level=${level.value}`;
}

// Each option says its percentage; the company's says so, and is added when not a preset.
function showCompanyLevel() {
  const value = String(companyLevel);
  if (![...level.options].some((o) => o.value === value)) {
    const option = document.createElement("option");
    option.value = value;
    const after = [...level.options].find((o) => Number(o.value) > companyLevel) || null;
    level.insertBefore(option, after);
  }
  for (const option of level.options) {
    option.textContent = percent(option.value) + (option.value === value ? " (company's)" : "");
  }
}

function showSave() {
  if (save) save.hidden = levelQuery() === "";
}

function cell(text, numeric = false) {
  const td = document.createElement("td");
  if (numeric) td.className = "num";
  td.textContent = String(text);
  return td;
}

async function showProduct(productId) {
  const data = await api("GET", `/api/ai/forecasts/products/${productId}${levelQuery()}`);
  const f = data.forecast;
  caption.textContent = f
    ? `${data.sku} ${data.name}: ${f.pattern.label} demand, model ${f.model}` +
      (data.reorder ? `; order ${data.reorder.quantity} now` : "")
    : `${data.sku} ${data.name}: no forecast yet`;
  forecastChart(chart, data.history, f);
}

async function load() {
  const data = await api("GET", `/api/ai/reorders${levelQuery()}`);
  note.textContent = data.made_at
    ? `From the forecast made ${new Date(data.made_at).toLocaleString()} (history to ${data.history_end}); ${data.items.length} products to order at ${percent(data.service_level)} service.`
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

async function saveLevel() {
  save.disabled = true;
  try {
    const saved = await api("PUT", "/api/ai/settings", { service_level: Number(level.value) });
    companyLevel = saved.service_level;
    showCompanyLevel();
    level.value = String(companyLevel);
    levelNote.textContent = `Saved: the company's service level is now ${percent(companyLevel)}.`;
    showSave();
  } catch (err) {
    levelNote.textContent = err.message;
  } finally {
    save.disabled = false;
  }
}

async function start() {
  companyLevel = (await api("GET", "/api/ai/settings")).service_level;
  showCompanyLevel();
  level.value = String(companyLevel);
  level.disabled = false;
  level.addEventListener("change", () => {
    levelNote.textContent = "";
    showSave();
    load().catch((err) => {
      note.textContent = err.message;
    });
  });
  if (save) save.addEventListener("click", saveLevel);
  // The page is wired: its controls answer from now on (the browser tests wait for this).
  document.body.dataset.ready = "true";
  await load();
}

start().catch((err) => {
  note.textContent = err.message;
});
