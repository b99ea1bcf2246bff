import { Hono, type MiddlewareHandler } from 'hono';
import { z } from 'zod';
import type { BuyerEnv } from '../http/auth.js';
import { readJson } from '../http/body.js';
import { ID_PATTERN } from '../http/ids.js';
import { problem } from '../http/problem.js';
import { ReferenceReused, type LedgerView } from '../ledger/ledger.js';
import { json } from '../http/respond.js';

const CreditBody = z.strictObject({
  amount: z.number().int().min(1).max(1_000_000_000_000),
  currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as "CNY"'),
  reference: z.string().min(1).max(200).regex(/^[\x20-\x7e]+$/, 'printable ASCII'),
});

/** Ops: credit a wallet (idempotent by reference), mounted under /admin/wallets. */
export function adminWalletsRoutes({ ledger }: { ledger: Pick<LedgerView, 'credit'> }) {
  return new Hono().post('/:userId/credits', async (c) => {
    const userId = c.req.param('userId');
    if (!ID_PATTERN.test(userId)) throw problem('invalid_request', 'userId must match ^[A-Za-z0-9_.:-]{1,64}$');
    const credit = await readJson(c, CreditBody);
    try {
      const { created, balance } = await ledger.credit({ userId, ...credit });
      return json(c, { userId, currency: credit.currency, balance }, created ? 201 : 200);
    } catch (err) {
      if (err instanceof ReferenceReused) throw problem('idempotency_key_reused', err.message);
      throw err;
    }
  });
}

/** The calling buyer's balances, mounted under /v1. */
export function walletRoutes(deps: { ledger: Pick<LedgerView, 'balances'>; auth: MiddlewareHandler<BuyerEnv>; others: MiddlewareHandler<BuyerEnv> }) {
  const { ledger, auth, others } = deps;
  return new Hono<BuyerEnv>().get('/wallet', auth, others, async (c) => {
    const { userId } = c.get('buyer');
    return json(c, { userId, balances: await ledger.balances(userId) });
  });
}
