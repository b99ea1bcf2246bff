import { Hono, type MiddlewareHandler } from 'hono';
import { z } from 'zod';
import type { BuyerEnv } from '../http/auth.js';
import { readJson } from '../http/body.js';
import { mintId } from '../ids.js';
import { saleOfIdParam } from '../http/params.js';
import { problem } from '../http/problem.js';
import type { Admission } from '../limits/limits-routes.js';
import { Refusal } from '../refusal.js';
import { refusalResponse } from '../http/refusal-problems.js';
import type { PaymentStore } from './payment-store.js';
import type { PaymentTokens } from './payment-token.js';
import { json } from '../http/respond.js';

export const PaymentBody = z.strictObject({
  paymentToken: z.string().min(1).max(200),
  method: z.string().min(1).max(64),
});

export interface PaymentsDeps {
  payments: PaymentStore;
  tokens: PaymentTokens;
  /** `wallet` and the configured payment channels. */
  methods: ReadonlySet<string>;
  auth: MiddlewareHandler<BuyerEnv>;
  /** The blocklist and the buyer's windows around the payment script. */
  admission: Admission;
  /** The `others` window, on the routes that name no sale. */
  others: MiddlewareHandler<BuyerEnv>;
}

/** Buyer payment routes, mounted under /v1. */
export function paymentsRoutes({ payments, tokens, methods, auth, admission, others }: PaymentsDeps) {
  return new Hono<BuyerEnv>()
    .post('/orders/:orderId/payments', auth, async (c) => {
      const orderId = c.req.param('orderId');
      const saleId = saleOfIdParam('ord', orderId);
      const { userId, lane } = c.get('buyer');
      const { paymentToken, method } = await readJson(c, PaymentBody);
      if (!methods.has(method)) {
        throw problem('invalid_request', `unknown payment method "${method}"`, {
          extra: { methods: [...methods] },
        });
      }
      const nonce = await tokens.verify(paymentToken, orderId, userId);
      if (nonce === null) {
        throw problem('token_invalid', 'the payment token is not valid for this order and buyer');
      }
      // any payment may be a replay of its token, which the script answers before any window
      const admitted = admission.admit(c, saleId, { mayBeReplay: true });
      if (admitted.refused) return refusalResponse(c, admitted.refused);
      const { windows } = admitted;
      let payment: Awaited<ReturnType<typeof payments.accept>>;
      try {
        payment = await payments.accept({
          saleId,
          orderId,
          userId,
          nonce,
          method,
          lane,
          paymentId: mintId('pay', saleId),
          windows,
        });
      } catch (err) {
        // a window's refusal is answered, as the order route does, not thrown again
        if (err instanceof Refusal && err.refused.code === 'rate_limited')
          return refusalResponse(c, admission.refusal(c, saleId, err.refused));
        throw err;
      }
      const headers: Record<string, string> = { Location: `/v1/payments/${payment.paymentId}` };
      if (payment.replayed) headers['Idempotent-Replayed'] = 'true';
      return json(
        c,
        {
          paymentId: payment.paymentId,
          orderId,
          method,
          amount: payment.amount,
          currency: payment.currency,
          status: 'queued',
          position: payment.position,
          lane: payment.lane,
        },
        202,
        headers,
      );
    })
    .get('/payments/:paymentId', auth, others, async (c) => {
      const paymentId = c.req.param('paymentId');
      const saleId = saleOfIdParam('pay', paymentId);
      return json(c, await payments.read(saleId, paymentId, c.get('buyer').userId));
    });
}
