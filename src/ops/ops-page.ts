/**
 * The ops view: one self-contained page (no CDN, no build step, no dependency), so it works on an
 * air-gapped ops laptop and on every runtime the gateway runs on. It polls /admin/ops every second
 * and draws each sale's counters, queue, payment outcomes and a chart of admissions and refusals
 * per second by reason; the limits panel edits, dry-runs and rolls back /admin/limits.
 * The browser authenticates with Basic (any user name, the admin token as password) and sends
 * the same credentials with every fetch; they may also come in the URL (http://ops:TOKEN@host/admin/).
 */
export const OPS_PAGE = /* html */ `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rushgate ops</title>
<style>
  :root { --fg: #1d232b; --muted: #67707c; --line: #d9dee4; --bg: #f5f7f9; --card: #fff; --bad: #b42318; --good: #117a46; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
  header { display: flex; align-items: baseline; gap: 16px; padding: 12px 20px; background: var(--fg); color: #fff; }
  header h1 { font-size: 17px; margin: 0; }
  header .status { color: #c8d0d9; font-size: 12px; }
  header .status.down { color: #ffb4a8; }
  main { display: grid; grid-template-columns: minmax(0, 1fr) 380px; gap: 16px; padding: 16px 20px; }
  @media (max-width: 1000px) { main { grid-template-columns: 1fr; } }
  section.card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 14px 16px; margin-bottom: 16px; }
  h2 { font-size: 15px; margin: 0 0 8px; }
  h3 { font-size: 13px; margin: 12px 0 6px; color: var(--muted); font-weight: 600; }
  .muted { color: var(--muted); }
  .badge { display: inline-block; padding: 1px 7px; border-radius: 9px; font-size: 12px; background: #e8ecf0; margin-left: 6px; }
  .badge.open { background: #d7f2e3; color: var(--good); }
  .badge.sold_out, .badge.closed { background: #fde4e1; color: var(--bad); }
  .numbers { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 8px; margin: 8px 0; }
  .numbers div { background: var(--bg); border-radius: 4px; padding: 6px 8px; }
  .numbers b { display: block; font-size: 20px; font-variant-numeric: tabular-nums; }
  .bar { display: flex; height: 8px; border-radius: 4px; overflow: hidden; background: #e8ecf0; }
  .bar span { display: block; height: 100%; }
  .row { display: flex; flex-wrap: wrap; gap: 6px 16px; font-variant-numeric: tabular-nums; }
  svg.chart { width: 100%; height: 150px; display: block; background: var(--bg); border-radius: 4px; }
  .legend { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 12px; margin-top: 4px; font-variant-numeric: tabular-nums; }
  .legend i { display: inline-block; width: 10px; height: 3px; margin-right: 4px; vertical-align: middle; }
  textarea { width: 100%; min-height: 260px; font: 12px/1.4 ui-monospace, monospace; border: 1px solid var(--line); border-radius: 4px; padding: 6px; }
  button { font: inherit; padding: 4px 10px; border: 1px solid var(--line); border-radius: 4px; background: #fff; cursor: pointer; }
  button.primary { background: var(--fg); color: #fff; border-color: var(--fg); }
  .actions { display: flex; gap: 8px; margin: 8px 0; }
  .message { font-size: 12px; min-height: 1.4em; }
  .message.error { color: var(--bad); }
  table { width: 100%; border-collapse: collapse; font-size: 12px; }
  td, th { text-align: left; padding: 3px 4px; border-bottom: 1px solid var(--line); vertical-align: top; }
</style>
</head>
<body>
<header><h1>rushgate ops</h1><span class="status" id="status">connecting…</span></header>
<main>
  <div id="sales"><section class="card muted">Loading sales…</section></div>
  <aside>
    <section class="card" id="limits">
      <h2>Limits <span class="badge" id="limits-version"></span></h2>
      <textarea id="policies" spellcheck="false" aria-label="policies (JSON)"></textarea>
      <div class="actions">
        <button class="primary" id="apply">Apply</button>
        <button id="dry-run" title="apply with every policy in dry-run: counted, not enforced">Apply as dry-run</button>
        <button id="reload">Reload</button>
      </div>
      <div class="message" id="limits-message"></div>
      <h3>Dry-run refusals (would have been refused)</h3>
      <table id="dry-run-refusals"><tbody></tbody></table>
      <h3>History</h3>
      <table id="history"><tbody></tbody></table>
    </section>
  </aside>
</main>
<script>
"use strict";
const WINDOW_SECONDS = 120;   // the chart's width
const RATE_SPAN = 5;          // rates are averaged over this many samples (instances add once a second)
const KNOWN_COLORS = {
  "order:admitted": "#117a46", "payment:admitted": "#1f5fbf", "order:sold_out": "#b42318", "order:rate_limited": "#c4780a",
  "payment:rate_limited": "#e8a33d", "order:blocked": "#7a3db8", "payment:blocked": "#a57bd6", "order:limit_exceeded": "#8a5a00",
  "payment:token_invalid": "#d6336c", "payment:payment_pending": "#0f8b8d", "order:overloaded": "#495057", "payment:overloaded": "#868e96",
};
const OTHER_COLORS = ["#5c940d", "#1098ad", "#e64980", "#364fc7", "#f08c00", "#212529"];
const samples = new Map();    // saleId -> [{ t, counts }]
const colorOf = new Map();    // series name -> color

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") el.className = v; else if (k.startsWith("on")) el.addEventListener(k.slice(2), v); else el.setAttribute(k, v);
  }
  for (const child of children.flat()) if (child != null) el.append(child instanceof Node ? child : String(child));
  return el;
}
function svg(tag, attrs) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}
const fmt = (n) => Number(n).toLocaleString("en-US");
// prices are integers in the currency's minor unit (38000 CNY is 380.00), which Intl knows per currency
function money(minor, currency) {
  try {
    const digits = new Intl.NumberFormat("en-US", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
    const major = minor / 10 ** digits;
    return major.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits }) + " " + currency;
  } catch {
    // not a currency Intl knows: the raw amount, labelled as such
    return fmt(minor) + " " + currency + " (minor units)";
  }
}
const rateFmt = (n) => (n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(1));

// opened as http://user:token@host/admin/, the document's URL carries credentials and fetch refuses
// any URL resolved against it; the origin never carries them
async function api(path, init) {
  const headers = { "Content-Type": "application/json", ...(init && init.headers) };
  const res = await fetch(location.origin + path, { ...init, headers });
  const body = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) throw new Error((body && (body.detail || body.title)) || res.status + " " + res.statusText);
  return body;
}

// decisions ("order:admitted", "payment:token_invalid", ...) as one flat record
function decisionCounts(tally) {
  const counts = {};
  for (const kind of ["order", "payment"]) for (const [reason, n] of Object.entries(tally[kind] || {})) counts[kind + ":" + reason] = n;
  return counts;
}

function remember(sale) {
  const list = samples.get(sale.saleId) || [];
  if (list.length === 0 || list[list.length - 1].t < sale.nowMs) list.push({ t: sale.nowMs, counts: decisionCounts(sale.tally) });
  while (list.length > WINDOW_SECONDS + RATE_SPAN + 1) list.shift();
  samples.set(sale.saleId, list);
  return list;
}

// per-second rates of each series at each sample, averaged over RATE_SPAN samples
function rates(list) {
  const names = new Set();
  for (const s of list) for (const name of Object.keys(s.counts)) names.add(name);
  const points = [];
  for (let i = 1; i < list.length; i++) {
    const from = list[Math.max(0, i - RATE_SPAN)], to = list[i];
    const seconds = (to.t - from.t) / 1000;
    const r = {};
    for (const name of names) r[name] = seconds > 0 ? Math.max(0, ((to.counts[name] || 0) - (from.counts[name] || 0)) / seconds) : 0;
    points.push({ t: to.t, r });
  }
  return { names: [...names].sort(), points };
}

function color(name) {
  if (!colorOf.has(name)) colorOf.set(name, KNOWN_COLORS[name] || OTHER_COLORS[colorOf.size % OTHER_COLORS.length]);
  return colorOf.get(name);
}

function chart(list) {
  const { names, points } = rates(list);
  const W = 600, H = 150, P = 4;
  const el = svg("svg", { class: "chart", viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none", role: "img", "aria-label": "admissions and refusals per second" });
  const last = points.length ? points[points.length - 1].t : 0;
  const max = Math.max(1, ...points.flatMap((p) => names.map((n) => p.r[n])));
  const x = (t) => W - ((last - t) / 1000 / WINDOW_SECONDS) * W;
  const y = (v) => H - P - (v / max) * (H - 2 * P);
  for (const name of names) {
    const d = points.map((p, i) => (i ? "L" : "M") + x(p.t).toFixed(1) + " " + y(p.r[name]).toFixed(1)).join(" ");
    if (d) el.append(svg("path", { d, fill: "none", stroke: color(name), "stroke-width": 2, "vector-effect": "non-scaling-stroke", "data-series": name }));
  }
  const now = points.length ? points[points.length - 1].r : {};
  const legend = h("div", { class: "legend" }, names.map((n) => h("span", { "data-rate": n }, h("i", { style: "background:" + color(n) }), n.replace(":", " "), " ", h("b", {}, rateFmt(now[n] || 0)), "/s")));
  legend.prepend(h("span", { class: "muted" }, "peak " + rateFmt(max) + "/s ·"));
  return [el, legend];
}

function saleCard(sale) {
  const list = remember(sale);
  const pct = (n) => (sale.stock > 0 ? (100 * n) / sale.stock : 0) + "%";
  const outcomes = Object.entries(sale.tally.outcome || {});
  return h("section", { class: "card", "data-sale": sale.saleId },
    h("h2", {}, sale.name, h("span", { class: "badge " + sale.status, "data-field": "status" }, sale.status.replace("_", " ")),
      h("span", { class: "muted", style: "font-weight:normal;margin-left:8px" }, sale.saleId + " · " + money(sale.price, sale.currency))),
    h("div", { class: "numbers" },
      ["stock", "available", "held", "sold"].map((f) => h("div", {}, h("span", { class: "muted" }, f), h("b", { "data-field": f }, fmt(sale[f]))))),
    h("div", { class: "bar", title: "sold / held / available" },
      h("span", { style: "background:#117a46;width:" + pct(sale.sold) }), h("span", { style: "background:#c4780a;width:" + pct(sale.held) })),
    h("h3", {}, "Payment queue"),
    h("div", { class: "row" }, ["priority", "standard"].map((lane) => h("span", {}, lane + " ", h("b", { "data-lane": lane }, fmt(sale.lanes[lane] || 0)),
        h("span", { class: "muted" }, " waiting, served to #", h("span", { "data-served": lane }, fmt(sale.served[lane] || 0))))),
      h("span", { class: "muted" }, "depth " + fmt(sale.queue.depth))),
    h("h3", {}, "Payment outcomes"),
    h("div", { class: "row" }, outcomes.length ? outcomes.map(([o, n]) => h("span", {}, o + " ", h("b", { "data-outcome": o }, fmt(n)))) : h("span", { class: "muted" }, "none yet")),
    h("h3", {}, "Admissions and refusals per second, last " + WINDOW_SECONDS + " s"),
    chart(list));
}

const statusEl = document.getElementById("status");
async function poll() {
  try {
    const { sales } = await api("/admin/ops");
    const root = document.getElementById("sales");
    root.replaceChildren(...(sales.length ? sales.map(saleCard) : [h("section", { class: "card muted" }, "No sales yet: create one with PUT /admin/sales/{saleId}.")]));
    statusEl.textContent = "live · " + sales.length + " sale" + (sales.length === 1 ? "" : "s") + " · updated " + new Date().toLocaleTimeString();
    statusEl.classList.remove("down");
  } catch (err) {
    statusEl.textContent = "cannot read /admin/ops: " + err.message + " (retrying)";
    statusEl.classList.add("down");
  }
}

// ---- limits panel ----
const message = (text, error) => {
  const el = document.getElementById("limits-message");
  el.textContent = text;
  el.className = "message" + (error ? " error" : "");
};
function asDryRun(value) {
  if (Array.isArray(value)) return value.map(asDryRun);
  if (value && typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = asDryRun(v);
    if ("limit" in out || "perSecond" in out) out.dryRun = true;
    return out;
  }
  return value;
}
async function loadLimits() {
  const [current, history] = await Promise.all([api("/admin/limits"), api("/admin/limits/history")]);
  document.getElementById("limits-version").textContent = "v" + current.version;
  document.getElementById("policies").value = JSON.stringify(current.policies, null, 2);
  const dry = Object.entries(current.dryRunRefusals || {});
  document.querySelector("#dry-run-refusals tbody").replaceChildren(
    ...(dry.length ? dry.map(([k, n]) => h("tr", {}, h("td", {}, k), h("td", {}, fmt(n)))) : [h("tr", {}, h("td", { class: "muted" }, "none"))]));
  document.querySelector("#history tbody").replaceChildren(...history.versions.map((v) =>
    h("tr", { "data-version": v.version },
      h("td", {}, "v" + v.version), h("td", { class: "muted" }, new Date(v.at).toLocaleString()),
      h("td", {}, v.changes.length ? v.changes.map((ch) => h("div", {}, ch.path + ": " + JSON.stringify(ch.from) + " → " + JSON.stringify(ch.to))) : h("span", { class: "muted" }, "—")),
      h("td", {}, v.version === current.version ? h("span", { class: "muted" }, "current")
        : h("button", { onclick: () => rollback(v.version) }, "Roll back")))));
}
async function apply(dryRun) {
  let policies;
  try {
    policies = JSON.parse(document.getElementById("policies").value);
  } catch (err) {
    return message("not JSON: " + err.message, true);
  }
  try {
    const installed = await api("/admin/limits", { method: "PUT", body: JSON.stringify({ policies: dryRun ? asDryRun(policies) : policies }) });
    // the panel shows what is installed before it says so
    await loadLimits();
    message("applied as v" + installed.version + (dryRun ? " (dry-run)" : ""));
  } catch (err) {
    message(err.message, true);
  }
}
async function rollback(version) {
  try {
    const installed = await api("/admin/limits/rollback", { method: "POST", body: JSON.stringify({ version }) });
    await loadLimits();
    message("rolled back to v" + version + ", now v" + installed.version);
  } catch (err) {
    message(err.message, true);
  }
}
document.getElementById("apply").addEventListener("click", () => apply(false));
document.getElementById("dry-run").addEventListener("click", () => apply(true));
document.getElementById("reload").addEventListener("click", () => loadLimits().then(() => message(""), (err) => message(err.message, true)));

loadLimits().catch((err) => message(err.message, true));
poll();
setInterval(poll, 1000);
</script>
</body>
</html>
`;
