import { z } from 'zod';

const window = z.strictObject({
  /** Requests allowed per window; 0 refuses everything the policy covers. */
  limit: z.number().int().min(0).max(1_000_000),
  windowSeconds: z.number().int().min(1).max(86_400),
  /** Count would-be refusals without refusing anyone. */
  dryRun: z.boolean().default(false),
});

/** The rate-limit policies ops set with PUT /admin/limits (API.md's shape, extended). */
export const PoliciesSchema = z.strictObject({
  orders: z.strictObject({
    perUser: window,
    perAddress: window.optional(),
    /** Admissions per second for one sale (the seed design's per-second control). */
    perSale: z
      .strictObject({ perSecond: z.number().int().min(0).max(1_000_000), dryRun: z.boolean().default(false) })
      .optional(),
  }),
  payments: z.strictObject({
    perUser: window,
    perAddress: window.optional(),
  }),
  /**
   * The buyer's other calls, which name no sale: polling orders and payments, cancelling,
   * re-issuing a token, reading the wallet (one window per buyer, through @upstash/ratelimit).
   * None when absent: those calls then cost no limiter round trip.
   */
  others: z.strictObject({ perUser: window }).optional(),
  /** A buyer refused `refusals` times within `windowSeconds` is blocked for `blockSeconds`. */
  autoBlock: z
    .strictObject({
      refusals: z.number().int().min(1).max(1_000_000),
      windowSeconds: z.number().int().min(1).max(86_400),
      blockSeconds: z
        .number()
        .int()
        .min(1)
        .max(7 * 86_400),
    })
    .optional(),
});

export type Policies = z.output<typeof PoliciesSchema>;

/** In force until ops set their own (version 0). */
export const DEFAULT_POLICIES: Policies = Object.freeze({
  orders: { perUser: { limit: 10, windowSeconds: 10, dryRun: false } },
  payments: { perUser: { limit: 10, windowSeconds: 10, dryRun: false } },
}) as Policies;

function flatten(value: unknown, path: string, out: Map<string, unknown>): Map<string, unknown> {
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) flatten(v, path ? `${path}.${k}` : k, out);
  } else {
    out.set(path, value);
  }
  return out;
}

/** What changed between two versions, one entry per leaf: `{ path, from, to }`. */
export function policyChanges(before: Policies, after: Policies): { path: string; from: unknown; to: unknown }[] {
  const a = flatten(before, '', new Map());
  const b = flatten(after, '', new Map());
  return [...new Set([...a.keys(), ...b.keys()])]
    .sort()
    .filter((k) => a.get(k) !== b.get(k))
    .map((path) => ({ path, from: a.get(path) ?? null, to: b.get(path) ?? null }));
}
