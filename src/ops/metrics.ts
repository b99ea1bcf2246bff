import type { MiddlewareHandler } from 'hono';
import { ID_PATTERN, saleOfId } from '../ids.js';
import { ProblemError } from '../http/problem.js';
import { isReplay } from '../http/respond.js';
import { latencyField } from './ops-health.js';
import type { SaleTally } from './sale-tally.js';

/** What /metrics shows of one sale, read at scrape time. */
export interface SaleGauge {
  saleId: string;
  available: number;
  held: number;
  sold: number;
  queueDepth: Record<string, number>;
  /** Per lane, the position served so far. */
  queueServed: Record<string, number>;
  /** Payments marked for review: unknown past their deadline (`rushgate_payments_review`). */
  review?: number;
  /** 1 once the ledger was found keeping more charges than seats (`rushgate_oversell_alarm`). */
  oversell?: number;
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

const ORDER_PATH = /^\/v1\/sales\/([^/]+)\/orders$/;
const PAYMENT_PATH = /^\/v1\/orders\/([^/]+)\/payments$/;

function decoded(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

/**
 * An order or payment request, and the sale its path names when well-formed. Matched on the path,
 * not the route, so requests answered before routing (load shedding: 503 `overloaded`) count too.
 */
function decisionOf(method: string, path: string): { action: 'order' | 'payment'; saleId: string | null } | null {
  if (method !== 'POST') return null;
  const order = ORDER_PATH.exec(path);
  if (order) {
    const saleId = decoded(order[1]!);
    return { action: 'order', saleId: saleId !== null && ID_PATTERN.test(saleId) ? saleId : null };
  }
  const payment = PAYMENT_PATH.exec(path);
  if (payment) return { action: 'payment', saleId: saleOfId('ord', decoded(payment[1]!) ?? '') };
  return null;
}

/**
 * Refusals that say nothing about a sale: the request was malformed, anonymous or about a sale
 * that does not exist. Left out of the per-sale tally, so made-up sale ids sent without
 * credentials cannot crowd real sales out of it.
 */
const NOT_ABOUT_THE_SALE = new Set([
  'invalid_request',
  'unauthenticated',
  'not_found',
  'sale_not_found',
  'payload_too_large',
  'unsupported_media_type',
  'method_not_allowed',
]);

/**
 * Times every request and records order and payment decisions by reason: in the metrics, and per
 * sale in the tally (the ops view) when there is one.
 */
export function metricsMiddleware(metrics: Metrics, tally?: SaleTally): MiddlewareHandler {
  return async function recordMetrics(c, next) {
    const started = performance.now();
    await next();
    const route = c.req.routePath;
    const elapsedMs = performance.now() - started;
    metrics.request(c.req.method, route, c.res.status, elapsedMs / 1000);
    const decision = decisionOf(c.req.method, c.req.path);
    if (decision) {
      const { action, saleId } = decision;
      const reason = c.res.status < 300 ? 'admitted' : c.error instanceof ProblemError ? c.error.code : 'error';
      metrics.decision(action, reason);
      if (tally && saleId && !NOT_ABOUT_THE_SALE.has(reason))
        countForOpsView(tally, saleId, action, reason, c.res, elapsedMs);
    }
  };
}

/**
 * `make(key)`, made once per key. Nested (`byKey((a) => byKey((b) => …))`), it finds a value by
 * several keys without joining them: on the hot path a joined key is a new string per request,
 * hashed again on every lookup. For the metrics' label children and the tally's field names.
 */
export function byKey<K, V>(make: (key: K) => V): (key: K) => V {
  const made = new Map<K, V>();
  return (key) => {
    let value = made.get(key);
    if (value === undefined) made.set(key, (value = make(key)));
    return value;
  };
}

/** `<action>:<reason>`, built once per pair. */
const decisionField = byKey((action: string) => byKey((reason: string) => `${action}:${reason}`));

/**
 * The ops view's counts of one decision: a replay (the same order or payment answered again, as a
 * click storm makes) apart from a new admission, and the request's status class and latency
 * bucket for the health strip. Map updates only: the tally reaches Redis once a second.
 */
function countForOpsView(
  tally: SaleTally,
  saleId: string,
  action: string,
  reason: string,
  res: Response,
  elapsedMs: number,
): void {
  const replayed = reason === 'admitted' && isReplay(res);
  tally.count(saleId, decisionField(action)(replayed ? 'replayed' : reason));
  tally.count(saleId, 'h.http:total');
  if (res.status >= 500) tally.count(saleId, 'h.http:5xx');
  tally.count(saleId, latencyField('lat', elapsedMs));
}
