import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Metrics, SaleGauge } from '../../ops/metrics.js';
import type { RedisPort } from '../../redis/port.js';

/** The Metrics port on prom-client, in a registry of its own. */
export function promMetrics(): Metrics & { redisSeconds: Histogram } {
  const registry = new Registry();
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
  const outcomes = new Counter({ name: 'rushgate_payment_outcomes_total', help: 'Payments by final outcome', labelNames: ['outcome'], registers: [registry] });
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
  const stock = new Gauge({ name: 'rushgate_sale_units', help: 'Units of each sale by state', labelNames: ['sale', 'state'], registers: [registry] });
  const depth = new Gauge({ name: 'rushgate_queue_depth', help: 'Payments waiting per sale and lane', labelNames: ['sale', 'lane'], registers: [registry] });

  return {
    redisSeconds,
    request: (method, route, status, seconds) => requests.observe({ method, route, status: String(status) }, seconds),
    decision: (action, reason) => decisions.inc({ action, reason }),
    payment: (outcome, seconds) => {
      outcomes.inc({ outcome });
      handoff.observe(seconds);
    },
    async render(sales: () => Promise<SaleGauge[]>) {
      stock.reset();
      depth.reset();
      for (const s of await sales()) {
        for (const state of ['available', 'held', 'sold'] as const) stock.set({ sale: s.saleId, state }, s[state]);
        for (const [lane, n] of Object.entries(s.queueDepth)) depth.set({ sale: s.saleId, lane }, n);
      }
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}

/** The RedisPort with each call timed into `rushgate_redis_roundtrip_seconds`. */
export function timedPort(port: RedisPort, histogram: Histogram): RedisPort {
  const timed = {} as Record<string, unknown>;
  for (const [name, fn] of Object.entries(port) as [string, (...a: unknown[]) => Promise<unknown>][]) {
    timed[name] = async (...args: unknown[]) => {
      const end = histogram.startTimer({ op: name });
      try {
        return await fn(...args);
      } finally {
        end();
      }
    };
  }
  return timed as unknown as RedisPort;
}
