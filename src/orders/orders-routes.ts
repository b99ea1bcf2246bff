import { Hono, type MiddlewareHandler } from 'hono';
import { z } from 'zod';
import type { BuyerEnv } from '../http/auth.js';
import { readJson } from '../http/body.js';
import { ID_PATTERN, mintId } from '../ids.js';
import { saleIdParam, saleOfIdParam } from '../http/params.js';
import { problem } from '../http/problem.js';
import { refusalResponse } from '../http/refusal-problems.js';
import type { PaymentTokens } from '../payments/payment-token.js';
import type { SaleGate } from '../sales/sale-gate.js';
import type { Admission } from '../limits/limits-routes.js';
import { Refusal } from '../refusal.js';
import type { LimitsView } from '../limits/limits-watcher.js';
import type { InFlight } from './in-flight.js';
import { orderView, type OrderStore } from './order-store.js';
import { json } from '../http/respond.js';

export const OrderBody = z.strictObject({
  quantity: z.number().int().min(1).max(1000).default(1),
});

/** API.md: 1..255 printable ASCII characters. */
const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,255}$/;

export interface OrdersDeps {
  orders: OrderStore;
  gate: SaleGate;
  tokens: PaymentTokens;
  inFlight: InFlight;
  auth: MiddlewareHandler<BuyerEnv>;
  /** The blocklist and the buyer's windows around the order script. */
  admission: Admission;
  /** The per-sale admission rate comes from here. */
  limits: LimitsView;
  /** The `others` window, on the routes that name no sale. */
  others: MiddlewareHandler<BuyerEnv>;
}

/** Buyer order routes, mounted under /v1. */
export function ordersRoutes({ orders, gate, tokens, inFlight, auth, admission, limits, others }: OrdersDeps) {
  // a sold-out or closed sale is refused from memory before any limit costs a round trip, and
  // before the JWT is verified: the answer is the same for every caller (and public at
  // GET /v1/sales/{saleId}), so the flood after a sell-out costs as little as it can
  const soldOutFirst: MiddlewareHandler<BuyerEnv> = async function soldOutFirst(c, next) {
    const saleId = c.req.param('saleId');
    // a malformed id is for the route to refuse, after the JWT check (401 before 400)
    if (c.req.header('Idempotency-Key') === undefined && saleId !== undefined && ID_PATTERN.test(saleId)) {
      const refusal = gate.refusal(saleId);
      // answered, not thrown; the problem (with its body) is rendered once per sale, not per buyer
      if (refusal) return refusalResponse(c, refusal.refused);
    }
    await next();
    return undefined;
  };
  return new Hono<BuyerEnv>()
    .post('/sales/:saleId/orders', soldOutFirst, auth, async (c) => {
      const { userId } = c.get('buyer');
      const saleId = saleIdParam(c.req.param('saleId'));
      const idempotencyKey = c.req.header('Idempotency-Key');
      if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
        throw problem('invalid_request', 'Idempotency-Key must be 1 to 255 printable ASCII characters');
      }
      // without an Idempotency-Key the request cannot be a replay, so a known refusal stands;
      // it is answered before the body is read, which is most of what a refusal would cost
      const admitted = admission.admit(c, saleId, { mayBeReplay: idempotencyKey !== undefined });
      if (admitted.refused) return refusalResponse(c, admitted.refused);
      const { windows } = admitted;
      const { quantity } = await readJson(c, OrderBody);
      const release = idempotencyKey === undefined ? null : inFlight.claim(`${saleId}\n${userId}`, idempotencyKey);
      try {
        const order = await orders.create({
          saleId,
          orderId: mintId('ord', saleId),
          userId,
          quantity,
          nonce: tokens.newNonce(),
          ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
          ...(limits.policies.orders.perSale ? { admission: limits.policies.orders.perSale } : {}),
          windows,
        });
        if (order.availableAfter === 0) gate.remember(saleId, 'sold_out');
        const headers: Record<string, string> = { Location: `/v1/orders/${order.orderId}` };
        if (order.replayed) headers['Idempotent-Replayed'] = 'true';
        return json(
          c,
          {
            orderId: order.orderId,
            saleId,
            quantity: order.quantity,
            amount: order.amount,
            currency: order.currency,
            status: 'held',
            expiresAt: new Date(order.expiresAtMs).toISOString(),
            paymentToken: await tokens.sign(order.orderId, userId, order.nonce),
          },
          201,
          headers,
        );
      } catch (err) {
        if (err instanceof Refusal && err.refused.code === 'rate_limited')
          return refusalResponse(c, admission.refusal(c, saleId, err.refused));
        gate.learnFrom(saleId, err);
        throw err;
      } finally {
        release?.();
      }
    })
    .get('/orders/:orderId', auth, others, async (c) => {
      const orderId = c.req.param('orderId');
      const saleId = saleOfIdParam('ord', orderId);
      const order = await orders.read(saleId, orderId, c.get('buyer').userId);
      return json(c, orderView(saleId, orderId, order));
    })
    .delete('/orders/:orderId', auth, others, async (c) => {
      const orderId = c.req.param('orderId');
      const saleId = saleOfIdParam('ord', orderId);
      const order = await orders.cancel(saleId, orderId, c.get('buyer').userId);
      return json(c, orderView(saleId, orderId, order));
    })
    .post('/orders/:orderId/tokens', auth, others, async (c) => {
      const orderId = c.req.param('orderId');
      const saleId = saleOfIdParam('ord', orderId);
      const { userId } = c.get('buyer');
      const nonce = tokens.newNonce();
      const expiresAtMs = await orders.reissueToken(saleId, orderId, userId, nonce);
      return json(
        c,
        {
          paymentToken: await tokens.sign(orderId, userId, nonce),
          expiresAt: new Date(expiresAtMs).toISOString(),
        },
        201,
      );
    });
}
