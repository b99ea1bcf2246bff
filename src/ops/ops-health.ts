/**
 * The ops view's history and health strip, computed on the server from aggregates only: the
 * per-second history that addTally keeps (decisions, outcomes, latency buckets) and a handful of
 * per-sale keys. Nothing here runs per buyer request.
 */

/** Upper bounds (ms) of the latency buckets counted per second; slower lands in `inf`. */
export const LATENCY_BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000] as const;

/**
 * The bucket field of one latency: `h.<kind>:le<bound>` or `h.<kind>:inf` (kind `lat` for buyer
 * requests, `lag` for the worker's accepted -> settled). `h.` fields go to the history only.
 */
export function latencyField(kind: 'lat' | 'lag', ms: number): string {
  const fields = LATENCY_FIELDS[kind];
  for (let i = 0; i < LATENCY_BUCKETS_MS.length; i++) if (ms <= LATENCY_BUCKETS_MS[i]!) return fields[i]!;
  return fields[LATENCY_BUCKETS_MS.length]!;
}

// built once: a field made per request is a new string, hashed again by every map it meets
const fieldsOf = (kind: string) => [...LATENCY_BUCKETS_MS.map((b) => `h.${kind}:le${b}`), `h.${kind}:inf`];
const LATENCY_FIELDS = { lat: fieldsOf('lat'), lag: fieldsOf('lag') };

/** One second of a sale's history: counts by field, and the seats held and sold at its end. */
export interface HistorySecond {
  /** Unix second (Redis time). */
  t: number;
  counts: Record<string, number>;
}

/** History entries as readOpsView returns them ({ second, json, ... }), oldest first; bad entries skipped. */
export function parseHistory(pairs: readonly string[]): HistorySecond[] {
  const seconds: HistorySecond[] = [];
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const t = Number(pairs[i]);
    try {
      const counts = JSON.parse(pairs[i + 1]!) as Record<string, number>;
      if (Number.isInteger(t) && counts && typeof counts === 'object') seconds.push({ t, counts });
    } catch {
      // an entry that is not JSON is not the view's to repair
    }
  }
  return seconds.sort((a, b) => a.t - b.t);
}

/**
 * The latency at quantile q (0..1) from bucket counts `h.<kind>:le<bound>` summed over `seconds`:
 * the upper bound of the bucket it falls in (null without samples; Infinity past the last bound).
 */
export function quantileMs(seconds: readonly HistorySecond[], kind: 'lat' | 'lag', q: number): number | null {
  const counts = LATENCY_BUCKETS_MS.map((b) => sum(seconds, `h.${kind}:le${b}`));
  const over = sum(seconds, `h.${kind}:inf`);
  const total = counts.reduce((a, b) => a + b, 0) + over;
  if (total === 0) return null;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i]!;
    if (seen >= rank) return LATENCY_BUCKETS_MS[i]!;
  }
  return Infinity;
}

/** A field summed over some seconds. */
export function sum(seconds: readonly HistorySecond[], field: string): number {
  let n = 0;
  for (const s of seconds) n += s.counts[field] ?? 0;
  return n;
}

/** ok: nothing to do; warn: worth a look; bad: needs a human now; idle: nothing to judge. */
export type HealthState = 'ok' | 'warn' | 'bad' | 'idle';

export interface Indicator {
  state: HealthState;
  /** What the indicator shows, e.g. "p50 25 ms · p99 250 ms". */
  value: string;
  /** Why it has its state, in words an ops engineer acts on. */
  reason: string;
}

/**
 * When an indicator turns red. Windows are in seconds of history; the refusal spike ignores the
 * refusals a sale gives anyway (sold out, closed, not open yet).
 */
export const THRESHOLDS = {
  windowSeconds: 60,
  lagP99Ms: 5000,
  /** Payments waiting with no outcome for this long: the worker is stalled. */
  stalledSeconds: 15,
  http5xxShare: 0.01,
  http5xxMin: 5,
  httpP99Ms: 1000,
  spikeSeconds: 10,
  spikeMin: 20,
  spikeShare: 0.5,
  unknownOverdueMs: 30_000,
} as const;

const EXPECTED_REFUSALS = new Set(['admitted', 'replayed', 'sold_out', 'sale_closed', 'sale_not_open']);

export interface SaleHealthInput {
  nowSecond: number;
  history: readonly HistorySecond[];
  queueDepth: number;
  unknown: number;
  unknownOverdue: number;
  review: number;
  oversell: Record<string, string>;
}

export type SaleHealth = Record<
  'lag' | 'errors' | 'latency' | 'refusals' | 'unknown' | 'review' | 'oversell',
  Indicator
>;

const ms = (v: number | null) =>
  v === null
    ? '–'
    : v === Infinity
      ? `> ${LATENCY_BUCKETS_MS.at(-1)! / 1000} s`
      : v >= 1000
        ? `≤ ${v / 1000} s`
        : `≤ ${v} ms`;
const pct = (share: number) => `${(100 * share).toFixed(share < 0.1 ? 1 : 0)}%`;

/** The sale's part of the health strip. */
export function saleHealth(input: SaleHealthInput): SaleHealth {
  const T = THRESHOLDS;
  const recent = input.history.filter((s) => s.t > input.nowSecond - T.windowSeconds);
  const spikeWindow = input.history.filter((s) => s.t > input.nowSecond - T.spikeSeconds);

  const lagP50 = quantileMs(recent, 'lag', 0.5);
  const lagP99 = quantileMs(recent, 'lag', 0.99);
  const settledRecently = input.history.some(
    (s) => s.t > input.nowSecond - T.stalledSeconds && Object.keys(s.counts).some((f) => f.startsWith('outcome:')),
  );
  const acceptedBefore = input.history.some(
    (s) => s.t <= input.nowSecond - T.stalledSeconds && (s.counts['payment:admitted'] ?? 0) > 0,
  );
  const stalled = input.queueDepth > 0 && !settledRecently && acceptedBefore;
  const lag: Indicator = stalled
    ? {
        state: 'bad',
        value: `${input.queueDepth} waiting`,
        reason: `payments wait and none settled in ${T.stalledSeconds} s: is the worker or the ledger down?`,
      }
    : lagP99 === null
      ? { state: 'idle', value: 'p50 – · p99 –', reason: `no payment settled in ${T.windowSeconds} s` }
      : {
          state: lagP99 > T.lagP99Ms ? 'bad' : 'ok',
          value: `p50 ${ms(lagP50)} · p99 ${ms(lagP99)}`,
          reason: `accepted → settled over ${T.windowSeconds} s; red above ${T.lagP99Ms / 1000} s`,
        };

  const total = sum(recent, 'h.http:total');
  const errors5xx = sum(recent, 'h.http:5xx');
  const share = total > 0 ? errors5xx / total : 0;
  const errors: Indicator =
    total === 0
      ? { state: 'idle', value: '–', reason: `no buyer request in ${T.windowSeconds} s` }
      : {
          state: share > T.http5xxShare && errors5xx >= T.http5xxMin ? 'bad' : errors5xx > 0 ? 'warn' : 'ok',
          value: `${pct(share)} (${errors5xx} of ${total})`,
          reason: `5xx of order and payment requests over ${T.windowSeconds} s; red above ${pct(T.http5xxShare)}`,
        };

  const p99 = quantileMs(recent, 'lat', 0.99);
  const latency: Indicator =
    p99 === null
      ? { state: 'idle', value: '–', reason: `no buyer request in ${T.windowSeconds} s` }
      : {
          state: p99 > T.httpP99Ms ? 'bad' : 'ok',
          value: `p99 ${ms(p99)}`,
          reason: `order and payment requests over ${T.windowSeconds} s; red above ${T.httpP99Ms} ms`,
        };

  let decisions = 0;
  let unexpected = 0;
  for (const s of spikeWindow) {
    for (const [field, n] of Object.entries(s.counts)) {
      const [kind, reason] = field.split(':');
      if (kind !== 'order' && kind !== 'payment') continue;
      decisions += n;
      if (!EXPECTED_REFUSALS.has(reason!)) unexpected += n;
    }
  }
  const spikeShare = decisions > 0 ? unexpected / decisions : 0;
  const refusals: Indicator = {
    state:
      unexpected >= T.spikeMin && spikeShare >= T.spikeShare
        ? 'bad'
        : unexpected > 0
          ? 'warn'
          : decisions > 0
            ? 'ok'
            : 'idle',
    value: `${unexpected} in ${T.spikeSeconds} s (${pct(spikeShare)})`,
    reason: `refusals other than sold out / closed / not open; red at ${T.spikeMin}+ and ${pct(T.spikeShare)} of decisions`,
  };

  const unknown: Indicator = {
    state: input.unknownOverdue > 0 ? 'bad' : input.unknown > 0 ? 'warn' : 'ok',
    value: `${input.unknown}${input.unknownOverdue > 0 ? ` (${input.unknownOverdue} overdue)` : ''}`,
    reason: `channel outcome not known yet; red when a check is ${T.unknownOverdueMs / 1000} s overdue`,
  };
  const review: Indicator = {
    state: input.review > 0 ? 'bad' : 'ok',
    value: String(input.review),
    reason: 'payments flagged for a human to review',
  };

  const o = input.oversell;
  let oversell: Indicator = { state: 'ok', value: 'none', reason: 'charges never exceeded seats' };
  if (o.charges !== undefined || o.seats !== undefined) {
    const excess = Number(o.charges ?? 0) - Number(o.seats ?? 0);
    const refunded = Number(o.refunded ?? 0);
    oversell = {
      state: refunded >= excess ? 'warn' : 'bad',
      value: `${o.charges ?? '?'} charges for ${o.seats ?? '?'} seats, ${refunded} refunded`,
      reason: `detected ${o.detectedAt ? new Date(Number(o.detectedAt)).toISOString() : 'at an unknown time'}; red until the excess is refunded`,
    };
  }
  return { lag, errors, latency, refusals, unknown, review, oversell };
}
