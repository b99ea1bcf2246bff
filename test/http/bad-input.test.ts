/**
 * Bad input on every route: a 4xx problem+json, never a 5xx, and nothing changed.
 */
import { sign } from 'hono/jwt';
import { describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  buyer,
  call,
  createSale,
  expectProblem,
  JWT_SECRET,
  placeOrder,
  saleCounters,
  testApp,
} from '../helpers.js';

const { app } = await testApp();
const saleId = await createSale(app, { stock: 10, perUserLimit: 5 });
const b = await buyer();
const order = await placeOrder(app, saleId, b.jwt);
const before = await saleCounters(app, saleId);

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

const badJwts: [string, () => Promise<string>][] = [
  ['expired', () => sign({ sub: b.userId, exp: now() - 10 }, JWT_SECRET)],
  ['without exp', () => sign({ sub: b.userId }, JWT_SECRET)],
  ['without sub', () => sign({ exp: now() + 60 }, JWT_SECRET)],
  ['with a malformed sub', () => sign({ sub: 'bad user!', exp: now() + 60 }, JWT_SECRET)],
  ['with an unknown tier', () => sign({ sub: b.userId, exp: now() + 60, tier: 'gold' }, JWT_SECRET)],
  ['signed with another secret', () => sign({ sub: b.userId, exp: now() + 60 }, 'another-secret-another-secret-0000')],
  ['signed HS512', () => sign({ sub: b.userId, exp: now() + 60 }, JWT_SECRET, 'HS512')],
  ['alg none', async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: b.userId, exp: now() + 60 })}.`],
  ['garbage', async () => 'not.a.jwt'],
  ['the admin token', async () => ADMIN_TOKEN],
];

const buyerRoutes: [string, string, unknown][] = [
  ['POST', `/v1/sales/${saleId}/orders`, {}],
  ['GET', `/v1/orders/${order.orderId}`, undefined],
  ['DELETE', `/v1/orders/${order.orderId}`, undefined],
  ['POST', `/v1/orders/${order.orderId}/tokens`, undefined],
  ['POST', `/v1/orders/${order.orderId}/payments`, { paymentToken: order.paymentToken, method: 'wallet' }],
  ['GET', '/v1/payments/pay_x', undefined],
];

// the Node runtime's verifier (fast-jwt) and the Web Crypto one (hono/jwt) must refuse alike
const webApp = (await testApp({ crypto: {} })).app;

describe.each([
  ['node:crypto + fast-jwt', app],
  ['Web Crypto + hono/jwt', webApp],
])('bad JWTs (%s)', (_, target) => {
  it.each(badJwts)('a JWT %s is 401 on every buyer route', async (_, make) => {
    const token = await make();
    for (const [method, path, body] of buyerRoutes) {
      expectProblem(
        await call(target, method, path, { token, ...(body === undefined ? {} : { body }) }),
        401,
        'unauthenticated',
      );
    }
    expectProblem(
      await call(target, 'GET', `/v1/orders/${order.orderId}`, { headers: { Authorization: 'Basic abc' } }),
      401,
      'unauthenticated',
    );
  });

  it('a valid JWT is accepted, and the same order is visible through either verifier', async () => {
    expect((await call(target, 'GET', `/v1/orders/${order.orderId}`, { token: b.jwt })).status).toBe(200);
  });
});

describe('bad input', () => {
  const orderPath = `/v1/sales/${saleId}/orders`;
  it.each([
    [
      'malformed JSON',
      { rawBody: '{"quantity":', headers: { 'Content-Type': 'application/json' } },
      400,
      'invalid_request',
    ],
    ['a JSON array', { body: [1] }, 400, 'invalid_request'],
    ['a string quantity', { body: { quantity: '1' } }, 400, 'invalid_request'],
    ['quantity 0', { body: { quantity: 0 } }, 400, 'invalid_request'],
    ['a negative quantity', { body: { quantity: -3 } }, 400, 'invalid_request'],
    ['a fractional quantity', { body: { quantity: 1.5 } }, 400, 'invalid_request'],
    ['a huge quantity', { body: { quantity: 1e308 } }, 400, 'invalid_request'],
    ['an unknown field', { body: { quantity: 1, seat: 'A1' } }, 400, 'invalid_request'],
    [
      'a non-JSON content type',
      { rawBody: 'quantity=1', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } },
      415,
      'unsupported_media_type',
    ],
    [
      'an oversized body',
      {
        rawBody: JSON.stringify({ quantity: 1, pad: 'x'.repeat(17_000) }),
        headers: { 'Content-Type': 'application/json' },
      },
      413,
      'payload_too_large',
    ],
  ] as const)('an order with %s is %i and holds nothing', async (_, opts, status, code) => {
    const res = await call(app, 'POST', orderPath, { token: b.jwt, ...opts });
    expectProblem(res, status, code);
    if (code === 'invalid_request') expect(res.body.errors?.length ?? 1).toBeGreaterThan(0);
  });

  it('a non-JSON body is 415 even on routes that read no body', async () => {
    for (const [method, path] of [
      ['DELETE', `/v1/orders/${order.orderId}`],
      ['POST', `/v1/orders/${order.orderId}/tokens`],
    ] as const) {
      const res = await call(app, method, path, {
        token: b.jwt,
        rawBody: 'hello',
        headers: { 'Content-Type': 'text/plain', 'Content-Length': '5' },
      });
      expectProblem(res, 415, 'unsupported_media_type');
    }
  });

  it('an oversized body sent without Content-Length (chunked) is 413', async () => {
    const big = new TextEncoder().encode(JSON.stringify({ quantity: 1, pad: 'x'.repeat(20_000) }));
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(big);
        c.close();
      },
    });
    const res = await app.request(orderPath, {
      method: 'POST',
      body: stream,
      duplex: 'half',
      headers: { Authorization: `Bearer ${b.jwt}`, 'Content-Type': 'application/json' },
    } as RequestInit);
    expect(res.status).toBe(413);
  });

  it.each([
    ['no token', { method: 'wallet' }],
    ['a number token', { paymentToken: 42, method: 'wallet' }],
    ['an empty token', { paymentToken: '', method: 'wallet' }],
    ['no method', { paymentToken: 'pt_x' }],
    ['an unknown field', { paymentToken: 'pt_x', method: 'wallet', amount: 1 }],
    ['an oversized token', { paymentToken: 'x'.repeat(1000), method: 'wallet' }],
  ])('a payment with %s is 400 and pays nothing', async (_, body) => {
    expectProblem(
      await call(app, 'POST', `/v1/orders/${order.orderId}/payments`, { token: b.jwt, body }),
      400,
      'invalid_request',
    );
  });

  it('bad ids: a malformed saleId is 400, a malformed order or payment id 404', async () => {
    expectProblem(
      await call(app, 'POST', '/v1/sales/has%20space/orders', { token: b.jwt, body: {} }),
      400,
      'invalid_request',
    );
    expectProblem(await call(app, 'GET', `/v1/sales/${'s'.repeat(65)}`), 400, 'invalid_request');
    for (const id of ['x', 'ord_', 'ord_!!!', `ord_${'A'.repeat(21)}%2F%2F`, `ord_${'A'.repeat(300)}`]) {
      expectProblem(await call(app, 'GET', `/v1/orders/${id}`, { token: b.jwt }), 404, 'not_found');
      expectProblem(
        await call(app, 'POST', `/v1/orders/${id}/payments`, {
          token: b.jwt,
          body: { paymentToken: 'pt_x', method: 'wallet' },
        }),
        404,
        'not_found',
      );
    }
    expectProblem(await call(app, 'GET', '/v1/payments/ord_x', { token: b.jwt }), 404, 'not_found');
  });

  it('unknown routes and methods are 404 problem+json', async () => {
    expectProblem(await call(app, 'GET', '/v2/anything'), 404, 'not_found');
    expectProblem(await call(app, 'PATCH', `/v1/orders/${order.orderId}`, { token: b.jwt }), 404, 'not_found');
  });

  it('echoes a safe X-Request-Id and mints one otherwise', async () => {
    const echoed = await app.request('/healthz', { headers: { 'X-Request-Id': 'trace-123' } });
    expect(echoed.headers.get('x-request-id')).toBe('trace-123');
    const minted = await app.request('/healthz', { headers: { 'X-Request-Id': 'bad id <script>' } });
    expect(minted.headers.get('x-request-id')).toMatch(/^[0-9a-z]{6}-[0-9a-z]+$/);
  });

  it('after all of the above, the sale and the order are exactly as they were', async () => {
    expect(await saleCounters(app, saleId)).toEqual(before);
    const current = await call(app, 'GET', `/v1/orders/${order.orderId}`, { token: b.jwt });
    expect(current.body).toMatchObject({ status: 'held', payment: null });
  });
});
