/**
 * What the worker step tests share: the payment modules on the file's Redis (test.extend), and
 * payments accepted through the gateway, as a buyer makes them.
 */
import { PaymentLanes } from '../../src/payments/payment-lanes.js';
import { PaymentStore } from '../../src/payments/payment-store.js';
import { UnknownPayments } from '../../src/payments/unknown-payments.js';
import { test as base } from '../fixtures.js';
import { call, pay, placeOrder } from '../support/http.js';
import { buyer } from '../support/secrets.js';
import type { App } from '../support/app.js';

export interface PaymentParts {
  payments: PaymentStore;
  lanes: PaymentLanes;
  unknown: UnknownPayments;
}

export const test = base.extend<{ parts: PaymentParts }>({
  parts: [
    async ({ redis }, use) => {
      await use({
        payments: new PaymentStore(redis),
        lanes: new PaymentLanes(redis),
        unknown: new UnknownPayments(redis),
      });
    },
    { scope: 'file' },
  ],
});

export { describe, expect } from '../fixtures.js';

/** A payment accepted into its lane: a new buyer orders one unit and pays. */
export async function accepted(
  app: App,
  saleId: string,
  { method = 'wallet', tier }: { method?: string; tier?: 'priority' } = {},
) {
  const b = await buyer(tier ? { tier } : {});
  const order = await placeOrder(app, saleId, b.jwt);
  const res = await pay(app, order.orderId, b.jwt, order.paymentToken, method);
  if (res.status !== 202) throw new Error(`pay answered ${res.status}: ${JSON.stringify(res.body)}`);
  return { userId: b.userId, jwt: b.jwt, orderId: order.orderId, paymentId: res.body.paymentId as string };
}

/** The payment as its buyer sees it (GET /v1/payments/{id}). */
export async function paymentOf(app: App, p: { jwt: string; paymentId: string }) {
  return (await call(app, 'GET', `/v1/payments/${p.paymentId}`, { token: p.jwt })).body;
}

/** The order as its buyer sees it (GET /v1/orders/{id}). */
export async function orderOf(app: App, p: { jwt: string; orderId: string }) {
  return (await call(app, 'GET', `/v1/orders/${p.orderId}`, { token: p.jwt })).body;
}
