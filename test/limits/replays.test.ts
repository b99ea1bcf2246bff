/**
 * A click storm is answered with the buyer's one payment, whatever the rate limits say: under
 * the default policies (10 per 10 s per buyer), a replay (same token, order and method; or an
 * order's Idempotency-Key) is answered before any window is counted, and counts against none.
 */
import { DEFAULT_POLICIES } from '../../src/limits/policies.js';
import { keys } from '../../src/redis/keys.js';
import { describe, expect, test, usePrivateRedis } from '../fixtures.js';
import { buyer, call, createSale, pay, placeOrder, waitFor } from '../helpers.js';

// policies are global to a Redis: this file has one of its own, under the default policies
usePrivateRedis();
test.scoped({ policies: [DEFAULT_POLICIES, { scope: 'file' }] });

/** One real HTTP request (over loopback), so the clicks are truly concurrent. */
async function http(
  base: string,
  method: string,
  path: string,
  jwt: string,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { Authorization: `Bearer ${jwt}`, 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

/**
 * Waits for the first 2 s of a 10 s window: the default windows are fixed windows on Redis time
 * (which this machine shares), and a test that counts one must not straddle its end.
 */
async function atWindowStart(): Promise<void> {
  await waitFor(() => Date.now() % 10_000 <= 2_000, { what: 'the start of a 10 s window', timeoutMs: 11_000 });
}

describe('replays under the default rate limits', () => {
  test('invariant: 50 simultaneous pay clicks with one token give one payment and 49 identical replays, no 429', async ({
    app,
    raw,
    origin,
    gateway,
  }) => {
    expect(gateway.limits.version).toBe(0);
    expect(gateway.limits.policies.payments.perUser).toMatchObject({ limit: 10, windowSeconds: 10 });
    const saleId = await createSale(app, { stock: 5 });
    const b = await buyer();
    const order = await placeOrder(app, saleId, b.jwt);
    const clicks = await Promise.all(
      Array.from({ length: 50 }, () =>
        http(origin, 'POST', `/v1/orders/${order.orderId}/payments`, b.jwt, {
          paymentToken: order.paymentToken,
          method: 'wallet',
        }),
      ),
    );
    expect(clicks.map((c) => c.status)).toEqual(Array(50).fill(202));
    const ids = new Set(clicks.map((c) => c.body.paymentId));
    expect(ids.size).toBe(1);
    expect(clicks.filter((c) => c.headers.get('idempotent-replayed') === 'true')).toHaveLength(49);
    // every replay is the original answer, byte for byte
    for (const c of clicks) expect(c.body).toEqual(clicks[0]!.body);
    // one payment in the lane, one queued payment for the order
    expect(await raw.xlen(keys.lane(saleId, 'standard'))).toBe(1);
  });

  test('replays count against no window: after 1 payment and 49 replays, 9 more payments fill the window of 10', async ({
    app,
    raw,
  }) => {
    const saleId = await createSale(app, { stock: 20, perUserLimit: 20 });
    const b = await buyer();
    await atWindowStart();
    const orders = await Promise.all(Array.from({ length: 10 }, () => placeOrder(app, saleId, b.jwt)));
    const [first, ...rest] = orders;
    for (let i = 0; i < 50; i++) expect((await pay(app, first!.orderId, b.jwt, first!.paymentToken)).status).toBe(202);
    const results = await Promise.all(rest.map((o) => pay(app, o.orderId, b.jwt, o.paymentToken)));
    expect(results.map((r) => r.status)).toEqual(Array(9).fill(202));
    // the window holds exactly the 10 new payments: it is full
    expect(await raw.get(keys.window(saleId, 'payments.perUser', 10, b.userId))).toBe('10');
    // and a full window still answers a replay as the original payment
    const again = await pay(app, first!.orderId, b.jwt, first!.paymentToken);
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
  });

  test('invariant: 50 simultaneous orders with one Idempotency-Key create one order; the rest replay it or are in progress, no 429', async ({
    app,
    origin,
  }) => {
    const saleId = await createSale(app, { stock: 5 });
    const b = await buyer();
    const key = `storm-${saleId}`;
    await atWindowStart();
    const clicks = await Promise.all(
      Array.from({ length: 50 }, () =>
        http(origin, 'POST', `/v1/sales/${saleId}/orders`, b.jwt, { quantity: 1 }, { 'Idempotency-Key': key }),
      ),
    );
    const statuses = clicks.map((c) => c.status);
    expect(
      statuses.filter((s) => s !== 201 && s !== 409),
      JSON.stringify(clicks.find((c) => c.status !== 201)?.body),
    ).toEqual([]);
    for (const c of clicks.filter((c) => c.status === 409)) expect(c.body.code).toBe('request_in_progress');
    const created = clicks.filter((c) => c.status === 201);
    expect(new Set(created.map((c) => c.body.orderId)).size).toBe(1);
    expect(created.filter((c) => c.headers.get('idempotent-replayed') !== 'true')).toHaveLength(1);
    const sale = await call(app, 'GET', `/v1/sales/${saleId}`);
    expect(sale.body.available).toBe(4);
    // the replays took nothing from the buyer's window: 9 more new orders pass, the 10th is refused
    const more = [];
    for (let i = 0; i < 10; i++)
      more.push(await call(app, 'POST', `/v1/sales/${saleId}/orders`, { token: b.jwt, body: {} }));
    expect(more.filter((r) => r.status === 201 || r.body.code === 'limit_exceeded')).toHaveLength(9);
    expect(more[9]!.status).toBe(429);
    // over the window, the stored answer is still replayed
    const replay = await http(
      origin,
      'POST',
      `/v1/sales/${saleId}/orders`,
      b.jwt,
      { quantity: 1 },
      { 'Idempotency-Key': key },
    );
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
  });
});
