import { Hono, type Context } from 'hono';
import { normalizeAddress } from './address.js';
import type { LimitedAction, RateLimited, SaleWindows, WindowArgs } from './sale-windows.js';
import { z } from 'zod';
import type { BuyerEnv } from '../http/auth.js';
import { readJson } from '../http/body.js';
import { ID_PATTERN } from '../ids.js';
import { problem } from '../http/problem.js';
import type { Refused } from '../refusal.js';
import type { BlockKind, LimitsStore } from './limits-store.js';
import type { LimitsView } from './limits-watcher.js';
import { PoliciesSchema } from './policies.js';
import { json } from '../http/respond.js';

/** `{ "policies": … }`, as GET answers; a bare policies object is refused with a hint to wrap it. */
export const PutLimits = z
  .unknown()
  .transform((body, ctx) => {
    if (
      body !== null &&
      typeof body === 'object' &&
      !('policies' in body) &&
      ('orders' in body || 'payments' in body)
    ) {
      ctx.addIssue({
        code: 'custom',
        message: 'wrap the policies as { "policies": { … } }, the shape GET /admin/limits returns',
      });
      return z.NEVER;
    }
    return body;
  })
  .pipe(z.strictObject({ policies: PoliciesSchema }));
export const Rollback = z.strictObject({ version: z.number().int().min(1) });
export const Block = z.strictObject({
  ttlSeconds: z
    .number()
    .int()
    .min(1)
    .max(30 * 86_400),
  reason: z.string().max(500).default(''),
});

function userIdParam(value: string): string {
  if (!ID_PATTERN.test(value)) throw problem('invalid_request', 'userId must match ^[A-Za-z0-9_.:-]{1,64}$');
  return value;
}

/** An IPv4 or IPv6 address, in the one written form the gateway compares (an IPv6 /64). */
function addressParam(value: string): string {
  const address = normalizeAddress(value);
  if (address === null) throw problem('invalid_request', 'address must be an IPv4 or IPv6 address');
  return address;
}

/** Blocks (ttlSeconds, reason) and unblocks a buyer or an address. */
function blockHandlers(
  kind: BlockKind,
  field: 'userId' | 'address',
  parse: (raw: string) => string,
  { store, refresh }: LimitsDeps,
) {
  return {
    async put(c: Context, raw: string) {
      const id = parse(raw);
      const { ttlSeconds, reason } = await readJson(c, Block);
      const block = await store.block(kind, id, ttlSeconds, reason);
      await refresh();
      return json(c, { [field]: id, ...block });
    },
    async delete(c: Context, raw: string) {
      await store.unblock(kind, parse(raw));
      await refresh();
      return c.body(null, 204);
    },
  };
}

export interface LimitsDeps {
  store: LimitsStore;
  /** Re-read this instance's copy at once after a change (others follow within a second). */
  refresh: () => Promise<void>;
}

/** Ops: the policies (/admin/limits) and the blocklist (/admin/blocklist), behind admin auth. */
export function adminLimitsRoutes({ store, refresh }: LimitsDeps) {
  const view = async (p: { version: number; policies: unknown }) => ({ version: p.version, policies: p.policies });
  const addresses = blockHandlers('address', 'address', addressParam, { store, refresh });
  const users = blockHandlers('user', 'userId', userIdParam, { store, refresh });
  return (
    new Hono()
      .get('/limits', async (c) => {
        const current = await store.current();
        return json(c, { ...(await view(current)), dryRunRefusals: await store.dryRunRefusals(current.version) });
      })
      .put('/limits', async (c) => {
        const { policies } = await readJson(c, PutLimits);
        const installed = await store.put(policies);
        await refresh();
        return json(c, await view(installed));
      })
      .get('/limits/history', async (c) => json(c, { versions: await store.history() }))
      .post('/limits/rollback', async (c) => {
        const { version } = await readJson(c, Rollback);
        const installed = await store.rollback(version);
        await refresh();
        return json(c, { ...(await view(installed)), rolledBackTo: version });
      })
      // `/blocklist/addresses/:address` is written as `/blocklist/:kind/:id` so that every route of the
      // app is one Hono's RegExpRouter takes (a static segment beside a parameter is not): the app
      // then routes with it rather than the slower trie, on the buyer path too
      .put('/blocklist/:kind/:id', (c) =>
        c.req.param('kind') === 'addresses' ? addresses.put(c, c.req.param('id')) : c.notFound(),
      )
      .delete('/blocklist/:kind/:id', (c) =>
        c.req.param('kind') === 'addresses' ? addresses.delete(c, c.req.param('id')) : c.notFound(),
      )
      .put('/blocklist/:id', (c) => users.put(c, c.req.param('id')))
      .delete('/blocklist/:id', (c) => users.delete(c, c.req.param('id')))
  );
}

/** Admission of an order or payment for the request's buyer, around the sale's own script. */
export interface Admission {
  /**
   * 403 `blocked` for a buyer or address on the blocklist, and, for a request that cannot be a
   * replay, the 429 of a window this buyer or address is known to be over (both from memory).
   * Returns the windows for the script to count.
   */
  admit(c: Context<BuyerEnv>, saleId: string, options: { mayBeReplay: boolean }): Admitted;
  /** The 429 for a window the script found exceeded (remembered until it resets). */
  refusal(c: Context<BuyerEnv>, saleId: string, refused: RateLimited): Refused;
}

/** The windows for the script to count, or the refusal to answer (returned, not thrown: see refusalResponse). */
export type Admitted = { windows: WindowArgs; refused?: undefined } | { refused: Refused };

/**
 * Routes call `admit` once the request is known to be well-formed, so a forged token never
 * costs a window; the windows themselves are counted by the order or payment script, after it
 * has answered any replay.
 */
export function admission(
  action: LimitedAction,
  deps: { limits: LimitsView; windows: SaleWindows; clientAddress: (c: Context) => string | undefined },
): Admission {
  return {
    admit(c, saleId, { mayBeReplay }) {
      const { userId } = c.get('buyer');
      const address = deps.clientAddress(c);
      const until =
        deps.limits.blockedUntil(userId) ??
        (address === undefined ? undefined : deps.limits.addressBlockedUntil(address));
      if (until !== undefined) return { refused: { code: 'blocked', untilMs: until } };
      const refused = mayBeReplay ? undefined : deps.windows.rememberedRefusal(action, saleId, userId, address);
      return refused ? { refused } : { windows: deps.windows.argsFor(action, saleId, userId, address) };
    },
    refusal(c, saleId, refused) {
      return deps.windows.refusal(action, saleId, refused, c.get('buyer').userId, deps.clientAddress(c));
    },
  };
}
