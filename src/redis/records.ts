/**
 * The record layout: the fields of the order and payment hashes and of a lane's stream entries,
 * each with what it holds and which scripts write it. The Lua scripts name these fields as
 * literals (a lookup at run time would slow the hot path); `npm run gen:lua` checks every field a
 * script reads or writes on these records against this declaration, and each declared writer
 * against the scripts that write it (src/redis/record-fields.ts). The TS views read the hashes
 * through the types below, and the tests name fields through `orderField` / `paymentField`.
 *
 * In Lua, a script names the key of such a record `orderKey`, `paymentKey` or `laneKey` (or uses
 * `KEYS[n]` whose header line shows the record's key pattern), so the check can find its commands.
 */
import { keys, type Lane } from './keys.js';
import { hashReply } from './run-script.js';

/** What a field holds, and the scripts that write it (HSET, HSETNX, HINCRBY, HDEL, XADD). */
export interface FieldSpec {
  readonly meaning: string;
  readonly writers: readonly string[];
}

/** The order hash, `rg:{s:<saleId>}:o:<orderId>`. Times are ms of Redis time. */
export const orderFields = {
  userId: { meaning: 'the buyer', writers: ['createOrder', 'reconcileCharges'] },
  quantity: { meaning: 'units ordered', writers: ['createOrder', 'reconcileCharges'] },
  amount: { meaning: 'price × quantity, in minor units', writers: ['createOrder', 'reconcileCharges'] },
  currency: { meaning: 'ISO 4217 code', writers: ['createOrder', 'reconcileCharges'] },
  status: {
    meaning: 'held | paying | paid | expired | cancelled',
    writers: [
      'createOrder',
      'acceptPayment',
      'cancelOrder',
      'expireHolds',
      'settlePayment',
      'refundOversold',
      'reconcileCharges',
    ],
  },
  expiresAt: { meaning: 'when the hold ends', writers: ['createOrder', 'reconcileCharges'] },
  createdAt: { meaning: 'when it was created', writers: ['createOrder', 'reconcileCharges'] },
  tok: {
    meaning: "the current payment token's nonce; '' once consumed or the order ended",
    writers: ['createOrder', 'reissueToken', 'acceptPayment', 'cancelOrder', 'expireHolds', 'reconcileCharges'],
  },
  nonce0: {
    meaning: "the first token's nonce, answered again on a resend",
    writers: ['createOrder', 'reconcileCharges'],
  },
  endedAt: {
    meaning: 'when it expired or was cancelled (cleared when the ledger shows it paid)',
    writers: ['cancelOrder', 'expireHolds', 'settlePayment', 'refundOversold', 'reconcileCharges'],
  },
  ptok: { meaning: 'the nonce of the token its current payment consumed (replays)', writers: ['acceptPayment'] },
  pid: { meaning: 'the payment it waits on, or was paid by', writers: ['acceptPayment', 'reconcileCharges'] },
  pmethod: { meaning: "that payment's method", writers: ['acceptPayment', 'reconcileCharges'] },
  plane: { meaning: "that payment's lane", writers: ['acceptPayment', 'reconcileCharges'] },
  ppos: { meaning: "that payment's position when accepted (replays)", writers: ['acceptPayment', 'reconcileCharges'] },
  pstatus: {
    meaning: "that payment's status, as the order shows it",
    writers: ['acceptPayment', 'takePayments', 'markUnknown', 'settlePayment', 'refundOversold', 'reconcileCharges'],
  },
  restored: { meaning: "'1' when rewritten from the ledger by the reconciler", writers: ['reconcileCharges'] },
} as const satisfies Record<string, FieldSpec>;

/** The payment hash, `rg:{s:<saleId>}:p:<paymentId>`. Times are ms of Redis time. */
export const paymentFields = {
  orderId: { meaning: 'the order it pays', writers: ['acceptPayment', 'reconcileCharges'] },
  userId: { meaning: 'the buyer', writers: ['acceptPayment', 'reconcileCharges'] },
  method: { meaning: 'wallet or a channel name', writers: ['acceptPayment', 'reconcileCharges'] },
  amount: { meaning: "the order's amount", writers: ['acceptPayment', 'reconcileCharges'] },
  currency: { meaning: "the order's currency", writers: ['acceptPayment', 'reconcileCharges'] },
  status: {
    meaning: 'queued | processing | unknown | succeeded | failed | refunded',
    writers: ['acceptPayment', 'takePayments', 'markUnknown', 'settlePayment', 'refundOversold', 'reconcileCharges'],
  },
  lane: { meaning: 'standard | priority', writers: ['acceptPayment', 'reconcileCharges'] },
  seq: {
    meaning: "its lane's enqueued sequence number (position = seq - served)",
    writers: ['acceptPayment', 'reconcileCharges'],
  },
  createdAt: { meaning: 'when it was accepted', writers: ['acceptPayment', 'reconcileCharges'] },
  eid: { meaning: 'the id of its lane entry (found again after a loss)', writers: ['acceptPayment', 'requeueLost'] },
  failureCode: {
    meaning: "why it failed or was refunded ('' if not)",
    writers: ['settlePayment', 'refundOversold', 'reconcileCharges'],
  },
  settledAt: {
    meaning: 'when its outcome was recorded',
    writers: ['settlePayment', 'refundOversold', 'reconcileCharges'],
  },
  checks: { meaning: 'channel queries left unanswered (the re-query backoff)', writers: ['scheduleRecheck'] },
  review: { meaning: 'when it was marked for review (unanswered past its deadline)', writers: ['scheduleRecheck'] },
  restored: { meaning: "'1' when rewritten from the ledger by the reconciler", writers: ['reconcileCharges'] },
} as const satisfies Record<string, FieldSpec>;

/** An entry of a lane's stream, `rg:{s:<saleId>}:lane:<lane>`: what a worker reads. */
export const laneEntryFields = {
  paymentId: { meaning: 'the payment to charge', writers: ['acceptPayment', 'requeueLost'] },
  orderId: { meaning: 'its order', writers: ['acceptPayment', 'requeueLost'] },
  seq: { meaning: "the payment's sequence number in its lane", writers: ['acceptPayment', 'requeueLost'] },
} as const satisfies Record<string, FieldSpec>;

export type OrderField = keyof typeof orderFields;
export type PaymentField = keyof typeof paymentFields;
export type LaneEntryField = keyof typeof laneEntryFields;

/** An order hash as HGETALL returns it: every field may be absent. */
export type OrderHash = { readonly [F in OrderField]?: string };
/** A payment hash as HGETALL returns it: every field may be absent. */
export type PaymentHash = { readonly [F in PaymentField]?: string };
/** A lane entry's fields as XREADGROUP returns them. */
export type LaneEntryHash = { readonly [F in LaneEntryField]?: string };

export type OrderStatus = 'held' | 'paying' | 'paid' | 'expired' | 'cancelled';
export type PaymentStatus = 'queued' | 'processing' | 'unknown' | 'succeeded' | 'failed' | 'refunded';

const namesOf = <F extends string>(fields: Record<F, FieldSpec>) =>
  Object.freeze(Object.fromEntries(Object.keys(fields).map((f) => [f, f]))) as { readonly [K in F]: K };

/** The order hash's field names, for code that must spell one (tests, raw reads). */
export const orderField = namesOf(orderFields);
/** The payment hash's field names. */
export const paymentField = namesOf(paymentFields);
/** A lane entry's field names. */
export const laneEntryField = namesOf(laneEntryFields);

/** The records the layout declares: their key patterns (as contract headers write them) and fields. */
export const records = {
  order: { key: keys.order('<saleId>', '<orderId>'), keyName: 'orderKey', fields: orderFields },
  payment: { key: keys.payment('<saleId>', '<paymentId>'), keyName: 'paymentKey', fields: paymentFields },
  laneEntry: { key: keys.lane('<saleId>', '<lane>' as Lane), keyName: 'laneKey', fields: laneEntryFields },
} as const;

export type RecordName = keyof typeof records;

/** A flat HGETALL reply as an order hash. */
export const orderHash = (flat: unknown): OrderHash => hashReply(flat);
/** A flat HGETALL reply as a payment hash. */
export const paymentHash = (flat: unknown): PaymentHash => hashReply(flat);
