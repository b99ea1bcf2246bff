import { describe, expect, test } from '../fixtures.js';
import { keys } from '../../src/redis/keys.js';
import { RedisUnavailableError, type RedisPort } from '../../src/redis/port.js';
import { scripts } from '../../src/redis/scripts.generated.js';
import { SaleStore } from '../../src/sales/sale-store.js';
import {
  admin,
  buyer,
  call,
  createSale,
  expectProblem,
  placeOrder,
  saleCounters,
  saleKeyPattern,
  unique,
} from '../helpers.js';

describe('PUT /admin/sales/{saleId}', () => {
  test('creates a sale with defaults (201) and shows live counters', async ({ app }) => {
    const saleId = unique('sale');
    const res = await admin(app, 'PUT', `/admin/sales/${saleId}`, {
      name: 'WhyMe Chengdu',
      stock: 32000,
      price: 38000,
      currency: 'CNY',
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      saleId,
      name: 'WhyMe Chengdu',
      price: 38000,
      currency: 'CNY',
      stock: 32000,
      available: 32000,
      held: 0,
      sold: 0,
      perUserLimit: 2,
      holdSeconds: 900,
      closesAt: null,
      status: 'open',
      queue: { depth: 0 },
    });
    expect(Date.parse(res.body.opensAt)).toBeLessThanOrEqual(Date.now() + 1000);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
  });

  test('updates a sale (200): raises stock, keeps the fields not given', async ({ app }) => {
    const saleId = await createSale(app, { stock: 5, perUserLimit: 3 });
    const res = await admin(app, 'PUT', `/admin/sales/${saleId}`, { stock: 8 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ stock: 8, available: 8, perUserLimit: 3, price: 38000 });
  });

  test('refuses stock below sold + held with 409 stock_conflict and changes nothing', async ({ app }) => {
    const saleId = await createSale(app, { stock: 5 });
    const b = await buyer();
    await placeOrder(app, saleId, b.jwt, 2);
    const res = await admin(app, 'PUT', `/admin/sales/${saleId}`, { stock: 1, name: 'renamed' });
    expectProblem(res, 409, 'stock_conflict');
    expect(await saleCounters(app, saleId)).toMatchObject({ stock: 5, held: 2, available: 3 });
    expect((await admin(app, 'GET', `/admin/sales/${saleId}`)).body.name).toBe(saleId);
    // exactly sold + held is allowed
    expect((await admin(app, 'PUT', `/admin/sales/${saleId}`, { stock: 2 })).status).toBe(200);
  });

  test('locks price and currency once the sale has an order (409 sale_locked)', async ({ app }) => {
    const saleId = await createSale(app);
    expect((await admin(app, 'PUT', `/admin/sales/${saleId}`, { price: 1 })).status).toBe(200);
    const b = await buyer();
    await placeOrder(app, saleId, b.jwt);
    expectProblem(await admin(app, 'PUT', `/admin/sales/${saleId}`, { price: 2 }), 409, 'sale_locked');
    expectProblem(await admin(app, 'PUT', `/admin/sales/${saleId}`, { currency: 'USD' }), 409, 'sale_locked');
    // the same price is not a change
    expect((await admin(app, 'PUT', `/admin/sales/${saleId}`, { price: 1, currency: 'CNY' })).status).toBe(200);
    expect((await admin(app, 'GET', `/admin/sales/${saleId}`)).body).toMatchObject({ price: 1, currency: 'CNY' });
  });

  test.for([
    ['a new sale without price', { stock: 1, currency: 'CNY' }],
    ['stock 0', { stock: 0, price: 1, currency: 'CNY' }],
    ['negative price', { stock: 1, price: -1, currency: 'CNY' }],
    ['fractional stock', { stock: 1.5, price: 1, currency: 'CNY' }],
    ['perUserLimit 0', { stock: 1, price: 1, currency: 'CNY', perUserLimit: 0 }],
    ['holdSeconds 9', { stock: 1, price: 1, currency: 'CNY', holdSeconds: 9 }],
    ['holdSeconds 86401', { stock: 1, price: 1, currency: 'CNY', holdSeconds: 86401 }],
    ['a lower-case currency', { stock: 1, price: 1, currency: 'cny' }],
    ['a time without zone', { stock: 1, price: 1, currency: 'CNY', opensAt: '2026-11-22T12:00:00' }],
    [
      'closesAt before opensAt',
      { stock: 1, price: 1, currency: 'CNY', opensAt: '2030-01-02T00:00:00Z', closesAt: '2030-01-01T00:00:00Z' },
    ],
    ['an unknown field', { stock: 1, price: 1, currency: 'CNY', colour: 'red' }],
    ['a string stock', { stock: '10', price: 1, currency: 'CNY' }],
    ['huge stock', { stock: 1e12, price: 1, currency: 'CNY' }],
    ['a name with a lone surrogate', { stock: 1, price: 1, currency: 'CNY', name: 'a\ud800b' }],
  ] as const)('refuses %s with 400 and creates nothing', async ([, body], { app }) => {
    const saleId = unique('sale');
    expectProblem(await admin(app, 'PUT', `/admin/sales/${saleId}`, body), 400, 'invalid_request');
    expectProblem(await admin(app, 'GET', `/admin/sales/${saleId}`), 404, 'sale_not_found');
  });

  test('refuses a malformed saleId with 400', async ({ app }) => {
    expectProblem(
      await admin(app, 'PUT', '/admin/sales/bad%20id', { stock: 1, price: 1, currency: 'CNY' }),
      400,
      'invalid_request',
    );
    expectProblem(
      await admin(app, 'PUT', `/admin/sales/${'x'.repeat(65)}`, { stock: 1, price: 1, currency: 'CNY' }),
      400,
      'invalid_request',
    );
  });

  test('requires the admin token; a buyer JWT never opens /admin', async ({ app }) => {
    const saleId = unique('sale');
    const body = { stock: 1, price: 1, currency: 'CNY' };
    expectProblem(await call(app, 'PUT', `/admin/sales/${saleId}`, { body }), 401, 'unauthenticated');
    expectProblem(
      await call(app, 'PUT', `/admin/sales/${saleId}`, { body, token: 'wrong-token-wrong-token' }),
      401,
      'unauthenticated',
    );
    expectProblem(
      await call(app, 'PUT', `/admin/sales/${saleId}`, { body, token: (await buyer()).jwt }),
      401,
      'unauthenticated',
    );
    expectProblem(
      await call(app, 'GET', `/admin/sales/${saleId}`, { token: (await buyer()).jwt }),
      401,
      'unauthenticated',
    );
    expectProblem(await admin(app, 'GET', `/admin/sales/${saleId}`), 404, 'sale_not_found');
  });
});

describe('GET /v1/sales/{saleId}', () => {
  test('shows the public view, cacheable for 1 s, without auth', async ({ app }) => {
    const saleId = await createSale(app, { stock: 3, name: 'Outer ring' });
    const res = await call(app, 'GET', `/v1/sales/${saleId}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('public, max-age=1');
    expect(res.body).toEqual({
      saleId,
      name: 'Outer ring',
      price: 38000,
      currency: 'CNY',
      status: 'open',
      available: 3,
      opensAt: expect.any(String),
      closesAt: null,
    });
  });

  test('reports scheduled, sold_out and closed', async ({ app }) => {
    const scheduled = await createSale(app, { opensAt: '2099-01-01T00:00:00Z' });
    expect((await call(app, 'GET', `/v1/sales/${scheduled}`)).body.status).toBe('scheduled');
    const closed = await createSale(app, { opensAt: '2020-01-01T00:00:00Z', closesAt: '2020-01-02T00:00:00+08:00' });
    expect((await call(app, 'GET', `/v1/sales/${closed}`)).body).toMatchObject({
      status: 'closed',
      closesAt: '2020-01-01T16:00:00.000Z',
    });
    const soldOut = await createSale(app, { stock: 1 });
    await placeOrder(app, soldOut, (await buyer()).jwt);
    expect((await call(app, 'GET', `/v1/sales/${soldOut}`)).body).toMatchObject({ status: 'sold_out', available: 0 });
  });

  test('answers 404 sale_not_found for an unknown sale', async ({ app }) => {
    expectProblem(await call(app, 'GET', `/v1/sales/${unique('nope')}`), 404, 'sale_not_found');
  });
});

describe('sale reads for sale pages (SaleStore.readRecent)', () => {
  test('polls within max-age share one Redis read; an older answer, a missing sale and a PUT through the store are read again', async ({
    app,
    redis,
  }) => {
    let readSales = 0;
    const counted: RedisPort = {
      ...redis,
      evalsha: (...call: Parameters<RedisPort['evalsha']>) => {
        if (call[0] === scripts.readSale.sha) readSales++;
        return redis.evalsha(...call);
      },
    };
    let nowMs = 1_000_000;
    const store = new SaleStore(counted, () => nowMs);
    const saleId = await createSale(app, { stock: 3 });
    const first = await Promise.all(Array.from({ length: 20 }, () => store.readRecent(saleId, 1000)));
    expect(first.map((s) => s?.sale.stock)).toEqual(Array(20).fill(3));
    await placeOrder(app, saleId, (await buyer()).jwt);
    nowMs += 999;
    expect((await store.readRecent(saleId, 1000))?.sale.held).toBe(0);
    expect(readSales).toBe(1);
    nowMs += 1;
    expect((await store.readRecent(saleId, 1000))?.sale.held).toBe(1);
    expect(readSales).toBe(2);
    await store.put(saleId, { stock: 5 });
    expect((await store.readRecent(saleId, 1000))?.sale.stock).toBe(5);
    const missing = unique('nope');
    expect(await store.readRecent(missing, 1000)).toBeNull();
    expect(await store.readRecent(missing, 1000)).toBeNull();
    expect(readSales).toBe(5);
  });
});

describe('SaleStore.put: the order of its writes', () => {
  test('a put that dies between listing the sale and writing it leaves an id every reader skips; a retry writes it', async ({
    app,
    redis,
    raw,
  }) => {
    // the process dies as it sends putSale: everything before it was done, putSale never reaches Redis
    const dying: RedisPort = {
      ...redis,
      evalsha: (...call: Parameters<RedisPort['evalsha']>) =>
        call[0] === scripts.putSale.sha
          ? Promise.reject(new RedisUnavailableError('the process died'))
          : redis.evalsha(...call),
    };
    const saleId = unique('sale');
    await expect(new SaleStore(dying).put(saleId, { stock: 5, price: 100, currency: 'CNY' })).rejects.toThrow(
      RedisUnavailableError,
    );
    expect(await raw.sismember(keys.sales, saleId)).toBe(1);
    expect(await raw.keys(saleKeyPattern(saleId))).toEqual([]);
    const store = new SaleStore(redis);
    expect(await store.read(saleId)).toBeNull();
    expect((await store.readMany(1_000_000)).map((s) => s.sale.saleId)).not.toContain(saleId);
    expectProblem(await call(app, 'GET', `/v1/sales/${saleId}`), 404, 'sale_not_found');
    const again = await store.put(saleId, { stock: 5, price: 100, currency: 'CNY' });
    expect(again).toMatchObject({ created: true, sale: { saleId, stock: 5 } });
  });
});
