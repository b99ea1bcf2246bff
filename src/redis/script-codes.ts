/**
 * The integer codes every script in lua/ returns as the first element of its reply. One table,
 * so a code means the same thing in every script.
 */
export const ScriptCode = {
  OK: 0,
  REPLAYED: 1,
  SALE_NOT_FOUND: 10,
  SALE_NOT_OPEN: 11,
  SALE_CLOSED: 12,
  SOLD_OUT: 13,
  LIMIT_EXCEEDED: 14,
  IDEMPOTENCY_KEY_REUSED: 15,
  STOCK_CONFLICT: 16,
  SALE_LOCKED: 17,
  INVALID_WINDOW: 18,
  MISSING_FIELDS: 19,
  NOT_FOUND: 20,
  TOKEN_INVALID: 21,
  PAYMENT_PENDING: 22,
  ORDER_PAID: 23,
  ORDER_CLOSED: 24,
  VERSION_CONFLICT: 25,
  RATE_LIMITED: 26,
} as const;
export type ScriptCode = (typeof ScriptCode)[keyof typeof ScriptCode];
