import { Hono, type MiddlewareHandler } from 'hono';
import { z } from 'zod';
import type { BuyerEnv } from '../http/auth.js';
import { readJson } from '../http/body.js';
import { ID_PATTERN } from '../ids.js';
import { problem } from '../http/problem.js';
import { ReferenceReused, type LedgerView } from '../ledger/ledger.js';
import { json } from '../http/respond.js';

export const CreditBody = z.strictObject({
  amount: z.number().int().min(1).max(1_000_000_000_000),
  currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as "CNY"'),
  reference: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[\x20-\x7e]+$/, 'printable ASCII'),
});

/** Credits in one call; the 16 KiB body limit allows about 150 with the longest userIds. */
export const MAX_CREDITS_PER_CALL = 200;

export const CreditsBody = z.strictObject({
  credits: z
    .array(CreditBody.extend({ userId: z.string().regex(ID_PATTERN, 'must match ^[A-Za-z0-9_.:-]{1,64}$') }))
    .min(1)
    .max(MAX_CREDITS_PER_CALL),
});

async function mappingReuse<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof ReferenceReused) throw problem('idempotency_key_reused', err.message);
    throw err;
  }
}

/** Ops: credit a wallet, or many at once (idempotent by reference), mounted under /admin/wallets. */
export function adminWalletsRoutes({ ledger }: { ledger: Pick<LedgerView, 'credit' | 'creditMany'> }) {
  return (
    new Hono()
      // `/credits` is written as `/:credits` so that every route of the app is one Hono's
      // RegExpRouter takes (a static segment beside a parameter is not; see limits-routes.ts)
      .post('/:credits', async (c) => {
        if (c.req.param('credits') !== 'credits') return c.notFound();
        const { credits } = await readJson(c, CreditsBody);
        const results = await mappingReuse(ledger.creditMany(credits));
        const body = credits.map((credit, i) => ({ userId: credit.userId, currency: credit.currency, ...results[i]! }));
        return json(c, { credits: body }, results.some((r) => r.created) ? 201 : 200);
      })
      .post('/:userId/credits', async (c) => {
        const userId = c.req.param('userId');
        if (!ID_PATTERN.test(userId)) throw problem('invalid_request', 'userId must match ^[A-Za-z0-9_.:-]{1,64}$');
        const credit = await readJson(c, CreditBody);
        const { created, balance } = await mappingReuse(ledger.credit({ userId, ...credit }));
        return json(c, { userId, currency: credit.currency, balance }, created ? 201 : 200);
      })
  );
}

/** The calling buyer's balances, mounted under /v1. */
export function walletRoutes(deps: {
  ledger: Pick<LedgerView, 'balances'>;
  auth: MiddlewareHandler<BuyerEnv>;
  others: MiddlewareHandler<BuyerEnv>;
}) {
  const { ledger, auth, others } = deps;
  return new Hono<BuyerEnv>().get('/wallet', auth, others, async (c) => {
    const { userId } = c.get('buyer');
    return json(c, { userId, balances: await ledger.balances(userId) });
  });
}
