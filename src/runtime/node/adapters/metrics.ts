import { AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { byKey, type Metrics, type SaleGauge } from '../../../ops/metrics.js';
import type { RedisPort } from '../../../redis/port.js';

/** One process's own series, as prom-client's JSON (what crosses the cluster's IPC channel). */
export type ProcessSeries = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

export interface PromMetrics extends Metrics {
  redisSeconds: Histogram;
  /** This process's own series: requests, decisions, outcomes, timings, process metrics. */
  registry: Registry;
}

/** A cluster child: its /metrics answers for every process of the cluster. */
export interface ClusterScrape {
  /** The own series of every process (the primary's included), summed, as exposition text. */
  allProcesses(): Promise<string>;
}

/**
 * The Metrics port on prom-client, in registries of its own. Sale gauges are read from Redis by
 * the process that answers the scrape and kept apart: summing them over processes would count
 * each sale once per process.
 */
export function promMetrics(options: { cluster?: ClusterScrape } = {}): PromMetrics {
  const registry = new Registry();
  const scraped = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'rushgate_' });
  const requests = new Histogram({
    name: 'rushgate_http_request_duration_seconds',
    help: 'HTTP requests by method, route pattern and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const decisions = new Counter({
    name: 'rushgate_decisions_total',
    help: 'Order and payment requests by decision: admitted, or the refusal code (sold_out, rate_limited, blocked, token_invalid, payment_pending, …)',
    labelNames: ['action', 'reason'],
    registers: [registry],
  });
  const outcomes = new Counter({
    name: 'rushgate_payment_outcomes_total',
    help: 'Payments by final outcome',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const handoff = new Histogram({
    name: 'rushgate_ledger_handoff_seconds',
    help: 'From payment accepted to its outcome written back (after the ledger committed)',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const redisSeconds = new Histogram({
    name: 'rushgate_redis_roundtrip_seconds',
    help: 'Redis commands and scripts, by operation',
    labelNames: ['op'],
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1],
    registers: [registry],
  });
  const stock = new Gauge({
    name: 'rushgate_sale_units',
    help: 'Units of each sale by state',
    labelNames: ['sale', 'state'],
    registers: [scraped],
  });
  const depth = new Gauge({
    name: 'rushgate_queue_depth',
    help: 'Payments waiting per sale and lane',
    labelNames: ['sale', 'lane'],
    registers: [scraped],
  });
  const position = new Gauge({
    name: 'rushgate_queue_served',
    help: 'Position served so far per sale and lane (payments taken from it)',
    labelNames: ['sale', 'lane'],
    registers: [scraped],
  });
  const review = new Gauge({
    name: 'rushgate_payments_review',
    help: 'Payments marked for review per sale: their channel never answered within RUSHGATE_UNKNOWN_REVIEW_MS (stock still held)',
    labelNames: ['sale'],
    registers: [scraped],
  });
  const oversell = new Gauge({
    name: 'rushgate_oversell_alarm',
    help: "1 when the ledger was found keeping more charges than the sale has seats (the latest were refunded; see the sale's oversell record)",
    labelNames: ['sale'],
    registers: [scraped],
  });
  // in a cluster, which process served how much (a replaced process's series goes with it)
  const served = options.cluster
    ? new Counter({
        name: 'rushgate_cluster_requests_total',
        help: 'HTTP requests answered, by serving process',
        labelNames: ['pid'],
        registers: [registry],
      }).labels(String(process.pid))
    : undefined;

  // label children bound once per label set (prom-client hashes a labels object on every call),
  // found by the label values themselves
  const requestSeries = byKey((method: string) =>
    byKey((route: string) => byKey((status: number) => requests.labels(method, route, String(status)))),
  );
  const decisionSeries = byKey((action: string) => byKey((reason: string) => decisions.labels(action, reason)));
  return {
    redisSeconds,
    registry,
    request: (method, route, status, seconds) => {
      requestSeries(method)(route)(status).observe(seconds);
      served?.inc();
    },
    decision: (action, reason) => decisionSeries(action)(reason).inc(),
    payment: (outcome, seconds) => {
      outcomes.inc({ outcome });
      handoff.observe(seconds);
    },
    async render(sales: () => Promise<SaleGauge[]>) {
      stock.reset();
      depth.reset();
      position.reset();
      review.reset();
      oversell.reset();
      for (const s of await sales()) {
        if (s.review !== undefined) review.set({ sale: s.saleId }, s.review);
        if (s.oversell !== undefined) oversell.set({ sale: s.saleId }, s.oversell);
        for (const state of ['available', 'held', 'sold'] as const) stock.set({ sale: s.saleId, state }, s[state]);
        for (const [lane, n] of Object.entries(s.queueDepth)) depth.set({ sale: s.saleId, lane }, n);
        for (const [lane, n] of Object.entries(s.queueServed)) position.set({ sale: s.saleId, lane }, n);
      }
      const own = options.cluster ? await options.cluster.allProcesses() : await registry.metrics();
      return { contentType: registry.contentType, body: `${own}\n${await scraped.metrics()}` };
    },
  };
}

/**
 * The series of several processes as one exposition, merged by prom-client's cluster aggregation:
 * counters and histograms summed, the event-loop lag averaged, the start time left out.
 */
export function sumProcesses(perProcess: readonly ProcessSeries[]): Promise<string> {
  return AggregatorRegistry.aggregate([...perProcess]).metrics();
}

/**
 * The RedisPort with one call in `sampleEvery` timed into `rushgate_redis_roundtrip_seconds`
 * (default 16): the latency distribution stays visible without a timer on every hot-path call.
 */
export function timedPort(port: RedisPort, histogram: Histogram, sampleEvery = 16): RedisPort {
  const timed = {} as Record<string, unknown>;
  let calls = 0;
  for (const [name, fn] of Object.entries(port) as [string, (...a: unknown[]) => Promise<unknown>][]) {
    const series = histogram.labels(name);
    timed[name] = (...args: unknown[]) => {
      if (++calls % sampleEvery !== 0) return fn(...args);
      const started = performance.now();
      const done = () => series.observe((performance.now() - started) / 1000);
      const result = fn(...args);
      result.then(done, done);
      return result;
    };
  }
  return timed as unknown as RedisPort;
}
