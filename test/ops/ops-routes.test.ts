/**
 * The ops view's server side: the page and its snapshot behind admin auth (Bearer, or Basic for
 * a browser), the cross-site guard on Basic-authenticated changes, and the per-sale tally that
 * every instance adds to (real Redis; the worker runs here, so a Redis of its own).
 */
import { silentLogger } from '../../src/logger.js';
import { onTestFinished } from 'vitest';
import { SaleTally } from '../../src/ops/sale-tally.js';
import { RedisUnavailableError, type RedisPort } from '../../src/redis/port.js';
import { PaymentWorker } from '../../src/worker/payment-worker.js';
import { keys } from '../../src/redis/keys.js';
import {
  ADMIN_TOKEN,
  PERMISSIVE_POLICIES,
  admin,
  buyer,
  call,
  createSale,
  expectProblem,
  pay,
  placeOrder,
  startGateway,
  unique,
  waitFor,
  type App,
} from '../helpers.js';
import { tallyTest, describe, expect, usePrivateRedis } from '../fixtures.js';

const test = tallyTest;
usePrivateRedis();

const basic = (password: string, user = 'ops') => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

type OpsSale = {
  saleId: string;
  held: number;
  sold: number;
  available: number;
  lanes: Record<string, number>;
  tally: Record<string, Record<string, number>>;
};
async function opsSale(app: App, saleId: string): Promise<OpsSale> {
  const res = await admin(app, 'GET', '/admin/ops');
  expect(res.status).toBe(200);
  const found = (res.body.sales as OpsSale[]).find((s) => s.saleId === saleId);
  expect(found, `sale ${saleId} in /admin/ops`).toBeDefined();
  return found!;
}

describe('the ops page', () => {
  test('is refused without the admin token, with a Basic challenge a browser answers', async ({ tallied: app }) => {
    for (const headers of <Record<string, string>[]>[
      {},
      { Authorization: basic('wrong') },
      { Authorization: 'Basic !!!' },
      { Authorization: `Bearer ${ADMIN_TOKEN}x` },
    ]) {
      const res = await call(app, 'GET', '/admin/', { headers });
      expectProblem(res, 401, 'unauthenticated');
      expect(res.headers.get('WWW-Authenticate')).toMatch(/^Basic realm="rushgate admin"/);
    }
  });

  test('is served to Basic (any user name) and to Bearer, self-contained and not frameable', async ({
    tallied: app,
  }) => {
    for (const Authorization of [basic(ADMIN_TOKEN), basic(ADMIN_TOKEN, ''), `Bearer ${ADMIN_TOKEN}`]) {
      const res = await app.request('/admin/', { headers: { Authorization } });
      expect(res.status).toBe(200);
      expect(res.headers.get('Content-Type')).toBe('text/html; charset=utf-8');
      const csp = res.headers.get('Content-Security-Policy') ?? '';
      expect(csp).toContain("default-src 'none'");
      // only the page's own script runs: a fresh nonce per response, on its one script element
      const nonce = /script-src 'nonce-([\w-]+)'/.exec(csp)?.[1];
      expect(nonce).toBeDefined();
      expect(csp).not.toContain("script-src 'unsafe-inline'");
      expect(csp).toContain("connect-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      const html = await res.text();
      expect(html).toContain('<title>rushgate ops</title>');
      expect(html.match(/<script[^>]*>/g)).toEqual([`<script type="module" nonce="${nonce}">`]);
      // offline: nothing fetched from anywhere but this origin
      expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
    }
    const bare = await app.request('/admin', { headers: { Authorization: basic(ADMIN_TOKEN) } });
    expect(bare.status).toBe(301);
    expect(bare.headers.get('Location')).toBe('/admin/');
  });
});

describe('Basic credentials on changes', () => {
  const putLimits = (app: App, headers: Record<string, string>) =>
    call(app, 'PUT', '/admin/limits', {
      headers: { Authorization: basic(ADMIN_TOKEN), ...headers },
      body: { policies: PERMISSIVE_POLICIES },
    });

  test('refuses a change another site started, and changes nothing', async ({ tallied: app }) => {
    const before = (await admin(app, 'GET', '/admin/limits')).body.version;
    for (const headers of <Record<string, string>[]>[
      { 'Sec-Fetch-Site': 'cross-site' },
      { 'Sec-Fetch-Site': 'same-site' },
      { Origin: 'https://evil.example', Host: 'localhost' },
      { Origin: 'null', Host: 'localhost' },
    ]) {
      expectProblem(await putLimits(app, headers), 403, 'cross_site');
    }
    expect((await admin(app, 'GET', '/admin/limits')).body.version).toBe(before);
  });

  test('accepts a change from the page itself, from a non-browser client, and any Bearer call', async ({
    tallied: app,
  }) => {
    const before = (await admin(app, 'GET', '/admin/limits')).body.version;
    expect(
      (await putLimits(app, { 'Sec-Fetch-Site': 'same-origin', Origin: 'http://localhost', Host: 'localhost' })).status,
    ).toBe(200);
    expect((await putLimits(app, {})).status).toBe(200);
    expect(
      (
        await call(app, 'PUT', '/admin/limits', {
          token: ADMIN_TOKEN,
          headers: { 'Sec-Fetch-Site': 'cross-site' },
          body: { policies: PERMISSIVE_POLICIES },
        })
      ).status,
    ).toBe(200);
    expect((await admin(app, 'GET', '/admin/limits')).body.version).toBe(before + 3);
  });

  test('lets a browser read with Basic from anywhere (reads change nothing)', async ({ tallied: app }) => {
    const res = await call(app, 'GET', '/admin/limits', {
      headers: { Authorization: basic(ADMIN_TOKEN), 'Sec-Fetch-Site': 'cross-site' },
    });
    expect(res.status).toBe(200);
  });
});

describe('GET /admin/ops and the sale tally', () => {
  test('shows live counters, queue depth per lane and decisions by reason, summed once flushed', async ({
    tallied: app,
    redis,
    tally,
    ledger,
  }) => {
    const saleId = await createSale(app, { stock: 2, price: 0 });
    const buyers = await Promise.all([1, 2, 3, 4].map(() => buyer()));
    const results = await Promise.all(
      buyers.map((b) => call(app, 'POST', `/v1/sales/${saleId}/orders`, { token: b.jwt, body: {} })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 201, 409, 409]);
    const held = results.map((r, i) => ({ r, b: buyers[i]! })).filter(({ r }) => r.status === 201);
    await pay(app, held[0]!.r.body.orderId, held[0]!.b.jwt, held[0]!.r.body.paymentToken);
    await pay(app, held[1]!.r.body.orderId, held[1]!.b.jwt, 'pt_forged.x');

    let view = await opsSale(app, saleId);
    expect(view.tally).toEqual({}); // nothing flushed yet
    expect(view).toMatchObject({ held: 2, sold: 0, available: 0, lanes: { standard: 1 } });

    await tally.flush();
    view = await opsSale(app, saleId);
    expect(view.tally).toEqual({ order: { admitted: 2, sold_out: 2 }, payment: { admitted: 1, token_invalid: 1 } });

    // the worker settles the free order and counts its outcome
    const worker = new PaymentWorker(redis, ledger, silentLogger, { consumer: unique('w'), idleMs: 10, tally });
    worker.start();
    await waitFor(async () => (await opsSale(app, saleId)).sold >= 1, { what: 'the worker to settle the order' });
    await worker.stop();
    await tally.flush();
    view = await opsSale(app, saleId);
    expect(view).toMatchObject({
      held: 1,
      sold: 1,
      lanes: { standard: 0 },
      served: { standard: 1 },
      tally: { outcome: { succeeded: 1 } },
    });
  });

  test('drops counts for sales that do not exist, so made-up ids leave nothing in Redis', async ({
    tallied: app,
    redis,
    tally,
  }) => {
    const ghost = unique('ghost');
    await call(app, 'POST', `/v1/sales/${ghost}/orders`, { token: (await buyer()).jwt, body: {} });
    await tally.flush();
    expect(await redis.hgetall(keys.tally(ghost))).toEqual({});
    expect(await redis.hgetall(keys.sale(ghost))).toEqual({});
  });

  test('leaves anonymous and malformed requests out, so made-up ids cannot crowd real sales out', async ({
    tallied: app,
    tally,
  }) => {
    const saleId = await createSale(app);
    await Promise.all(
      Array.from({ length: 1100 }, (_, i) => call(app, 'POST', `/v1/sales/fake-${i}/orders`, { body: {} })),
    );
    await call(app, 'POST', `/v1/sales/${saleId}/orders`, { token: (await buyer()).jwt, body: { quantity: 0 } }); // 400
    await call(app, 'POST', `/v1/sales/${saleId}/orders`, { token: (await buyer()).jwt, body: {} });
    expect(tally.dropped).toBe(0);
    await tally.flush();
    expect((await opsSale(app, saleId)).tally).toEqual({ order: { admitted: 1 } });
  });

  test('counts load shedding (503 overloaded, answered before routing) against its sale', async ({
    tallied: app,
    redis,
    redisUrl,
  }) => {
    const t = new SaleTally(redis);
    const shedding = await startGateway(redisUrl, { tally: t, maxInFlight: 0 });
    onTestFinished(() => shedding.close());
    const saleId = await createSale(app);
    const order = await placeOrder(app, saleId, (await buyer()).jwt);
    const b = await buyer();
    expectProblem(
      await call(shedding.app, 'POST', `/v1/sales/${saleId}/orders`, { token: b.jwt, body: {} }),
      503,
      'overloaded',
    );
    expectProblem(await pay(shedding.app, order.orderId, b.jwt, order.paymentToken), 503, 'overloaded');
    await t.stop();
    expect((await opsSale(app, saleId)).tally).toMatchObject({ order: { overloaded: 1 }, payment: { overloaded: 1 } });
  });

  test('writes, when stopped, what was counted during the flush in progress', async ({ tallied: app, redis }) => {
    const saleId = await createSale(app);
    const t = new SaleTally(redis);
    t.count(saleId, 'order:admitted', 1);
    const first = t.flush();
    t.count(saleId, 'order:admitted', 5);
    await t.stop();
    await first;
    expect((await opsSale(app, saleId)).tally).toEqual({ order: { admitted: 6 } });
  });

  test('keeps counts it could not write and adds them on the next flush', async ({ tallied: app, redis }) => {
    const saleId = await createSale(app);
    let down = true;
    const flaky: RedisPort = new Proxy(redis, {
      get: (target, name: keyof RedisPort) =>
        name === 'evalsha' && down
          ? async () => {
              throw new RedisUnavailableError('down');
            }
          : target[name],
    });
    const errors: unknown[] = [];
    const t = new SaleTally(flaky, { onError: (err) => errors.push(err) });
    t.count(saleId, 'order:admitted', 3);
    await t.flush();
    expect(errors).toHaveLength(1);
    t.count(saleId, 'order:admitted');
    down = false;
    await t.stop();
    expect((await opsSale(app, saleId)).tally).toEqual({ order: { admitted: 4 } });
  });
});
