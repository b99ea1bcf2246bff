import { Hono } from 'hono';
import { problem } from '../http/problem.js';
import type { RedisPort } from '../redis/port.js';

/** Liveness and readiness. */
export function healthRoutes({ redis }: { redis: RedisPort }) {
  return new Hono()
    .get('/healthz', (c) => c.json({ status: 'ok' }))
    .get('/readyz', async (c) => {
      try {
        await redis.ping();
      } catch {
        throw problem('unavailable', 'Redis does not answer', { retryAfterSeconds: 1 });
      }
      return c.json({ status: 'ready', checks: { redis: 'ok' } });
    });
}
