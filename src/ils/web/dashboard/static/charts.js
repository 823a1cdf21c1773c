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
