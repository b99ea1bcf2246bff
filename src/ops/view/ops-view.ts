/**
 * The ops view's script (browser, DOM lib). `npm run gen:ops-view` transpiles it into the page
 * that the gateway serves (src/ops/view/ops-page.generated.ts); `npm run typecheck` checks it.
 * It imports nothing: the page stays one self-contained file, with no CDN and no bundler.
 *
 * It polls /admin/ops every second. The first read brings every sale's history kept by the
 * server (the last 15 minutes, per second); later reads ask only for the seconds after the last
 * ones seen (`?since=`), re-reading the last few, which other instances may still add to.
 * The browser authenticates with Basic (any user name, the admin token as password) and sends
 * the same credentials with every fetch; they may also come in the URL (http://ops:TOKEN@host/admin/).
 */

type HealthState = 'ok' | 'warn' | 'bad' | 'idle';
interface Indicator {
  state: HealthState;
  value: string;
  reason: string;
}
interface HistorySecond {
  t: number;
  counts: Record<string, number>;
}
interface OpsSale {
  saleId: string;
  name: string;
  price: number;
  currency: string;
  stock: number;
  available: number;
  held: number;
  sold: number;
  opensAt: string | null;
  closesAt: string | null;
  soldOutAt: string | null;
  status: string;
  queue: { depth: number };
  lanes: Record<string, number>;
  served: Record<string, number>;
  tally: Record<string, Record<string, number>>;
  history: HistorySecond[];
  health: Record<string, Indicator>;
  nowMs: number;
}
interface OpsSnapshot {
  health: Record<string, Indicator>;
  sales: OpsSale[];
}
interface PolicyVersion {
  version: number;
  at: string;
  changes: { path: string; from: unknown; to: unknown }[];
}

/** Seconds re-read on every poll: another instance may still add to them. */
const REREAD_SECONDS = 3;
/** The server keeps this much history; the page keeps no more. */
const HISTORY_SECONDS = 900;

// Okabe-Ito colours; a replay is drawn dashed in the colour of its kind's admissions
const OKABE_ITO = {
  orange: '#E69F00',
  sky: '#56B4E9',
  green: '#009E73',
  yellow: '#F0E442',
  blue: '#0072B2',
  vermillion: '#D55E00',
  purple: '#CC79A7',
  black: '#000000',
};
const SERIES_STYLE: Record<string, { color: string; dash?: string; label: string }> = {
  'order:admitted': { color: OKABE_ITO.green, label: 'new orders' },
  'order:replayed': { color: OKABE_ITO.green, dash: '5 3', label: 'order replays' },
  'payment:admitted': { color: OKABE_ITO.blue, label: 'new payments' },
  'payment:replayed': { color: OKABE_ITO.blue, dash: '5 3', label: 'payment replays' },
  'order:sold_out': { color: OKABE_ITO.vermillion, label: 'order sold_out' },
  'order:rate_limited': { color: OKABE_ITO.orange, label: 'order rate_limited' },
  'payment:rate_limited': { color: OKABE_ITO.orange, dash: '2 2', label: 'payment rate_limited' },
  'order:blocked': { color: OKABE_ITO.purple, label: 'order blocked' },
  'payment:blocked': { color: OKABE_ITO.purple, dash: '2 2', label: 'payment blocked' },
  'payment:token_invalid': { color: OKABE_ITO.black, label: 'payment token_invalid' },
  'order:overloaded': { color: OKABE_ITO.sky, label: 'order overloaded' },
  'payment:overloaded': { color: OKABE_ITO.sky, dash: '2 2', label: 'payment overloaded' },
};
const OTHER_STYLES = [
  { color: OKABE_ITO.black, dash: '6 2 1 2' },
  { color: OKABE_ITO.purple, dash: '1 3' },
  { color: OKABE_ITO.vermillion, dash: '6 2 1 2' },
  { color: OKABE_ITO.orange, dash: '1 3' },
  { color: OKABE_ITO.sky, dash: '6 2 1 2' },
];
const otherStyles = new Map<string, { color: string; dash?: string }>();
function styleOf(name: string): { color: string; dash?: string; label: string } {
  const known = SERIES_STYLE[name];
  if (known) return known;
  if (!otherStyles.has(name)) otherStyles.set(name, OTHER_STYLES[otherStyles.size % OTHER_STYLES.length]!);
  return { ...otherStyles.get(name)!, label: name.replace(':', ' ') };
}

/** Per sale: its history by second, merged across polls. */
const histories = new Map<string, Map<number, Record<string, number>>>();
let lastSecond: number | null = null;

type Child = Node | string | number | null | undefined | false | Child[];
function h(tag: string, attrs: Record<string, string | ((e: Event) => void)> = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v);
  }
  append(el, children);
  return el;
}
function append(el: Element, children: Child[]): void {
  for (const child of children) {
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.append(child);
    else if (child !== null && child !== undefined && child !== false) el.append(String(child));
  }
}
function svg(tag: string, attrs: Record<string, string | number>, ...children: (SVGElement | string)[]): SVGElement {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  el.append(...children);
  return el;
}
const fmt = (n: number) => Number(n).toLocaleString('en-US');
const clock = (ms: number) => new Date(ms).toLocaleTimeString('en-GB', { hour12: false });
// prices are integers in the currency's minor unit (38000 CNY is 380.00), which Intl knows per currency
function money(minor: number, currency: string): string {
  try {
    const digits =
      new Intl.NumberFormat('en-US', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
    const major = minor / 10 ** digits;
    return `${major.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })} ${currency}`;
  } catch {
    // not a currency Intl knows: the raw amount, labelled as such
    return `${fmt(minor)} ${currency} (minor units)`;
  }
}

// opened as http://user:token@host/admin/, the document's URL carries credentials and fetch refuses
// any URL resolved against it; the origin never carries them
class ApiError extends Error {
  constructor(
    message: string,
    readonly body: unknown,
  ) {
    super(message);
  }
}
async function api<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(location.origin + path, {
    ...init,
    headers: { 'Content-Type': 'application/json', ...init?.headers },
  });
  const body: unknown = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) {
    const problem = body as { detail?: string; title?: string } | null;
    throw new ApiError(problem?.detail || problem?.title || `${res.status} ${res.statusText}`, body);
  }
  return body as T;
}

// ---- history and charts ----

function remember(sale: OpsSale): Map<number, Record<string, number>> {
  let seconds = histories.get(sale.saleId);
  if (!seconds) histories.set(sale.saleId, (seconds = new Map()));
  for (const s of sale.history) seconds.set(s.t, s.counts);
  const oldest = Math.floor(sale.nowMs / 1000) - HISTORY_SECONDS;
  for (const t of seconds.keys()) if (t <= oldest) seconds.delete(t);
  return seconds;
}

/** Round numbers for an axis from 0 to max: about `count` steps of 1, 2 or 5 × 10^n. */
function niceStep(max: number, count: number): number {
  const raw = Math.max(max, 1) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
}
const TIME_STEPS = [5, 10, 15, 30, 60, 120, 300, 600, 900];

interface Series {
  name: string;
  label: string;
  color: string;
  dash?: string | undefined;
  points: [number, number][];
  step?: boolean;
}
interface Marker {
  t: number;
  label: string;
  color: string;
}

/** A line chart with a time x axis (seconds, wall clock) and a labelled y axis; markers are vertical lines. */
function lineChart(opts: {
  name: string;
  from: number;
  to: number;
  yLabel: string;
  yMax?: number;
  series: Series[];
  markers?: Marker[];
}): SVGElement {
  const W = 720,
    H = 210,
    L = 52,
    R = 12,
    T = 12,
    B = 38;
  const span = Math.max(opts.to - opts.from, 10);
  const max = opts.yMax ?? Math.max(1, ...opts.series.flatMap((s) => s.points.map((p) => p[1])));
  const yStep = niceStep(max, 4);
  const yTop = opts.yMax ?? Math.ceil(max / yStep) * yStep;
  const x = (t: number) => L + ((t - opts.from) / span) * (W - L - R);
  const y = (v: number) => H - B - (v / yTop) * (H - T - B);
  const el = svg('svg', {
    class: 'chart',
    viewBox: `0 0 ${W} ${H}`,
    role: 'img',
    'aria-label': `${opts.name}: ${opts.yLabel} over time`,
    'data-chart': opts.name,
    'data-first-second': opts.from,
  });
  for (let v = 0; v <= yTop + 1e-9; v += yStep) {
    el.append(svg('line', { class: 'grid', x1: L, x2: W - R, y1: y(v), y2: y(v) }));
    el.append(svg('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, fmt(Math.round(v * 100) / 100)));
  }
  const tStep = TIME_STEPS.find((s) => span / s <= 7) ?? 1800;
  for (let t = Math.ceil(opts.from / tStep) * tStep; t <= opts.to; t += tStep) {
    el.append(svg('line', { class: 'grid', x1: x(t), x2: x(t), y1: T, y2: H - B }));
    el.append(svg('text', { x: x(t), y: H - B + 14, 'text-anchor': 'middle' }, clock(t * 1000)));
  }
  el.append(
    svg('line', { class: 'axis', x1: L, x2: L, y1: T, y2: H - B }),
    svg('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }),
  );
  el.append(
    svg(
      'text',
      { x: 12, y: (T + H - B) / 2, transform: `rotate(-90 12 ${(T + H - B) / 2})`, 'text-anchor': 'middle' },
      opts.yLabel,
    ),
  );
  el.append(svg('text', { x: (L + W - R) / 2, y: H - 4, 'text-anchor': 'middle' }, 'time (local, hh:mm:ss)'));
  for (const m of opts.markers ?? []) {
    if (m.t < opts.from || m.t > opts.to) continue;
    el.append(
      svg('line', {
        x1: x(m.t),
        x2: x(m.t),
        y1: T,
        y2: H - B,
        stroke: m.color,
        'stroke-width': 1.5,
        'stroke-dasharray': '3 3',
        'data-marker': m.label,
      }),
    );
    el.append(svg('text', { x: x(m.t) + 3, y: T + 10, style: `fill:${m.color}` }, m.label));
  }
  for (const s of opts.series) {
    if (s.points.length === 0) continue;
    let d = '';
    s.points.forEach(([t, v], i) => {
      if (i > 0 && s.step) d += ` H${x(t).toFixed(1)}`;
      d += `${i ? ' L' : 'M'}${x(t).toFixed(1)} ${y(v).toFixed(1)}`;
    });
    const attrs: Record<string, string | number> = {
      d,
      fill: 'none',
      stroke: s.color,
      'stroke-width': 2,
      'data-series': s.name,
    };
    if (s.dash) attrs['stroke-dasharray'] = s.dash;
    el.append(svg('path', attrs, svg('title', {}, s.label)));
  }
  return el;
}

function legend(series: Series[], valueText: (s: Series) => string): HTMLElement {
  return h(
    'div',
    { class: 'legend' },
    series.map((s) => {
      const sample = svg(
        'svg',
        { width: 22, height: 8 },
        svg('line', {
          x1: 0,
          x2: 22,
          y1: 4,
          y2: 4,
          stroke: s.color,
          'stroke-width': 3,
          ...(s.dash ? { 'stroke-dasharray': s.dash } : {}),
        }),
      );
      return h('span', { 'data-rate': s.name }, sample, s.label, ' ', h('b', {}, valueText(s)));
    }),
  );
}

/** Per-second decisions (admissions, replays, refusals by reason) over the history kept. */
function decisionsChart(
  sale: OpsSale,
  seconds: Map<number, Record<string, number>>,
  from: number,
  to: number,
): Element[] {
  const names = new Set<string>();
  for (const counts of seconds.values())
    for (const f of Object.keys(counts)) if (f.startsWith('order:') || f.startsWith('payment:')) names.add(f);
  const ordered = [...names].sort(
    (a, b) => (SERIES_STYLE[a] ? 0 : 1) - (SERIES_STYLE[b] ? 0 : 1) || a.localeCompare(b),
  );
  const series: Series[] = ordered.map((name) => {
    const points: [number, number][] = [];
    for (let t = from; t <= to; t++) points.push([t, seconds.get(t)?.[name] ?? 0]);
    return { name, ...styleOf(name), points };
  });
  const total = (s: Series) => fmt(s.points.reduce((a, p) => a + p[1], 0));
  return [
    lineChart({ name: 'decisions', from, to, yLabel: 'requests per second', series }),
    legend(series, (s) => `${total(s)} in view`),
    h(
      'div',
      { class: 'muted', style: 'font-size:12px' },
      `${sale.saleId}: every order and payment decision per second of Redis time, summed over every gateway instance.`,
    ),
  ];
}

/** Seats held and sold over time, with the sale's opening, selling out and closing marked. */
function timelineChart(
  sale: OpsSale,
  seconds: Map<number, Record<string, number>>,
  from: number,
  to: number,
): Element[] {
  const held: [number, number][] = [];
  const sold: [number, number][] = [];
  for (const t of [...seconds.keys()].sort((a, b) => a - b)) {
    const c = seconds.get(t)!;
    if (c['seats:held'] === undefined) continue;
    held.push([t, c['seats:held']]);
    sold.push([t, c['seats:sold'] ?? 0]);
  }
  const now = Math.floor(sale.nowMs / 1000);
  held.push([now, sale.held]);
  sold.push([now, sale.sold]);
  const series: Series[] = [
    { name: 'seats:sold', label: 'sold', color: OKABE_ITO.blue, points: sold, step: true },
    { name: 'seats:held', label: 'held', color: OKABE_ITO.orange, dash: '5 3', points: held, step: true },
  ];
  const at = (iso: string | null) => (iso === null ? null : Math.floor(Date.parse(iso) / 1000));
  const markers: Marker[] = [];
  const opens = at(sale.opensAt),
    soldOut = at(sale.soldOutAt),
    closes = at(sale.closesAt);
  if (opens !== null) markers.push({ t: opens, label: 'opens', color: OKABE_ITO.green });
  if (soldOut !== null) markers.push({ t: soldOut, label: 'sold out', color: OKABE_ITO.vermillion });
  if (closes !== null) markers.push({ t: closes, label: 'closes', color: OKABE_ITO.black });
  const event = (label: string, iso: string | null, field: string) =>
    h(
      'span',
      {},
      `${label} `,
      h('b', { 'data-event': field }, iso === null ? '—' : clock(Date.parse(iso))),
      iso !== null && opens !== null && field !== 'opensAt'
        ? h('span', { class: 'muted' }, ` (+${fmt(Math.round(Date.parse(iso) / 1000 - opens))} s)`)
        : null,
    );
  return [
    h(
      'div',
      { class: 'events' },
      event('opens', sale.opensAt, 'opensAt'),
      event('sold out', sale.soldOutAt, 'soldOutAt'),
      event('closes', sale.closesAt, 'closesAt'),
    ),
    lineChart({ name: 'timeline', from, to, yLabel: 'seats', yMax: Math.max(sale.stock, 1), series, markers }),
    legend(series, (s) => fmt(s.points.at(-1)?.[1] ?? 0)),
  ];
}

// ---- health ----

const STATE_WORD: Record<HealthState, string> = { ok: '✓ ok', warn: '! look', bad: '✕ act now', idle: '– idle' };
function indicator(name: string, label: string, i: Indicator): HTMLElement {
  return h(
    'div',
    { class: 'health', 'data-health': name, 'data-state': i.state, title: i.reason },
    h('b', {}, label, ' · ', STATE_WORD[i.state]),
    h('span', { class: 'value' }, i.value),
  );
}
const SALE_INDICATORS: [string, string][] = [
  ['lag', 'worker lag'],
  ['errors', 'buyer 5xx'],
  ['latency', 'buyer latency'],
  ['refusals', 'refusal spike'],
  ['unknown', 'unknown payments'],
  ['review', 'for review'],
  ['oversell', 'oversell'],
];
function renderStoreHealth(health: Record<string, Indicator>): void {
  document
    .getElementById('health')!
    .replaceChildren(
      ...(['redis', 'ledger'] as const).flatMap((k) =>
        health[k] ? [indicator(k, k === 'redis' ? 'Redis' : 'ledger', health[k])] : [],
      ),
    );
}

// ---- sale cards ----

function table(rows: [string, number, Record<string, string>?][]): HTMLElement {
  return h(
    'table',
    {},
    h(
      'tbody',
      {},
      rows.length
        ? rows.map(([label, n, attrs]) => h('tr', {}, h('td', {}, label), h('td', { class: 'n', ...attrs }, fmt(n))))
        : h('tr', {}, h('td', { class: 'muted' }, 'none yet')),
    ),
  );
}

function saleCard(sale: OpsSale): HTMLElement {
  const seconds = remember(sale);
  const now = Math.floor(sale.nowMs / 1000);
  // from the opening (or the oldest second kept) to now, at least 20 s
  const opens = sale.opensAt === null ? null : Math.floor(Date.parse(sale.opensAt) / 1000);
  const candidates = [...seconds.keys(), ...(opens !== null && opens > now - HISTORY_SECONDS ? [opens] : [])];
  const first = Math.min(now - 20, Math.min(...candidates, now) - 2);
  const pct = (n: number) => `${sale.stock > 0 ? (100 * n) / sale.stock : 0}%`;
  const order = sale.tally.order ?? {},
    payment = sale.tally.payment ?? {},
    outcome = sale.tally.outcome ?? {},
    failure = sale.tally.failure ?? {};
  const refusals = (kind: 'order' | 'payment', counts: Record<string, number>) =>
    Object.entries(counts)
      .filter(([r]) => r !== 'admitted' && r !== 'replayed')
      .map(([r, n]): [string, number, Record<string, string>] => [
        `${kind} refused: ${r}`,
        n,
        { 'data-decision': `${kind}:${r}` },
      ]);
  const historyFrom = seconds.size ? String(Math.min(...seconds.keys())) : '';
  return h(
    'section',
    { class: 'card', 'data-sale': sale.saleId, 'data-history-from': historyFrom },
    h(
      'h2',
      {},
      sale.name,
      h('span', { class: `badge ${sale.status}`, 'data-field': 'status' }, sale.status.replace('_', ' ')),
      h(
        'span',
        { class: 'muted', style: 'font-weight:normal;margin-left:8px' },
        `${sale.saleId} · ${money(sale.price, sale.currency)}`,
      ),
    ),
    h(
      'div',
      { class: 'strip' },
      SALE_INDICATORS.map(([k, label]) => (sale.health[k] ? indicator(k, label, sale.health[k]) : null)),
    ),
    h(
      'div',
      { class: 'numbers' },
      (['stock', 'available', 'held', 'sold'] as const).map((f) =>
        h('div', {}, h('span', { class: 'muted' }, f), h('b', { 'data-field': f }, fmt(sale[f]))),
      ),
    ),
    h(
      'div',
      { class: 'bar', title: 'sold / held / available' },
      h('span', { style: `background:${OKABE_ITO.blue};width:${pct(sale.sold)}` }),
      h('span', { style: `background:${OKABE_ITO.orange};width:${pct(sale.held)}` }),
    ),
    h('h3', {}, 'Timeline: seats held and sold'),
    timelineChart(sale, seconds, first, now),
    h('h3', {}, 'Decisions per second (admissions, replays, refusals by reason)'),
    decisionsChart(sale, seconds, first, now),
    h(
      'div',
      { class: 'columns' },
      h(
        'div',
        {},
        h('h3', {}, 'Decisions since the sale began'),
        table([
          ['new orders', order.admitted ?? 0, { 'data-decision': 'order:admitted' }],
          ['order replays', order.replayed ?? 0, { 'data-decision': 'order:replayed' }],
          ['new payments', payment.admitted ?? 0, { 'data-decision': 'payment:admitted' }],
          ['payment replays', payment.replayed ?? 0, { 'data-decision': 'payment:replayed' }],
          ...refusals('order', order),
          ...refusals('payment', payment),
        ]),
      ),
      h(
        'div',
        {},
        h('h3', {}, 'Payment queue'),
        h(
          'div',
          { class: 'row' },
          ['priority', 'standard'].map((lane) =>
            h(
              'span',
              {},
              `${lane} `,
              h('b', { 'data-lane': lane }, fmt(sale.lanes[lane] ?? 0)),
              h(
                'span',
                { class: 'muted' },
                ' waiting, served to #',
                h('span', { 'data-served': lane }, fmt(sale.served[lane] ?? 0)),
              ),
            ),
          ),
          h('span', { class: 'muted' }, `depth ${fmt(sale.queue.depth)}`),
        ),
        h('h3', {}, 'Payment outcomes'),
        table([
          ...Object.entries(outcome).map(([o, n]): [string, number, Record<string, string>] => [
            o,
            n,
            { 'data-outcome': o },
          ]),
          ...Object.entries(failure).map(([code, n]): [string, number, Record<string, string>] => [
            `failed: ${code}`,
            n,
            { 'data-failure': code },
          ]),
        ]),
      ),
    ),
  );
}

const statusEl = document.getElementById('status')!;
async function poll(): Promise<void> {
  try {
    const snapshot = await api<OpsSnapshot>(
      `/admin/ops${lastSecond === null ? '' : `?since=${lastSecond - REREAD_SECONDS}`}`,
    );
    renderStoreHealth(snapshot.health);
    const root = document.getElementById('sales')!;
    root.replaceChildren(
      ...(snapshot.sales.length
        ? snapshot.sales.map(saleCard)
        : [h('section', { class: 'card muted' }, 'No sales yet: create one with PUT /admin/sales/{saleId}.')]),
    );
    const newest = Math.max(...snapshot.sales.map((s) => Math.floor(s.nowMs / 1000)));
    if (Number.isFinite(newest)) lastSecond = newest;
    statusEl.textContent = `live · ${snapshot.sales.length} sale${snapshot.sales.length === 1 ? '' : 's'} · updated ${new Date().toLocaleTimeString('en-GB', { hour12: false })}`;
    statusEl.classList.remove('down');
  } catch (err) {
    // a 503 says which store is down; the sales stay as last seen
    const health =
      err instanceof ApiError ? (err.body as { health?: Record<string, Indicator> } | null)?.health : undefined;
    if (health) renderStoreHealth(health);
    statusEl.textContent = `cannot read /admin/ops: ${(err as Error).message} (retrying; figures below are from the last good read)`;
    statusEl.classList.add('down');
  }
}

// ---- limits panel ----

function message(text: string, error = false): void {
  const el = document.getElementById('limits-message')!;
  el.textContent = text;
  el.className = `message${error ? ' error' : ''}`;
}
function asDryRun(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(asDryRun);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = asDryRun(v);
    if ('limit' in out || 'perSecond' in out) out.dryRun = true;
    return out;
  }
  return value;
}
const policiesEl = document.getElementById('policies') as HTMLTextAreaElement;
async function loadLimits(): Promise<void> {
  const [current, history] = await Promise.all([
    api<{ version: number; policies: unknown; dryRunRefusals?: Record<string, number> }>('/admin/limits'),
    api<{ versions: PolicyVersion[] }>('/admin/limits/history'),
  ]);
  document.getElementById('limits-version')!.textContent = `v${current.version}`;
  policiesEl.value = JSON.stringify(current.policies, null, 2);
  const dry = Object.entries(current.dryRunRefusals ?? {});
  document
    .querySelector('#dry-run-refusals tbody')!
    .replaceChildren(
      ...(dry.length
        ? dry.map(([k, n]) => h('tr', {}, h('td', {}, k), h('td', {}, fmt(n))))
        : [h('tr', {}, h('td', { class: 'muted' }, 'none'))]),
    );
  document
    .querySelector('#history tbody')!
    .replaceChildren(
      ...history.versions.map((v) =>
        h(
          'tr',
          { 'data-version': String(v.version) },
          h('td', {}, `v${v.version}`),
          h('td', { class: 'muted' }, new Date(v.at).toLocaleString()),
          h(
            'td',
            {},
            v.changes.length
              ? v.changes.map((ch) => h('div', {}, `${ch.path}: ${JSON.stringify(ch.from)} → ${JSON.stringify(ch.to)}`))
              : h('span', { class: 'muted' }, '—'),
          ),
          h(
            'td',
            {},
            v.version === current.version
              ? h('span', { class: 'muted' }, 'current')
              : h('button', { onclick: () => void rollback(v.version) }, 'Roll back'),
          ),
        ),
      ),
    );
}
async function apply(dryRun: boolean): Promise<void> {
  let policies: unknown;
  try {
    policies = JSON.parse(policiesEl.value);
  } catch (err) {
    return message(`not JSON: ${(err as Error).message}`, true);
  }
  try {
    const installed = await api<{ version: number }>('/admin/limits', {
      method: 'PUT',
      body: JSON.stringify({ policies: dryRun ? asDryRun(policies) : policies }),
    });
    // the panel shows what is installed before it says so
    await loadLimits();
    message(`applied as v${installed.version}${dryRun ? ' (dry-run)' : ''}`);
  } catch (err) {
    message((err as Error).message, true);
  }
}
async function rollback(version: number): Promise<void> {
  try {
    const installed = await api<{ version: number }>('/admin/limits/rollback', {
      method: 'POST',
      body: JSON.stringify({ version }),
    });
    await loadLimits();
    message(`rolled back to v${version}, now v${installed.version}`);
  } catch (err) {
    message((err as Error).message, true);
  }
}
document.getElementById('apply')!.addEventListener('click', () => void apply(false));
document.getElementById('dry-run')!.addEventListener('click', () => void apply(true));
document.getElementById('reload')!.addEventListener('click', () =>
  loadLimits().then(
    () => message(''),
    (err: Error) => message(err.message, true),
  ),
);

loadLimits().catch((err: Error) => message(err.message, true));
// one poll at a time: a slow answer is not overtaken by the next one
async function pollForever(): Promise<void> {
  for (;;) {
    const started = Date.now();
    await poll();
    await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - started))));
  }
}
void pollForever();

export {};
