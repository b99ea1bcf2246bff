import type { Context, MiddlewareHandler } from 'hono';
import { ID_PATTERN, saleOfId } from '../http/ids.js';
import { ProblemError } from '../http/problem.js';
import type { SaleTally } from './sale-tally.js';

/** What /metrics shows of one sale, read at scrape time. */
export interface SaleGauge {
  saleId: string;
  available: number;
  held: number;
  sold: number;
  queueDepth: Record<string, number>;
}

/**
 * The measurements rushgate makes; a port, so each runtime picks its Prometheus library (the
 * Node runtime uses prom-client). Core code only records; rendering is the runtime's.
 */
export interface Metrics {
  /** One finished HTTP request (route = the matched pattern, not the path). */
  request(method: string, route: string, status: number, seconds: number): void;
  /** A decision on an order or payment request: `admitted` or the refusal's code. */
  decision(action: 'order' | 'payment', reason: string): void;
  /** A payment's final outcome, and how long it waited from acceptance to that outcome. */
  payment(outcome: string, handoffSeconds: number): void;
  /** Prometheus text exposition; `sales` are read when scraped. */
  render(sales: () => Promise<SaleGauge[]>): Promise<{ contentType: string; body: string }>;
}

/** Records nothing (apps built without metrics). */
export const noMetrics: Metrics = {
  request() {},
  decision() {},
  payment() {},
  render: async () => ({ contentType: 'text/plain; version=0.0.4', body: '' }),
};

const DECIDED = new Map([
  ['POST /v1/sales/:saleId/orders', 'order'],
  ['POST /v1/orders/:orderId/payments', 'payment'],
] as const);

/** The sale an order or payment request was about, when its path names a well-formed one. */
function saleOfRequest(c: Context, action: 'order' | 'payment'): string | null {
  const saleId = action === 'order' ? c.req.param('saleId') : saleOfId('ord', c.req.param('orderId') ?? '');
  return saleId && ID_PATTERN.test(saleId) ? saleId : null;
}

/**
 * Times every request and records order and payment decisions by reason: in the metrics, and per
 * sale in the tally (the ops view) when there is one.
 */
export function metricsMiddleware(metrics: Metrics, tally?: SaleTally): MiddlewareHandler {
  return async function recordMetrics(c, next) {
    const started = performance.now();
    await next();
    const route = c.req.routePath;
    metrics.request(c.req.method, route, c.res.status, (performance.now() - started) / 1000);
    const action = DECIDED.get(`${c.req.method} ${route}` as never);
    if (action) {
      const reason = c.res.status < 300 ? 'admitted' : c.error instanceof ProblemError ? c.error.code : 'error';
      metrics.decision(action, reason);
      const saleId = tally && saleOfRequest(c, action);
      if (saleId) tally.count(saleId, `${action}:${reason}`);
    }
  };
}
