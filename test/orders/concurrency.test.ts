/**
 * Real parallel requests over HTTP (the gateway listening on loopback, many sockets at once)
 * against real Redis. Each test names the invariant it proves.
 */
import { keys } from '../../src/redis/keys.js';
import { describe, expect, test } from '../fixtures.js';
import { buyer, buyerJwt, createSale, parallel, saleCounters, unique } from '../helpers.js';

async function post(base: string, path: string, jwt: string, body: unknown = {}) {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${jwt}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

async function del(base: string, path: string, jwt: string) {
  const res = await fetch(`${base}${path}`, { method: 'DELETE', headers: { Authorization: `Bearer ${jwt}` } });
  return { status: res.status, body: (await res.json()) as any };
}

describe('concurrency', () => {
  test('no oversell: 2,000 buyers racing for 500 units -> exactly 500 held, 1,500 sold_out', async ({
    app,
    origin,
  }) => {
    const saleId = await createSale(app, { stock: 500, perUserLimit: 1 });
    const jwts = await Promise.all(Array.from({ length: 2000 }, (_, i) => buyerJwt(`race-${saleId}-${i}`)));
    const results = await parallel(2000, 200, (i) => post(origin, `/v1/sales/${saleId}/orders`, jwts[i]!));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(500);
    expect(results.filter((r) => r.status === 409 && r.body.code === 'sold_out')).toHaveLength(1500);
    const counters = await saleCounters(app, saleId); // asserts available + held + sold == stock
    expect(counters).toMatchObject({ stock: 500, held: 500, available: 0, sold: 0 });
    expect(new Set(results.filter((r) => r.status === 201).map((r) => r.body.orderId)).size).toBe(500);
  });

  test('per-buyer limit: one buyer firing 20 orders at once with perUserLimit 2 -> exactly 2 units held', async ({
    app,
    origin,
  }) => {
    const saleId = await createSale(app, { stock: 100, perUserLimit: 2 });
    const b = await buyer();
    const results = await parallel(20, 20, () => post(origin, `/v1/sales/${saleId}/orders`, b.jwt));
    expect(results.filter((r) => r.status === 201)).toHaveLength(2);
    expect(results.filter((r) => r.status === 409 && r.body.code === 'limit_exceeded')).toHaveLength(18);
    expect(await saleCounters(app, saleId)).toMatchObject({ held: 2, available: 98 });
  });

  test('one payment per token: 50 simultaneous payments with one token -> one payment, 49 identical replays', async ({
    app,
    raw,
    origin,
  }) => {
    const saleId = await createSale(app);
    const b = await buyer();
    const order = await post(origin, `/v1/sales/${saleId}/orders`, b.jwt);
    const results = await parallel(50, 50, () =>
      post(origin, `/v1/orders/${order.body.orderId}/payments`, b.jwt, {
        paymentToken: order.body.paymentToken,
        method: 'wallet',
      }),
    );
    expect(results.every((r) => r.status === 202)).toBe(true);
    const originals = results.filter((r) => r.headers.get('idempotent-replayed') !== 'true');
    const replays = results.filter((r) => r.headers.get('idempotent-replayed') === 'true');
    expect(originals).toHaveLength(1);
    expect(replays).toHaveLength(49);
    for (const r of replays) expect(r.body).toEqual(originals[0]!.body);
    expect(await raw.xlen(keys.lane(saleId, 'standard'))).toBe(1);
  });

  test('payment vs cancel: for each of 40 orders racing a payment against a cancel, exactly one wins', async ({
    app,
    origin,
  }) => {
    const saleId = await createSale(app, { stock: 40, perUserLimit: 1 });
    const buyers = await Promise.all(Array.from({ length: 40 }, () => buyer()));
    const orders = await Promise.all(buyers.map((b) => post(origin, `/v1/sales/${saleId}/orders`, b.jwt)));
    const outcomes = await Promise.all(
      orders.map(async (order, i) => {
        const { jwt } = buyers[i]!;
        const [payment, cancel] = await Promise.all([
          post(origin, `/v1/orders/${order.body.orderId}/payments`, jwt, {
            paymentToken: order.body.paymentToken,
            method: 'wallet',
          }),
          del(origin, `/v1/orders/${order.body.orderId}`, jwt),
        ]);
        return { payment, cancel };
      }),
    );
    let paid = 0;
    let cancelled = 0;
    for (const { payment, cancel } of outcomes) {
      const paymentWon = payment.status === 202;
      const cancelWon = cancel.status === 200 && cancel.body.status === 'cancelled';
      expect(paymentWon !== cancelWon, JSON.stringify({ payment: payment.body, cancel: cancel.body })).toBe(true);
      if (paymentWon) {
        expect(cancel.body.code).toBe('payment_pending');
        paid++;
      } else {
        expect(payment.body.code).toBe('order_closed');
        cancelled++;
      }
    }
    const counters = await saleCounters(app, saleId);
    expect(counters.held).toBe(paid);
    expect(counters.available).toBe(cancelled);
    expect(counters.queue.depth).toBe(paid);
  });

  test('FIFO: 300 payments accepted in parallel get positions 1..300 in their lane, no gap, no duplicate', async ({
    app,
    raw,
    origin,
  }) => {
    const saleId = await createSale(app, { stock: 300, perUserLimit: 1 });
    const buyers = await Promise.all(Array.from({ length: 300 }, () => buyer()));
    const orders = await parallel(300, 100, (i) => post(origin, `/v1/sales/${saleId}/orders`, buyers[i]!.jwt));
    const payments = await parallel(300, 100, (i) =>
      post(origin, `/v1/orders/${orders[i]!.body.orderId}/payments`, buyers[i]!.jwt, {
        paymentToken: orders[i]!.body.paymentToken,
        method: 'wallet',
      }),
    );
    const positions = payments.map((p) => p.body.position).sort((a, b) => a - b);
    expect(positions).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    // the lane stream holds them in exactly that order
    const entries = await raw.xrange(keys.lane(saleId, 'standard'), '-', '+');
    const byPayment = new Map(payments.map((p) => [p.body.paymentId as string, p.body.position as number]));
    expect(entries.map(([, fields]) => byPayment.get(fields[1]!))).toEqual(positions);
  });

  test('many sales at once do not interfere: counters of each stay exact', async ({ app, origin }) => {
    const sales = await Promise.all(Array.from({ length: 5 }, () => createSale(app, { stock: 30, perUserLimit: 1 })));
    const attempts = await parallel(250, 100, async (i) => {
      const saleId = sales[i % 5]!;
      return { saleId, res: await post(origin, `/v1/sales/${saleId}/orders`, await buyerJwt(unique('m'))) };
    });
    for (const saleId of sales) {
      const won = attempts.filter((a) => a.saleId === saleId && a.res.status === 201).length;
      expect(won).toBe(30);
      expect(await saleCounters(app, saleId)).toMatchObject({ held: 30, available: 0 });
    }
  });
});
