import { Hono } from 'hono';
import { problem } from '../http/problem.js';
import type { Ledger } from '../ledger/ledger.js';
import { UnknownPayments } from '../payments/unknown-payments.js';
import type { RedisPort } from '../redis/port.js';
import { available, type Sale } from '../sales/sale.js';
import type { SaleStore } from '../sales/sale-store.js';
import type { Metrics } from './metrics.js';
import { json } from '../http/respond.js';

/** Sales shown in /metrics at most (the newest sales are not favoured: a set has no order). */
const METRIC_SALES = 200;

/** Prometheus metrics; sale gauges are read from Redis when scraped. */
export function metricsRoutes({ metrics, sales, redis }: { metrics: Metrics; sales: SaleStore; redis?: RedisPort }) {
  return new Hono().get('/metrics', async (c) => {
    const { contentType, body } = await metrics.render(async () => {
      return Promise.all(
        (await sales.readMany(METRIC_SALES)).map(async (s) => ({
          saleId: s.sale.saleId,
          ...counters(s.sale),
          queueDepth: s.laneDepths,
          queueServed: s.laneServed,
          ...(redis ? await new UnknownPayments(redis).faults(s.sale.saleId) : {}),
        })),
      );
    });
    return c.body(body, 200, { 'Content-Type': contentType });
  });
}

const counters = (sale: Sale) => ({ available: available(sale), held: sale.held, sold: sale.sold });

/** Liveness, and readiness: Redis and (when the process has one) the ledger answer. */
export function healthRoutes({ redis, ledger }: { redis: RedisPort; ledger?: Pick<Ledger, 'ping'> }) {
  return new Hono()
    .get('/healthz', (c) => json(c, { status: 'ok' }))
    .get('/readyz', async (c) => {
      const [redisUp, ledgerUp] = await Promise.all([
        redis.ping().then(
          () => true,
          () => false,
        ),
        ledger
          ? ledger.ping().then(
              () => true,
              () => false,
            )
          : Promise.resolve(null),
      ]);
      const checks = {
        redis: redisUp ? 'ok' : 'down',
        ...(ledgerUp === null ? {} : { ledger: ledgerUp ? 'ok' : 'down' }),
      };
      if (!redisUp || ledgerUp === false) {
        throw problem('unavailable', 'a store does not answer', { retryAfterSeconds: 1, extra: { checks } });
      }
      return json(c, { status: 'ready', checks });
    });
}
