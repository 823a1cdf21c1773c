// Small SVG charts drawn by hand: a bar chart of completed/failed per minute and a line chart
// of waiting depth. Fixed viewBox, scaled by CSS, so text keeps its proportions.

const NS = "http://www.w3.org/2000/svg";
const W = 640;
const H = 200;
const PAD = { left: 44, right: 12, top: 12, bottom: 26 };

function el(name, attrs = {}, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

// A "nice" top for the y axis: 1, 2 or 5 times a power of ten, at least 4.
function niceMax(value) {
  if (value <= 4) return 4;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}

function hhmm(ms) {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

function frame(label, yMax) {
  const svg = el("svg", {
    viewBox: `0 0 ${W} ${H}`,
    role: "img",
    "aria-label": label,
    class: "chart-svg",
  });
  const plotH = H - PAD.top - PAD.bottom;
  for (let i = 0; i <= 4; i++) {
    const y = PAD.top + plotH - (plotH * i) / 4;
    svg.append(el("line", { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, class: "grid" }));
    const value = Math.round((yMax * i) / 4);
    svg.append(el("text", { x: PAD.left - 6, y: y + 4, class: "tick", "text-anchor": "end" }, value));
  }
  return svg;
}

function xLabels(svg, t0, t1) {
  const y = H - 8;
  svg.append(el("text", { x: PAD.left, y, class: "tick" }, hhmm(t0)));
  svg.append(el("text", { x: W - PAD.right, y, class: "tick", "text-anchor": "end" }, hhmm(t1)));
}

function legend(container, items) {
  const list = document.createElement("ul");
  list.className = "legend";
  for (const [cls, text] of items) {
    const li = document.createElement("li");
    li.innerHTML = `<span class="swatch ${cls}"></span>`;
    li.append(text);
    list.append(li);
  }
  container.append(list);
}

// points: [{minute (epoch s), completed, failed}], oldest first; bars stacked per minute.
export function throughputChart(container, points) {
  const completed = points.reduce((n, p) => n + p.completed, 0);
  const failed = points.reduce((n, p) => n + p.failed, 0);
  const yMax = niceMax(Math.max(0, ...points.map((p) => p.completed + p.failed)));
  const label = `Last ${points.length} minutes: ${completed} completed, ${failed} failed`;
  const svg = frame(label, yMax);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(points.length, 1);
  const barW = Math.max(slot - 2, 1);
  points.forEach((p, i) => {
    const x = PAD.left + i * slot + 1;
    const hDone = (plotH * p.completed) / yMax;
    const hFail = (plotH * p.failed) / yMax;
    const base = PAD.top + plotH;
    if (hDone > 0) {
      svg.append(el("rect", { x, y: base - hDone, width: barW, height: hDone, class: "bar-ok" }));
    }
    if (hFail > 0) {
      const y = base - hDone - hFail;
      svg.append(el("rect", { x, y, width: barW, height: hFail, class: "bar-fail" }));
    }
  });
  if (points.length) {
    xLabels(svg, points[0].minute * 1000, points[points.length - 1].minute * 1000);
  }
  container.replaceChildren(svg);
  legend(container, [
    ["bar-ok", `completed (${completed})`],
    ["bar-fail", `failed (${failed})`],
  ]);
}

// samples: [{t (epoch ms), value}], oldest first; one line.
export function depthChart(container, samples) {
  const last = samples.length ? samples[samples.length - 1].value : 0;
  const yMax = niceMax(Math.max(0, ...samples.map((s) => s.value)));
  const svg = frame(`Waiting jobs now: ${last}`, yMax);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  if (samples.length > 1) {
    const t0 = samples[0].t;
    const span = Math.max(samples[samples.length - 1].t - t0, 1);
    const xy = samples.map((s) => [
      PAD.left + (plotW * (s.t - t0)) / span,
      PAD.top + plotH - (plotH * s.value) / yMax,
    ]);
    const line = xy.map(([x, y], i) => `${i ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`);
    const area = `${line.join(" ")} L${xy[xy.length - 1][0]},${PAD.top + plotH} L${PAD.left},${PAD.top + plotH} Z`;
    svg.append(el("path", { d: area, class: "depth-area" }));
    svg.append(el("path", { d: line.join(" "), class: "depth-line" }));
    xLabels(svg, t0, samples[samples.length - 1].t);
  }
  container.replaceChildren(svg);
  legend(container, [["depth-line", `waiting (${last} now)`]]);
}

// A product's demand: the days of history as bars, then the forecast's mean as a line inside
// its 95 % and 80 % bands. history: {dates, demand}; forecast: {dates, mean, lower80, upper80,
// lower95, upper95} or null.
export function forecastChart(container, history, forecast) {
  const days = history.dates.length + (forecast ? forecast.dates.length : 0);
  const top = Math.max(1, ...history.demand, ...(forecast ? forecast.upper95 : []));
  const yMax = niceMax(top);
  const total = forecast ? forecast.mean.reduce((a, b) => a + b, 0) : 0;
  const label = forecast
    ? `Demand of the last ${history.dates.length} days and ${total.toFixed(1)} forecast over the next ${forecast.dates.length}`
    : `Demand of the last ${history.dates.length} days; no forecast yet`;
  const svg = frame(label, yMax);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(days, 1);
  const x = (i) => PAD.left + (i + 0.5) * slot;
  const y = (v) => PAD.top + plotH - (plotH * v) / yMax;
  history.demand.forEach((v, i) => {
    if (v > 0) {
      const hBar = (plotH * v) / yMax;
      svg.append(el("rect", { x: x(i) - slot / 2 + 0.5, y: y(v), width: Math.max(slot - 1, 1), height: hBar, class: "bar-history" }));
    }
  });
  if (forecast) {
    const start = history.dates.length;
    const band = (lower, upper, cls) => {
      const upperPts = upper.map((v, i) => `${x(start + i).toFixed(1)},${y(v).toFixed(1)}`);
      const lowerPts = lower.map((v, i) => `${x(start + i).toFixed(1)},${y(v).toFixed(1)}`).reverse();
      svg.append(el("polygon", { points: [...upperPts, ...lowerPts].join(" "), class: cls }));
    };
    band(forecast.lower95, forecast.upper95, "band-95");
    band(forecast.lower80, forecast.upper80, "band-80");
    const line = forecast.mean.map((v, i) => `${i ? "L" : "M"}${x(start + i).toFixed(1)},${y(v).toFixed(1)}`);
    svg.append(el("path", { d: line.join(" "), class: "forecast-line" }));
    const split = PAD.left + start * slot;
    svg.append(el("line", { x1: split, x2: split, y1: PAD.top, y2: PAD.top + plotH, class: "today" }));
  }
  const dates = [...history.dates, ...(forecast ? forecast.dates : [])];
  if (dates.length) {
    svg.append(el("text", { x: PAD.left, y: H - 8, class: "tick" }, dates[0]));
    svg.append(el("text", { x: W - PAD.right, y: H - 8, class: "tick", "text-anchor": "end" }, dates[dates.length - 1]));
  }
  container.replaceChildren(svg);
  legend(container, [
    ["bar-history", "units sold per day"],
    ["forecast-line", "forecast (mean)"],
    ["band-80", "80 % band"],
    ["band-95", "95 % band"],
  ]);
}
