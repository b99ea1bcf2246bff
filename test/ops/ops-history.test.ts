/**
 * The ops view's history and health strip on real Redis (a Redis of its own: the worker runs
 * here, and one test stops its Redis): the per-second history addTally keeps (bounded), what
 * /admin/ops returns of it (all of it, or only the seconds after `?since=`), decisions counted as
 * what they are (replays apart, failures by code), the health rules, and the page built from
 * its sources.
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { createApp } from '../../src/app.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { silentLogger } from '../../src/logger.js';
import { latencyField, saleHealth, type HistorySecond, type SaleHealthInput } from '../../src/ops/ops-health.js';
import { keys } from '../../src/redis/keys.js';
import { renderOpsPageModule } from '../../scripts/gen-ops-view.js';
import { startEmbeddedRedis } from '../../src/runtime/node/dev/embedded-redis.js';
import { gatewayRedisOptions, ioredisPort } from '../../src/runtime/node/adapters/ioredis-port.js';
import { pgliteSql } from '../../src/runtime/node/adapters/sql.js';
import { PaymentWorker } from '../../src/worker/payment-worker.js';
import {
  ADMIN_TOKEN,
  JWT_SECRET,
  TOKEN_SECRET,
  admin,
  buyer,
  call,
  createSale,
  expectProblem,
  pay,
  placeOrder,
  unique,
  type App,
} from '../helpers.js';
import { tallyTest, describe, expect, usePrivateRedis } from '../fixtures.js';

const test = tallyTest;
usePrivateRedis();

type Indicator = { state: string; value: string };
type OpsSale = {
  saleId: string;
  history: HistorySecond[];
  tally: Record<string, Record<string, number>>;
  health: Record<string, Indicator>;
  soldOutAt: string | null;
  nowMs: number;
};
async function ops(app: App, query = '') {
  const res = await admin(app, 'GET', `/admin/ops${query}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { health: Record<string, Indicator>; sales: OpsSale[] };
}
const saleOf = async (app: App, saleId: string, query = '') =>
  (await ops(app, query)).sales.find((s) => s.saleId === saleId)!;
const waitFor = async (what: string, check: () => Promise<boolean>) => {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`never: ${what}`);
};

describe('the ops page', () => {
  test('is the generated module built from ops.html and ops-view.ts (run npm run gen:ops-view)', () => {
    const onDisk = readFileSync(new URL('../../src/ops/view/ops-page.generated.ts', import.meta.url), 'utf8');
    expect(onDisk).toBe(renderOpsPageModule());
  });
});

describe('the history addTally keeps', () => {
  test('adds each flush to the second of Redis time it lands in, with seats held and sold, and keeps h. fields out of the tally', async ({
    tallied: app,
    raw,
    tally,
  }) => {
    const saleId = await createSale(app, { stock: 3 });
    await placeOrder(app, saleId, (await buyer()).jwt);
    await tally.flush();
    const history = await raw.hgetall(keys.history(saleId));
    const seconds = Object.keys(history).filter((f) => f !== 'first');
    expect(seconds).toHaveLength(1);
    const entry = JSON.parse(history[seconds[0]!]!);
    expect(entry).toMatchObject({ 'order:admitted': 1, 'h.http:total': 1, 'seats:held': 1, 'seats:sold': 0 });
    expect(Object.keys(entry).some((f) => f.startsWith('h.lat:'))).toBe(true);
    // the cumulative tally has decisions only; latency buckets live in the history
    expect(await raw.hgetall(keys.tally(saleId))).toEqual({ 'order:admitted': '1' });
    expect(await raw.pttl(keys.history(saleId))).toBeGreaterThan(900_000);
  });

  test('stays bounded: seconds older than 900 s go as the window moves, and all of it after a quiet spell', async ({
    tallied: app,
    redis,
    raw,
    tally,
  }) => {
    const saleId = await createSale(app);
    const nowSecond = Math.floor((await redis.timeMs()) / 1000);
    // entries as an earlier flush would have left them: 1000 s to 890 s ago
    const old: Record<string, string> = { first: String(nowSecond - 1000) };
    for (let s = nowSecond - 1000; s <= nowSecond - 890; s += 10) old[s] = JSON.stringify({ 'order:admitted': 1 });
    await raw.hset(keys.history(saleId), old);
    tally.count(saleId, 'order:admitted');
    await tally.flush();
    const kept = Object.keys(await raw.hgetall(keys.history(saleId)))
      .filter((f) => f !== 'first')
      .map(Number);
    expect(Math.min(...kept)).toBeGreaterThan(nowSecond - 900);
    expect(kept).toContain(nowSecond - 890);
    expect(Number(await raw.hget(keys.history(saleId), 'first'))).toBeGreaterThan(nowSecond - 900);

    // nothing written for longer than the window: the whole hash is stale and goes at once
    await raw.hset(keys.history(saleId), { first: String(nowSecond - 5000), [nowSecond - 4000]: '{}' });
    tally.count(saleId, 'order:admitted');
    await tally.flush();
    const after = Object.keys(await raw.hgetall(keys.history(saleId)))
      .filter((f) => f !== 'first')
      .map(Number);
    expect(after.every((s) => s >= nowSecond)).toBe(true);
  });
});

describe('GET /admin/ops', () => {
  test('gives a page opened late the history from the sale start, and later polls only the seconds after ?since=', async ({
    tallied: app,
    redis,
    tally,
  }) => {
    const saleId = await createSale(app, { stock: 2 });
    await placeOrder(app, saleId, (await buyer()).jwt);
    await tally.flush();
    const firstSecond = Math.floor((await redis.timeMs()) / 1000);
    // a second later, more happens, and the sale sells out
    await waitFor('the next second of Redis time', async () => Math.floor((await redis.timeMs()) / 1000) > firstSecond);
    await placeOrder(app, saleId, (await buyer()).jwt);
    await call(app, 'POST', `/v1/sales/${saleId}/orders`, { token: (await buyer()).jwt, body: {} });
    await tally.flush();

    const opened = await saleOf(app, saleId);
    expect(opened.history.map((s) => s.t)[0]).toBeLessThanOrEqual(firstSecond);
    const sum = (field: string, h: HistorySecond[]) => h.reduce((n, s) => n + (s.counts[field] ?? 0), 0);
    expect(sum('order:admitted', opened.history)).toBe(2);
    expect(sum('order:sold_out', opened.history)).toBe(1);
    expect(opened.history.at(-1)!.counts).toMatchObject({ 'seats:held': 2, 'seats:sold': 0 });
    expect(opened.soldOutAt).not.toBeNull();
    expect(Date.parse(opened.soldOutAt!)).toBeLessThanOrEqual(opened.nowMs);

    const later = await saleOf(app, saleId, `?since=${firstSecond}`);
    expect(later.history.length).toBeGreaterThan(0);
    expect(later.history.every((s) => s.t > firstSecond)).toBe(true);
    expect(sum('order:admitted', later.history)).toBe(1);
  });

  test('refuses a malformed ?since= with 400 and changes nothing', async ({ tallied: app }) => {
    for (const since of ['abc', '-1', '1.5', '9'.repeat(20)])
      expectProblem(await admin(app, 'GET', `/admin/ops?since=${since}`), 400, 'invalid_request');
  });

  test('counts payment replays apart from new payments, and failed payments by their code', async ({
    tallied: app,
    redis,
    raw,
    tally,
    ledger,
  }) => {
    const saleId = await createSale(app, { stock: 5, price: 500 });
    const rich = await buyer();
    await admin(app, 'POST', `/admin/wallets/${rich.userId}/credits`, {
      amount: 500,
      currency: 'CNY',
      reference: unique('ref'),
    });
    const order = await placeOrder(app, saleId, rich.jwt);
    // a click storm: the same payment sent three times
    for (let i = 0; i < 3; i++) expect((await pay(app, order.orderId, rich.jwt, order.paymentToken)).status).toBe(202);
    const poor = await buyer();
    const unpaid = await placeOrder(app, saleId, poor.jwt);
    expect((await pay(app, unpaid.orderId, poor.jwt, unpaid.paymentToken)).status).toBe(202);

    const worker = new PaymentWorker(redis, ledger, silentLogger, { consumer: unique('w'), idleMs: 10, tally });
    worker.start();
    try {
      await waitFor('both payments settled', async () => {
        await tally.flush();
        const t = (await saleOf(app, saleId)).tally;
        return (t.outcome?.succeeded ?? 0) + (t.outcome?.failed ?? 0) === 2;
      });
    } finally {
      await worker.stop();
    }
    const view = await saleOf(app, saleId);
    expect(view.tally.payment).toEqual({ admitted: 2, replayed: 2 });
    expect(view.tally.outcome).toEqual({ succeeded: 1, failed: 1 });
    expect(view.tally.failure).toEqual({ insufficient_funds: 1 });
    // the lag buckets stay on the server, which judges them
    expect(
      await raw.hgetall(keys.history(saleId)).then((h) => Object.values(h).some((v) => v.includes('"h.lag:'))),
    ).toBe(true);
    expect(view.history.some((s) => Object.keys(s.counts).some((f) => f.startsWith('h.')))).toBe(false);
    expect(view.health.lag!.state).toBe('ok');
  });

  test('reads unknown, review and oversell from their keys and turns each red when it needs a human', async ({
    tallied: app,
    redis,
    raw,
  }) => {
    const saleId = await createSale(app);
    let view = await saleOf(app, saleId);
    expect([view.health.unknown!.state, view.health.review!.state, view.health.oversell!.state]).toEqual([
      'ok',
      'ok',
      'ok',
    ]);
    const nowMs = await redis.timeMs();
    await raw.zadd(keys.unknown(saleId), nowMs + 2000, 'pay_a', nowMs - 60_000, 'pay_b');
    await raw.zadd(keys.review(saleId), nowMs, 'pay_c');
    await raw.hset(keys.oversell(saleId), { charges: 11, seats: 10, detectedAt: nowMs, refunded: 0 });
    view = await saleOf(app, saleId);
    expect(view.health.unknown).toMatchObject({ state: 'bad', value: '2 (1 overdue)' });
    expect(view.health.review).toMatchObject({ state: 'bad', value: '1' });
    expect(view.health.oversell).toMatchObject({ state: 'bad', value: '11 charges for 10 seats, 0 refunded' });
    // refunded: still shown, no longer red
    await raw.hset(keys.oversell(saleId), 'refunded', 1);
    expect((await saleOf(app, saleId)).health.oversell!.state).toBe('warn');
  });

  test('shows the ledger down when it stops answering, and Redis down as 503 problem+json naming it', async () => {
    const server = await startEmbeddedRedis();
    const client = new Redis(server.url, { ...gatewayRedisOptions(500), lazyConnect: true });
    client.on('error', () => {});
    await client.connect();
    const stopped = await Ledger.open(await pgliteSql());
    try {
      const own = createApp({
        redis: ioredisPort(client),
        log: silentLogger,
        jwtSecret: JWT_SECRET,
        adminToken: ADMIN_TOKEN,
        tokenSecret: TOKEN_SECRET,
        ledger: stopped,
      });
      expect((await admin(own, 'GET', '/admin/ops')).body.health).toMatchObject({
        redis: { state: 'ok' },
        ledger: { state: 'ok' },
      });
      await stopped.close();
      expect((await admin(own, 'GET', '/admin/ops')).body.health).toMatchObject({
        redis: { state: 'ok' },
        ledger: { state: 'bad', value: 'down' },
      });
      await server.stop();
      const down = await admin(own, 'GET', '/admin/ops');
      expectProblem(down, 503, 'unavailable');
      expect(Number(down.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(down.body.health).toMatchObject({ redis: { state: 'bad', value: 'down' }, ledger: { state: 'bad' } });
    } finally {
      client.disconnect();
      await server.stop();
    }
  });
});

describe('the health rules', () => {
  const quiet: SaleHealthInput = {
    nowSecond: 1000,
    history: [],
    queueDepth: 0,
    unknown: 0,
    unknownOverdue: 0,
    review: 0,
    oversell: {},
  };
  const second = (t: number, counts: Record<string, number>): HistorySecond => ({ t, counts });

  test('turn a refusal spike red, but not the refusals a sold-out sale gives anyway', () => {
    const spike = Array.from({ length: 5 }, (_, i) =>
      second(996 + i, { 'order:admitted': 2, 'order:rate_limited': 8 }),
    );
    expect(saleHealth({ ...quiet, history: spike }).refusals.state).toBe('bad');
    const soldOut = Array.from({ length: 5 }, (_, i) =>
      second(996 + i, { 'order:admitted': 2, 'order:sold_out': 500, 'payment:replayed': 40 }),
    );
    expect(saleHealth({ ...quiet, history: soldOut }).refusals.state).toBe('ok');
    // a spike 30 s ago is over
    const past = spike.map((s) => ({ ...s, t: s.t - 30 }));
    expect(saleHealth({ ...quiet, history: past }).refusals.state).not.toBe('bad');
  });

  test('turn buyer 5xx and p99 red past their thresholds, from the latency buckets', () => {
    const slow = [
      second(990, {
        'h.http:total': 100,
        'h.http:5xx': 10,
        [latencyField('lat', 3)]: 90,
        [latencyField('lat', 4000)]: 10,
      }),
    ];
    const health = saleHealth({ ...quiet, history: slow });
    expect(health.errors).toMatchObject({ state: 'bad', value: '10% (10 of 100)' });
    expect(health.latency).toMatchObject({ state: 'bad', value: 'p99 ≤ 5 s' });
    const fast = [second(990, { 'h.http:total': 100, [latencyField('lat', 3)]: 100 })];
    expect(saleHealth({ ...quiet, history: fast })).toMatchObject({
      errors: { state: 'ok' },
      latency: { state: 'ok', value: 'p99 ≤ 5 ms' },
    });
  });

  test('turn worker lag red when p99 is too high, or when payments wait and nothing settles', () => {
    const lagging = [second(990, { [latencyField('lag', 100)]: 50, [latencyField('lag', 20_000)]: 50 })];
    expect(saleHealth({ ...quiet, history: lagging }).lag).toMatchObject({
      state: 'bad',
      value: 'p50 ≤ 100 ms · p99 ≤ 30 s',
    });
    const stalled = [second(970, { 'payment:admitted': 5 })];
    expect(saleHealth({ ...quiet, history: stalled, queueDepth: 5 }).lag.state).toBe('bad');
    expect(saleHealth({ ...quiet, history: stalled, queueDepth: 0 }).lag.state).toBe('idle');
  });
});
