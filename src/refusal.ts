/**
 * What the domain refuses, as typed results: each carries the API's stable `code` and the facts
 * behind it. Stores and rules throw a Refusal; `http/` renders it (status, wording, headers) in
 * one place, so nothing below the routes knows about HTTP.
 */
export type RateLimitScope = 'perUser' | 'perAddress' | 'perSale' | 'others';

export type Refused =
  | { code: 'sale_not_found' }
  | { code: 'sale_not_open'; opensAtMs: number; nowMs: number }
  | { code: 'sale_closed' }
  | { code: 'sold_out'; available: number }
  | { code: 'limit_exceeded'; units: number; perUserLimit: number }
  | { code: 'idempotency_key_reused' }
  | { code: 'stock_conflict'; committed: number }
  | { code: 'sale_locked' }
  | { code: 'invalid_sale_window' }
  | { code: 'missing_sale_fields' }
  | { code: 'not_found'; subject: string }
  | { code: 'token_invalid' }
  | { code: 'payment_pending'; paymentId: string }
  | { code: 'order_paid' }
  | { code: 'order_closed' }
  | { code: 'version_conflict' }
  | { code: 'request_in_progress' }
  | { code: 'blocked'; untilMs: number }
  | {
      code: 'rate_limited';
      scope: RateLimitScope;
      resetMs: number;
      /** The policy that refused, once known (a script reports only its scope). */
      policy?: RateLimitPolicy;
    };

/** A named window (`orders.perUser`, …) and when a refused caller should come back. */
export interface RateLimitPolicy {
  name: string;
  limit: number;
  windowSeconds: number;
  /** Seconds until the caller should retry: the window's reset plus a spread. */
  retryAfterSeconds: number;
}

export type RefusalCode = Refused['code'];

/** A refusal thrown by the domain; `refused` says which, with its facts. */
export class Refusal extends Error {
  constructor(readonly refused: Refused) {
    // a refusal is an answer, not a fault: its stack would be most of its cost in a refusal storm
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(refused.code);
    Error.stackTraceLimit = limit;
    this.name = 'Refusal';
  }

  get code(): RefusalCode {
    return this.refused.code;
  }
}

/** Shorthand: `throw refuse({ code: 'sold_out', available: 0 })`. */
export const refuse = (refused: Refused): Refusal => new Refusal(refused);
