/**
 * lua/includes/windows.lua, run straight against Redis through acceptPayment's and createOrder's
 * scripts: a window counts every attempt that reaches it, refuses past its limit with the time
 * until it resets, expires at the window's end on Redis time, counts dry-run refusals per policies
 * version, and a window not in use writes no key.
 */
import { keys } from '../../src/redis/keys.js';
import type { RedisPort } from '../../src/redis/port.js';
import { callScript } from '../../src/redis/run-script.js';
import { scripts } from '../../src/redis/scripts.generated.js';
import { describe, expect, test } from '../fixtures.js';
import { unique } from '../support/names.js';
import { openSale } from './kit.js';

async function order(
  redis: RedisPort,
  saleId: string,
  userId: string,
  windows: { limit: number; windowMs: number; dryRun?: boolean },
) {
  const orderId = unique('ord');
  return callScript(
    redis,
    scripts.createOrder,
    {
      sale: keys.sale(saleId),
      users: keys.saleUsers(saleId),
      holds: keys.holds(saleId),
      order: keys.order(saleId, orderId),
      idempotency: keys.noIdempotency(saleId),
      admission: keys.admission(saleId),
      userWindow: keys.window(saleId, 'orders.perUser', windows.windowMs / 1000, userId),
      addressWindow: keys.window(saleId, 'orders.perAddress', 0, '-'),
    },
    {
      orderId,
      userId,
      quantity: 1,
      nonce: 'n',
      fingerprint: undefined,
      idempotencyTtlMs: 1000,
      perSecond: undefined,
      perSecondDryRun: false,
      dryRunPrefix: 'dry:v7:orders',
      userLimit: windows.limit,
      userWindowMs: windows.windowMs,
      userDryRun: windows.dryRun ?? false,
      addressLimit: undefined,
      addressWindowMs: 0,
      addressDryRun: false,
    },
  );
}

describe('lua windows', () => {
  test('admits up to the limit, then refuses with the ms until the window resets; the key expires at the window end', async ({
    redis,
    raw,
  }) => {
    const saleId = await openSale(redis, { stock: 100, perUserLimit: 100 });
    const userId = unique('u');
    expect((await order(redis, saleId, userId, { limit: 2, windowMs: 60_000 }))[0]).toBe(0);
    expect((await order(redis, saleId, userId, { limit: 2, windowMs: 60_000 }))[0]).toBe(0);
    const refused = await order(redis, saleId, userId, { limit: 2, windowMs: 60_000 });
    expect(refused[0]).toBe(26);
    expect(refused[1]).toBe('perUser');
    expect(Number(refused[2])).toBeGreaterThan(0);
    expect(Number(refused[2])).toBeLessThanOrEqual(60_000);
    const key = keys.window(saleId, 'orders.perUser', 60, userId);
    // refusals count too: a buyer who keeps trying stays refused
    expect(await raw.get(key)).toBe('3');
    const [seconds, micros] = await raw.time();
    const nowMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    const expiresAt = await raw.pexpiretime(key);
    expect(expiresAt % 60_000).toBe(0);
    expect(expiresAt - nowMs).toBeLessThanOrEqual(60_000);
    // the address window was not in use: no key
    expect(await raw.exists(keys.window(saleId, 'orders.perAddress', 0, '-'))).toBe(0);
  });

  test('a dry-run window refuses nobody and counts would-be refusals under its policies version', async ({
    redis,
    raw,
  }) => {
    const saleId = await openSale(redis, { stock: 100, perUserLimit: 100 });
    const userId = unique('u');
    for (let i = 0; i < 4; i++)
      expect((await order(redis, saleId, userId, { limit: 1, windowMs: 60_000, dryRun: true }))[0]).toBe(0);
    expect(await raw.hget(keys.admission(saleId), 'dry:v7:orders.perUser')).toBe('3');
  });

  test('a sale that does not exist counts nothing', async ({ redis, raw }) => {
    const saleId = unique('nosale');
    const userId = unique('u');
    expect(await order(redis, saleId, userId, { limit: 1, windowMs: 60_000 })).toEqual([10]);
    expect(await raw.exists(keys.window(saleId, 'orders.perUser', 60, userId))).toBe(0);
  });
});
