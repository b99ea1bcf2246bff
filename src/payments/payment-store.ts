import type { WindowArgs } from '../limits/sale-windows.js';
import { keys, type Lane } from '../redis/keys.js';
import type { RedisPort } from '../redis/port.js';
import { type PaymentHash, type PaymentStatus, paymentHash } from '../redis/records.js';
import { callScript, runScript } from '../redis/run-script.js';
import { refusalOf } from '../redis/script-outcomes.js';
import { ScriptCode } from '../redis/script-codes.js';
import { scripts } from '../redis/scripts.generated.js';

export interface NewPayment {
  saleId: string;
  orderId: string;
  userId: string;
  nonce: string;
  method: string;
  lane: Lane;
  paymentId: string;
  /** The buyer's and the address's windows, counted by the script unless it is a replay. */
  windows: WindowArgs;
}

/** A payment as accepted into its lane (or as first accepted, when replayed). */
export interface AcceptedPayment {
  replayed: boolean;
  paymentId: string;
  position: number;
  amount: number;
  currency: string;
  lane: Lane;
}

export type PaymentOutcome = 'succeeded' | 'refunded' | 'failed';

/** A payment a worker read from its lane: which one, and its order. */
export interface LaneItem {
  paymentId: string;
  orderId: string;
}

/** A payment as a worker took it: its status after the take (null when it does not exist). */
export interface TakenPayment {
  paymentId: string;
  orderId: string;
  status: PaymentStatus | null;
  userId: string;
  method: string;
  amount: number;
  currency: string;
  /** When it was accepted (ms, Redis time). */
  createdAtMs: number;
}

/** A payment as stored, for the worker that resolves it (no owner check). */
export interface PaymentRecord {
  paymentId: string;
  orderId: string;
  userId: string;
  method: string;
  amount: number;
  currency: string;
  status: PaymentStatus;
}

/**
 * Payments in Redis, the one owner of the payment scripts and of the payment hash (its fields
 * are declared in src/redis/records.ts): each change is one script, atomic and safe to resend.
 * The lanes' streams are src/payments/payment-lanes.ts's, the re-query and review sets
 * src/payments/unknown-payments.ts's.
 */
export class PaymentStore {
  constructor(private readonly redis: RedisPort) {}

  /** Consumes the token and queues the payment; throws the Refusal when refused. */
  async accept(p: NewPayment): Promise<AcceptedPayment> {
    const reply = await callScript(
      this.redis,
      scripts.acceptPayment,
      {
        order: keys.order(p.saleId, p.orderId),
        holds: keys.holds(p.saleId),
        payment: keys.payment(p.saleId, p.paymentId),
        lanes: keys.lanes(p.saleId),
        lane: keys.lane(p.saleId, p.lane),
        admission: keys.admission(p.saleId),
        ...p.windows.keys,
      },
      {
        orderId: p.orderId,
        userId: p.userId,
        nonce: p.nonce,
        method: p.method,
        lane: p.lane,
        paymentId: p.paymentId,
        ...p.windows.args,
      },
    );
    if (reply[0] !== ScriptCode.OK && reply[0] !== ScriptCode.REPLAYED) throw refusalOf(reply);
    const [code, paymentId, position, amount, currency, lane] = reply;
    return {
      replayed: code === ScriptCode.REPLAYED,
      paymentId: String(paymentId),
      position: Number(position),
      amount: Number(amount),
      currency: String(currency),
      lane: lane as Lane,
    };
  }

  /** The buyer's own payment with its current place in its lane; someone else's is 404. */
  async read(saleId: string, paymentId: string, userId: string) {
    const reply = await callScript(
      this.redis,
      scripts.readPayment,
      { payment: keys.payment(saleId, paymentId), lanes: keys.lanes(saleId) },
      { userId },
    );
    if (reply[0] !== ScriptCode.OK) throw refusalOf(reply, 'payment');
    const p = paymentHash(reply[1]);
    const served = Number(reply[2]);
    return {
      paymentId,
      orderId: p.orderId,
      method: p.method,
      amount: Number(p.amount),
      currency: p.currency,
      status: p.status,
      position: p.status === 'queued' ? Math.max(1, Number(p.seq) - served) : null,
      failure: p.failureCode ? { code: p.failureCode } : null,
    };
  }

  /**
   * Marks payments a worker read from one lane `processing` (their orders show it) and moves the
   * lane's served counter once per payment still queued; a redelivered one counts nothing twice.
   * Answers each payment as taken, in order.
   */
  async take(saleId: string, lane: Lane, items: readonly LaneItem[]): Promise<TakenPayment[]> {
    if (items.length === 0) return [];
    const reply = await runScript(
      this.redis,
      scripts.takePayments,
      [keys.lanes(saleId), ...items.flatMap((i) => [keys.payment(saleId, i.paymentId), keys.order(saleId, i.orderId)])],
      [lane, ...items.map((i) => i.paymentId)],
    );
    const rows = reply[1] as (string | null)[][];
    return items.map((item, i) => {
      const [status, method, amount, currency, userId, orderId, createdAt] = rows[i]!;
      return {
        paymentId: item.paymentId,
        orderId: orderId ?? item.orderId,
        status: (status as PaymentStatus | null) ?? null,
        userId: userId ?? '',
        method: method ?? '',
        amount: Number(amount),
        currency: currency ?? '',
        createdAtMs: Number(createdAt),
      };
    });
  }

  /** The payment as stored, or null when there is none (expired, or never accepted). */
  async find(saleId: string, paymentId: string): Promise<PaymentRecord | null> {
    const p: PaymentHash = await this.redis.hgetall(keys.payment(saleId, paymentId));
    if (p.status === undefined) return null;
    return {
      paymentId,
      orderId: p.orderId ?? '',
      userId: p.userId ?? '',
      method: p.method ?? '',
      amount: Number(p.amount),
      currency: p.currency ?? '',
      status: p.status as PaymentStatus,
    };
  }

  /**
   * A channel gave no answer for a payment being charged: it is `unknown` (never assumed failed)
   * and queried again `recheckInMs` from now; its order keeps waiting on it. Answers the
   * payment's status after (a payment no longer processing is left as it is).
   */
  async markUnknown(
    saleId: string,
    orderId: string,
    paymentId: string,
    recheckInMs: number,
  ): Promise<PaymentStatus | null> {
    const nowMs = await this.redis.timeMs();
    const reply = await callScript(
      this.redis,
      scripts.markUnknown,
      { payment: keys.payment(saleId, paymentId), order: keys.order(saleId, orderId), unknown: keys.unknown(saleId) },
      { paymentId, nextCheckMs: nowMs + recheckInMs },
    );
    return (reply[1] as PaymentStatus | null) ?? null;
  }

  /** Records a final outcome (after the ledger committed, or a definite refusal). Idempotent. */
  async settle(
    saleId: string,
    orderId: string,
    paymentId: string,
    outcome: PaymentOutcome,
    failureCode = '',
  ): Promise<{ paymentStatus: PaymentStatus; orderStatus: string }> {
    const reply = await callScript(
      this.redis,
      scripts.settlePayment,
      {
        payment: keys.payment(saleId, paymentId),
        order: keys.order(saleId, orderId),
        sale: keys.sale(saleId),
        users: keys.saleUsers(saleId),
        holds: keys.holds(saleId),
      },
      { paymentId, outcome, failureCode },
    );
    if (reply[0] !== ScriptCode.OK) throw refusalOf(reply, 'payment');
    return { paymentStatus: reply[1] as PaymentStatus, orderStatus: String(reply[2]) };
  }
}
