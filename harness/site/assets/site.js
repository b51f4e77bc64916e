// harness results site: draws the page's charts on canvases from the data embedded in the page, and the
// comparison page's pick of two groups. No network: the page's data is in <script id="page-data">.
"use strict";

const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"];
const pageData = (() => {
  const element = document.getElementById("page-data");
  return element ? JSON.parse(element.textContent) : {};
})();

function niceTicks(low, high, count) {
  const span = high - low || 1;
  const step = Math.pow(10, Math.floor(Math.log10(span / count)));
  const best = [1, 2, 5, 10].map((m) => m * step).find((s) => span / s <= count) || step * 10;
  const ticks = [];
  for (let t = Math.ceil(low / best) * best; t <= high + best * 1e-9; t += best) ticks.push(+t.toFixed(10));
  return ticks;
}

function extent(chart) {
  const xs = [], ys = [];
  const add = (points) => points.forEach(([x, y]) => { xs.push(x); ys.push(y); });
  chart.series.forEach((s) => add(s.points));
  if (chart.reference_curve) add(chart.reference_curve.points);
  (chart.hlines || []).forEach((h) => ys.push(h.y));
  if (chart.band) { ys.push(chart.band.lo); if (chart.band.hi !== null) ys.push(chart.band.hi); }
  (chart.vlines || []).forEach((v) => xs.push(v.x));
  if (!xs.length) xs.push(0, 1);
  if (!ys.length) ys.push(0, 1);
  let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  const pad = (y1 - y0) * 0.08 || 1;
  return [x0, x1, y0 - pad, y1 + pad];
}

function drawChart(canvas, chart) {
  const ctx = canvas.getContext("2d");
  const [W, H, L, R, T, B] = [canvas.width, canvas.height, 60, 230, 28, 42];
  const [x0, x1, y0, y1] = extent(chart);
  const px = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const py = (y) => H - B - ((y - y0) / (y1 - y0)) * (H - T - B);
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
  ctx.font = "12px sans-serif"; ctx.fillStyle = "#1d2330";
  ctx.fillText(chart.title, L, 16);
  ctx.strokeStyle = "#e3e6ec"; ctx.lineWidth = 1;
  niceTicks(y0, y1, 6).forEach((t) => {
    ctx.beginPath(); ctx.moveTo(L, py(t)); ctx.lineTo(W - R, py(t)); ctx.stroke();
    ctx.fillText(String(t), 8, py(t) + 4);
  });
  niceTicks(x0, x1, 8).forEach((t) => ctx.fillText(String(t), px(t) - 6, H - B + 16));
  ctx.fillText(chart.xlabel, (L + W - R) / 2 - 20, H - 8);
  const legend = [];
  if (chart.band) {
    const hi = chart.band.hi === null ? y1 : chart.band.hi;
    ctx.fillStyle = "rgba(120,120,120,0.15)";
    ctx.fillRect(L, py(hi), W - L - R, py(chart.band.lo) - py(hi));
    legend.push([chart.band.label, "rgba(120,120,120,0.35)", []]);
  }
  (chart.hlines || []).forEach((h) => {
    line(ctx, [[x0, h.y], [x1, h.y]], px, py, "#000", [6, 4]);
    legend.push([h.label, "#000", [6, 4]]);
  });
  if (chart.reference_curve) {
    line(ctx, chart.reference_curve.points, px, py, "#999", []);
    legend.push([chart.reference_curve.label, "#999", []]);
  }
  chart.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    line(ctx, s.points, px, py, color, []);
    s.points.forEach(([x, y]) => { ctx.fillStyle = color; ctx.fillRect(px(x) - 2, py(y) - 2, 4, 4); });
    legend.push([s.label, color, []]);
  });
  (chart.vlines || []).forEach((v) => {
    line(ctx, [[v.x, y0], [v.x, y1]], px, py, "#cb2431", [2, 3]);
    legend.push([v.label, "#cb2431", [2, 3]]);
  });
  legend.forEach(([label, color, dash], i) => {
    const y = T + 8 + i * 17;
    ctx.strokeStyle = color; ctx.setLineDash(dash); ctx.lineWidth = 2;
    ctx.beginPath(); ctx.moveTo(W - R + 10, y); ctx.lineTo(W - R + 30, y); ctx.stroke();
    ctx.setLineDash([]); ctx.fillStyle = "#1d2330";
    ctx.fillText(fitted(ctx, label, R - 40), W - R + 36, y + 4);
  });
}

function fitted(ctx, label, width) {
  let text = label;
  while (text.length > 1 && ctx.measureText(text).width > width) text = text.slice(0, -2) + "…";
  return text;
}

function line(ctx, points, px, py, color, dash) {
  if (!points.length) return;
  ctx.strokeStyle = color; ctx.lineWidth = 1.6; ctx.setLineDash(dash);
  ctx.beginPath();
  points.forEach(([x, y], i) => (i ? ctx.lineTo(px(x), py(y)) : ctx.moveTo(px(x), py(y))));
  ctx.stroke(); ctx.setLineDash([]);
}

function drawCharts() {
  const holder = document.querySelector(".charts");
  if (!holder || !pageData.charts) return;
  pageData.charts.forEach((chart) => {
    const canvas = document.createElement("canvas");
    canvas.id = "chart-" + chart.id; canvas.width = 900; canvas.height = 380;
    holder.appendChild(canvas);
    drawChart(canvas, chart);
  });
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function fixed(value, digits) { return value === null || value === undefined ? "-" : value.toFixed(digits); }

function showComparison() {
  const [a, b] = ["group-a", "group-b"].map((id) => document.getElementById(id).value);
  const out = document.getElementById("comparison");
  out.textContent = "";
  const found = pageData.comparisons.find((c) => c.a.group_id === a && c.b.group_id === b);
  if (!found) {
    const p = document.createElement("p");
    p.textContent = a === b ? "Pick two different groups." : "These groups do not compare (different benchmarks).";
    out.appendChild(p);
    return;
  }
  const table = document.createElement("table");
  table.id = "result";
  const side = (s) => `${fixed(s.mean, 2)} ± ${fixed(s.std, 2)} (n=${s.values.length}${s.unfinished ? ", " + s.unfinished + " unfinished" : ""})`;
  const rows = [
    ["A", `${found.a.group_id}: ${side(found.a)}`],
    ["B", `${found.b.group_id}: ${side(found.b)}`],
    ["B - A", `${fixed(found.difference, 2)} AP`],
    ["p-value (Welch, two-sided)", found.p_value === null ? "- (no spread)" : found.p_value.toPrecision(3)],
    [`p-value (B more than ${found.tolerance} AP worse)`, found.p_worse === null ? "-" : found.p_worse.toPrecision(3)],
    ["verdict", found.worse ? "B is worse" : "B is not worse", found.worse ? "worse" : "not-worse"],
    ["throughput B / A", found.throughput_ratio === null ? "-" : found.throughput_ratio.toFixed(3) + "x"],
  ];
  rows.forEach(([name, value, className]) => {
    const tr = document.createElement("tr");
    tr.append(cell(name), cell(value, className));
    table.appendChild(tr);
  });
  const finding = document.createElement("p");
  finding.id = "finding"; finding.textContent = found.finding;
  const diff = document.createElement("table");
  diff.id = "differences";
  const head = document.createElement("tr");
  ["environment", "A", "B"].forEach((t) => { const th = document.createElement("th"); th.textContent = t; head.appendChild(th); });
  diff.appendChild(head);
  found.differences.forEach((d) => { const tr = document.createElement("tr"); tr.append(cell(d.fact), cell(d.a), cell(d.b)); diff.appendChild(tr); });
  const same = document.createElement("p");
  same.textContent = found.differences.length ? "Environment facts that differ:" : "No environment fact differs.";
  out.append(table, finding, same);
  if (found.differences.length) out.appendChild(diff);
}

function setUpComparison() {
  const [pickA, pickB] = [document.getElementById("group-a"), document.getElementById("group-b")];
  if (!pickA || pageData.groups.length < 2) return;
  const query = new URLSearchParams(location.search);
  const ids = pageData.groups.map((g) => g.id);
  pickB.value = ids.includes(query.get("b")) ? query.get("b") : ids[0];
  const other = pageData.groups.find((g) => g.id !== pickB.value && g.benchmark === pageData.groups[ids.indexOf(pickB.value)].benchmark);
  pickA.value = ids.includes(query.get("a")) ? query.get("a") : (other || pageData.groups[1]).id;
  [pickA, pickB].forEach((pick) => pick.addEventListener("change", showComparison));
  showComparison();
}

drawCharts();
setUpComparison();
