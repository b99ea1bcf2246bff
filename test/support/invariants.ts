import type { Redis } from 'ioredis';
import { afterAll, expect } from 'vitest';
import { keys } from '../../src/redis/keys.js';
import { orderField } from '../../src/redis/records.js';
import type { App } from './app.js';
import { admin } from './http.js';
import { openRedis, redisUrl, scanKeys } from './redis.js';

let inspector: Redis | undefined;

function inspectorClient(): Redis {
  if (!inspector) {
    const client = openRedis(redisUrl());
    inspector = client;
    afterAll(() => client.quit());
  }
  return inspector;
}

/**
 * Reads the admin view of a sale and checks its counters against the orders themselves, read
 * straight from Redis: held = units of held and paying orders, sold = units of paid orders, and
 * each buyer's units = their held + paying + paid. Call it when no request is in flight.
 * `raw` is a client on the app's Redis (by default one on the file's test Redis).
 */
export async function saleCounters(app: App, saleId: string, raw: Redis = inspectorClient()) {
  const res = await admin(app, 'GET', `/admin/sales/${saleId}`);
  expect(res.status).toBe(200);
  const s = res.body;
  expect(s.available + s.held + s.sold).toBe(s.stock);
  expect(s.available).toBeGreaterThanOrEqual(0);
  let held = 0;
  let sold = 0;
  const units = new Map<string, number>();
  for await (const found of scanKeys(raw, keys.order(saleId, '*'))) {
    for (const key of found) {
      const [status, quantity, userId] = await raw.hmget(
        key,
        orderField.status,
        orderField.quantity,
        orderField.userId,
      );
      const q = Number(quantity);
      if (status === 'held' || status === 'paying') held += q;
      if (status === 'paid') sold += q;
      if (status === 'held' || status === 'paying' || status === 'paid')
        units.set(userId!, (units.get(userId!) ?? 0) + q);
    }
  }
  expect({ held: s.held, sold: s.sold }).toEqual({ held, sold });
  const stored = await raw.hgetall(keys.saleUsers(saleId));
  for (const userId of new Set([...Object.keys(stored), ...units.keys()])) {
    expect(Number(stored[userId] ?? 0), `units of ${userId}`).toBe(units.get(userId) ?? 0);
  }
  return s as {
    stock: number;
    available: number;
    held: number;
    sold: number;
    status: string;
    queue: { depth: number };
  };
}
