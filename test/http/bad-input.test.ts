/**
 * Bad input on every route: a 4xx problem+json, never a 5xx, and nothing changed.
 */
import { sign } from 'hono/jwt';
import { test as base, describe, expect } from '../fixtures.js';
import {
  ADMIN_TOKEN,
  buyer,
  call,
  createSale,
  expectProblem,
  JWT_SECRET,
  placeOrder,
  saleCounters,
  startGateway,
  type App,
} from '../helpers.js';

/** The file's sale, its buyer and the order it holds, and the sale's counters before any test. */
interface Scene {
  saleId: string;
  b: Awaited<ReturnType<typeof buyer>>;
  order: Awaited<ReturnType<typeof placeOrder>>;
  before: Awaited<ReturnType<typeof saleCounters>>;
}

const test = base.extend<{ webApp: App; scene: Scene }>({
  // the Node runtime's verifier (fast-jwt) and the Web Crypto one (hono/jwt) must refuse alike
  webApp: [
    async ({ redisUrl, policies }, use) => {
      const gateway = await startGateway(redisUrl, { crypto: {} }, policies);
      await use(gateway.app);
      await gateway.close();
    },
    { scope: 'file' },
  ],
  scene: [
    async ({ app }, use) => {
      const saleId = await createSale(app, { stock: 10, perUserLimit: 5 });
      const b = await buyer();
      const order = await placeOrder(app, saleId, b.jwt);
      const before = await saleCounters(app, saleId);
      await use({ saleId, b, order, before });
    },
    { scope: 'file' },
  ],
});

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

/** Bad JWTs for the buyer `b`. */
const badJwts: [string, (b: Scene['b']) => Promise<string>][] = [
  ['expired', (b) => sign({ sub: b.userId, exp: now() - 10 }, JWT_SECRET)],
  ['without exp', (b) => sign({ sub: b.userId }, JWT_SECRET)],
  ['without sub', () => sign({ exp: now() + 60 }, JWT_SECRET)],
  ['with a malformed sub', () => sign({ sub: 'bad user!', exp: now() + 60 }, JWT_SECRET)],
  ['with an unknown tier', (b) => sign({ sub: b.userId, exp: now() + 60, tier: 'gold' }, JWT_SECRET)],
  ['signed with another secret', (b) => sign({ sub: b.userId, exp: now() + 60 }, 'another-secret-another-secret-0000')],
  ['signed HS512', (b) => sign({ sub: b.userId, exp: now() + 60 }, JWT_SECRET, 'HS512')],
  ['alg none', async (b) => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: b.userId, exp: now() + 60 })}.`],
  ['garbage', async () => 'not.a.jwt'],
  ['the admin token', async () => ADMIN_TOKEN],
];

const buyerRoutes = ({ saleId, order }: Scene): [string, string, unknown][] => [
  ['POST', `/v1/sales/${saleId}/orders`, {}],
  ['GET', `/v1/orders/${order.orderId}`, undefined],
  ['DELETE', `/v1/orders/${order.orderId}`, undefined],
  ['POST', `/v1/orders/${order.orderId}/tokens`, undefined],
  ['POST', `/v1/orders/${order.orderId}/payments`, { paymentToken: order.paymentToken, method: 'wallet' }],
  ['GET', '/v1/payments/pay_x', undefined],
];

describe.each([
  ['node:crypto + fast-jwt', 'app'],
  ['Web Crypto + hono/jwt', 'webApp'],
] as const)('bad JWTs (%s)', (_, verifier) => {
  test.for(badJwts)('a JWT %s is 401 on every buyer route', async ([, make], { app, webApp, scene }) => {
    const target = { app, webApp }[verifier];
    const { b, order } = scene;
    const token = await make(b);
    for (const [method, path, body] of buyerRoutes(scene)) {
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

  test('a valid JWT is accepted, and the same order is visible through either verifier', async ({
    app,
    webApp,
    scene,
  }) => {
    const target = { app, webApp }[verifier];
    const { b, order } = scene;
    expect((await call(target, 'GET', `/v1/orders/${order.orderId}`, { token: b.jwt })).status).toBe(200);
  });
});

describe('bad input', () => {
  const orderPath = (saleId: string) => `/v1/sales/${saleId}/orders`;
  test.for([
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
  ] as const)(
    'an order with %s is %i and holds nothing',
    async ([, opts, status, code], { app, scene: { saleId, b } }) => {
      const res = await call(app, 'POST', orderPath(saleId), { token: b.jwt, ...opts });
      expectProblem(res, status, code);
      if (code === 'invalid_request') expect(res.body.errors?.length ?? 1).toBeGreaterThan(0);
    },
  );

  test('a non-JSON body is 415 even on routes that read no body', async ({ app, scene: { b, order } }) => {
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

  test('an oversized body sent without Content-Length (chunked) is 413', async ({ app, scene: { saleId, b } }) => {
    const big = new TextEncoder().encode(JSON.stringify({ quantity: 1, pad: 'x'.repeat(20_000) }));
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(big);
        c.close();
      },
    });
    const res = await app.request(orderPath(saleId), {
      method: 'POST',
      body: stream,
      duplex: 'half',
      headers: { Authorization: `Bearer ${b.jwt}`, 'Content-Type': 'application/json' },
    } as RequestInit);
    expect(res.status).toBe(413);
  });

  test.for<[string, unknown]>([
    ['no token', { method: 'wallet' }],
    ['a number token', { paymentToken: 42, method: 'wallet' }],
    ['an empty token', { paymentToken: '', method: 'wallet' }],
    ['no method', { paymentToken: 'pt_x' }],
    ['an unknown field', { paymentToken: 'pt_x', method: 'wallet', amount: 1 }],
    ['an oversized token', { paymentToken: 'x'.repeat(1000), method: 'wallet' }],
  ])('a payment with %s is 400 and pays nothing', async ([, body], { app, scene: { b, order } }) => {
    expectProblem(
      await call(app, 'POST', `/v1/orders/${order.orderId}/payments`, { token: b.jwt, body }),
      400,
      'invalid_request',
    );
  });

  test('bad ids: a malformed saleId is 400, a malformed order or payment id 404', async ({ app, scene: { b } }) => {
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

  test('unknown routes and methods are 404 problem+json', async ({ app, scene: { b, order } }) => {
    expectProblem(await call(app, 'GET', '/v2/anything'), 404, 'not_found');
    expectProblem(await call(app, 'PATCH', `/v1/orders/${order.orderId}`, { token: b.jwt }), 404, 'not_found');
  });

  test('echoes a safe X-Request-Id and mints one otherwise', async ({ app }) => {
    const echoed = await app.request('/healthz', { headers: { 'X-Request-Id': 'trace-123' } });
    expect(echoed.headers.get('x-request-id')).toBe('trace-123');
    const minted = await app.request('/healthz', { headers: { 'X-Request-Id': 'bad id <script>' } });
    expect(minted.headers.get('x-request-id')).toMatch(/^[0-9a-z]{6}-[0-9a-z]+$/);
  });

  test('after all of the above, the sale and the order are exactly as they were', async ({
    app,
    scene: { saleId, b, order, before },
  }) => {
    expect(await saleCounters(app, saleId)).toEqual(before);
    const current = await call(app, 'GET', `/v1/orders/${order.orderId}`, { token: b.jwt });
    expect(current.body).toMatchObject({ status: 'held', payment: null });
  });
});
