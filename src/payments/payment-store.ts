import type { WindowArgs } from '../limits/sale-windows.js';
import { keys, type Lane } from '../redis/keys.js';
import type { RedisPort } from '../redis/port.js';
import { callScript, hashReply } from '../redis/run-script.js';
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

/** Payments in Redis: each call is one script, atomic and safe to resend. */
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
    const p = hashReply(reply[1]);
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

  /** Records a final outcome (after the ledger committed, or a definite refusal). Idempotent. */
  async settle(saleId: string, orderId: string, paymentId: string, outcome: PaymentOutcome, failureCode = '') {
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
    return { paymentStatus: String(reply[1]), orderStatus: String(reply[2]) };
  }
}
