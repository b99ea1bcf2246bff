import { silentLogger } from '../../src/logger.js';
import { keys } from '../../src/redis/keys.js';
import { promMetrics, timedPort } from '../../src/runtime/node/adapters/metrics.js';
import { PaymentWorker } from '../../src/worker/payment-worker.js';
import { test as withFixtures, describe, expect, usePrivateRedis } from '../fixtures.js';
import { admin, buyer, call, createSale, pay, placeOrder, startGateway, unique, type App } from '../helpers.js';

const metrics = promMetrics();
/** The gateway measured into `metrics`, its Redis calls timed, posting to the `ledger` fixture. */
const test = withFixtures.extend<{ measured: App }>({
  measured: [
    async ({ redisUrl, redis, ledger, policies }, use) => {
      const gateway = await startGateway(
        redisUrl,
        { metrics, ledger, redis: timedPort(redis, metrics.redisSeconds, 1) },
        policies,
      );
      await use(gateway.app);
      await gateway.close();
    },
    { scope: 'file' },
  ],
});
// a worker runs here: a Redis of its own
usePrivateRedis();

const scrape = async (app: App) => {
  const res = await app.request('/metrics');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  return res.text();
};
const value = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe('GET /metrics', () => {
  test('counts requests by route and status, and decisions by reason', async ({ measured: app }) => {
    const saleId = await createSale(app, { stock: 1 });
    const b = await buyer();
    const order = await placeOrder(app, saleId, b.jwt);
    await call(app, 'POST', `/v1/sales/${saleId}/orders`, { token: (await buyer()).jwt, body: {} }); // sold_out
    await pay(app, order.orderId, b.jwt, 'pt_forged');
    const text = await scrape(app);
    expect(
      value(
        text,
        'rushgate_http_request_duration_seconds_count{method="POST",route="/v1/sales/:saleId/orders",status="201"}',
      ),
    ).toBeGreaterThanOrEqual(1);
    expect(value(text, 'rushgate_decisions_total{action="order",reason="admitted"}')).toBeGreaterThanOrEqual(1);
    expect(value(text, 'rushgate_decisions_total{action="order",reason="sold_out"}')).toBeGreaterThanOrEqual(1);
    expect(value(text, 'rushgate_decisions_total{action="payment",reason="token_invalid"}')).toBeGreaterThanOrEqual(1);
    expect(value(text, 'rushgate_redis_roundtrip_seconds_count{op="evalsha"}')).toBeGreaterThanOrEqual(1);
    expect(value(text, `rushgate_sale_units{sale="${saleId}",state="held"}`)).toBe(1);
    expect(value(text, `rushgate_sale_units{sale="${saleId}",state="available"}`)).toBe(0);
  });

  test('shows queue depth per lane, and payment outcomes with the ledger hand-off lag once a worker settles them', async ({
    measured: app,
    redis,
    ledger,
  }) => {
    const saleId = await createSale(app, { stock: 5, price: 100 });
    const b = await buyer();
    await admin(app, 'POST', `/admin/wallets/${b.userId}/credits`, { amount: 100, currency: 'CNY', reference: 'r' });
    const order = await placeOrder(app, saleId, b.jwt);
    const payment = await pay(app, order.orderId, b.jwt, order.paymentToken);
    let text = await scrape(app);
    expect(value(text, `rushgate_queue_depth{sale="${saleId}",lane="standard"}`)).toBe(1);
    expect(value(text, `rushgate_queue_served{sale="${saleId}",lane="standard"}`)).toBe(0);
    const worker = new PaymentWorker(redis, ledger, silentLogger, { consumer: unique('w'), metrics });
    while ((await worker.runOnce()) > 0);
    expect((await call(app, 'GET', `/v1/payments/${payment.body.paymentId}`, { token: b.jwt })).body.status).toBe(
      'succeeded',
    );
    text = await scrape(app);
    expect(value(text, `rushgate_queue_depth{sale="${saleId}",lane="standard"}`)).toBe(0);
    expect(value(text, `rushgate_queue_served{sale="${saleId}",lane="standard"}`)).toBe(1);
    expect(value(text, 'rushgate_payment_outcomes_total{outcome="succeeded"}')).toBeGreaterThanOrEqual(1);
    expect(value(text, 'rushgate_ledger_handoff_seconds_count')).toBeGreaterThanOrEqual(1);
  });

  test("shows each sale's payments marked for review and its oversell alarm, read in one script", async ({
    measured: app,
    raw,
  }) => {
    const saleId = await createSale(app);
    let text = await scrape(app);
    expect(value(text, `rushgate_payments_review{sale="${saleId}"}`)).toBe(0);
    expect(value(text, `rushgate_oversell_alarm{sale="${saleId}"}`)).toBe(0);
    // what the worker and the reconciler write when a payment goes unanswered and the ledger oversold
    await raw.zadd(keys.review(saleId), 1, 'pay_a', 2, 'pay_b');
    await raw.hset(keys.oversell(saleId), { charges: 11, seats: 10, detectedAt: 1, refunded: 0 });
    text = await scrape(app);
    expect(value(text, `rushgate_payments_review{sale="${saleId}"}`)).toBe(2);
    expect(value(text, `rushgate_oversell_alarm{sale="${saleId}"}`)).toBe(1);
  });
});
