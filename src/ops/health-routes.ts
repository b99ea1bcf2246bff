import { Hono } from 'hono';
import { problem } from '../http/problem.js';
import type { Ledger } from '../ledger/ledger.js';
import type { RedisPort } from '../redis/port.js';

/** Liveness, and readiness: Redis and (when the process has one) the ledger answer. */
export function healthRoutes({ redis, ledger }: { redis: RedisPort; ledger?: Pick<Ledger, 'ping'> }) {
  return new Hono()
    .get('/healthz', (c) => c.json({ status: 'ok' }))
    .get('/readyz', async (c) => {
      const [redisUp, ledgerUp] = await Promise.all([
        redis.ping().then(() => true, () => false),
        ledger ? ledger.ping().then(() => true, () => false) : Promise.resolve(null),
      ]);
      const checks = { redis: redisUp ? 'ok' : 'down', ...(ledgerUp === null ? {} : { ledger: ledgerUp ? 'ok' : 'down' }) };
      if (!redisUp || ledgerUp === false) {
        throw problem('unavailable', 'a store does not answer', { retryAfterSeconds: 1, extra: { checks } });
      }
      return c.json({ status: 'ready', checks });
    });
}
