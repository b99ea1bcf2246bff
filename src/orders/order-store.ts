import type { WindowArgs } from '../limits/sale-windows.js';
import { keys } from '../redis/keys.js';
import type { RedisPort } from '../redis/port.js';
import { type OrderHash, orderHash } from '../redis/records.js';
import { callScript } from '../redis/run-script.js';
import { refusalOf } from '../redis/script-outcomes.js';
import { ScriptCode } from '../redis/script-codes.js';
import { scripts } from '../redis/scripts.generated.js';

/** Idempotency records live 25 h: API.md promises at least 24 h. */
const IDEMPOTENCY_TTL_MS = 25 * 3600 * 1000;

export interface NewOrder {
  saleId: string;
  orderId: string;
  userId: string;
  quantity: number;
  nonce: string;
  idempotencyKey?: string;
  /** The sale's admission rate (orders.perSale), when set. */
  admission?: { perSecond: number; dryRun: boolean };
  /** The buyer's and the address's windows, counted by the script unless it is a replay. */
  windows: WindowArgs;
}

/** An order as created (or as first created, when replayed). */
export interface CreatedOrder {
  replayed: boolean;
  orderId: string;
  quantity: number;
  amount: number;
  currency: string;
  expiresAtMs: number;
  nonce: string;
  /** Units left in the sale right after this order; unknown on a replay. */
  availableAfter: number | null;
}

/** An order hash as its buyer may see it (fields: src/redis/records.ts), with the Redis time it was read at. */
export interface OrderRecord {
  fields: OrderHash;
  nowMs: number;
}

/** Orders in Redis: each call is one script, atomic and safe to resend. */
export class OrderStore {
  constructor(private readonly redis: RedisPort) {}

  /** Holds stock for a new order; throws the Refusal when refused. */
  async create(order: NewOrder): Promise<CreatedOrder> {
    const { saleId, orderId, userId, quantity, nonce, idempotencyKey, admission, windows } = order;
    const reply = await callScript(
      this.redis,
      scripts.createOrder,
      {
        sale: keys.sale(saleId),
        users: keys.saleUsers(saleId),
        holds: keys.holds(saleId),
        order: keys.order(saleId, orderId),
        idempotency:
          idempotencyKey === undefined ? keys.noIdempotency(saleId) : keys.idempotency(saleId, userId, idempotencyKey),
        admission: keys.admission(saleId),
        ...windows.keys,
      },
      {
        orderId,
        userId,
        quantity,
        nonce,
        // the body's only field is quantity, so it is the whole fingerprint
        fingerprint: idempotencyKey === undefined ? undefined : `q=${quantity}`,
        idempotencyTtlMs: IDEMPOTENCY_TTL_MS,
        perSecond: admission?.perSecond,
        perSecondDryRun: admission?.dryRun ?? false,
        ...windows.args,
      },
    );
    if (reply[0] === ScriptCode.OK) {
      const [, amount, currency, expiresAtMs, availableAfter] = reply;
      return {
        replayed: false,
        orderId,
        quantity,
        amount: Number(amount),
        currency: String(currency),
        expiresAtMs: Number(expiresAtMs),
        nonce,
        availableAfter: Number(availableAfter),
      };
    }
    if (reply[0] === ScriptCode.REPLAYED) {
      const [, id, qty, amount, currency, expiresAtMs, firstNonce] = reply;
      return {
        replayed: true,
        orderId: String(id),
        quantity: Number(qty),
        amount: Number(amount),
        currency: String(currency),
        expiresAtMs: Number(expiresAtMs),
        nonce: String(firstNonce),
        availableAfter: null,
      };
    }
    throw refusalOf(reply);
  }

  /** The buyer's own order; someone else's is 404. */
  async read(saleId: string, orderId: string, userId: string): Promise<OrderRecord> {
    const reply = await callScript(this.redis, scripts.readOrder, { order: keys.order(saleId, orderId) }, { userId });
    if (reply[0] !== ScriptCode.OK) throw refusalOf(reply, 'order');
    return { fields: orderHash(reply[1]), nowMs: Number(reply[2]) };
  }

  /** Cancels a held order (idempotent); returns the order after. */
  async cancel(saleId: string, orderId: string, userId: string): Promise<OrderRecord> {
    const reply = await callScript(
      this.redis,
      scripts.cancelOrder,
      {
        order: keys.order(saleId, orderId),
        sale: keys.sale(saleId),
        users: keys.saleUsers(saleId),
        holds: keys.holds(saleId),
      },
      { orderId, userId },
    );
    if (reply[0] !== ScriptCode.OK) throw refusalOf(reply, 'order');
    return { fields: orderHash(reply[1]), nowMs: Number(reply[2]) };
  }

  /** Makes `nonce` the order's only valid token; returns the hold's end. */
  async reissueToken(saleId: string, orderId: string, userId: string, nonce: string): Promise<number> {
    const reply = await callScript(
      this.redis,
      scripts.reissueToken,
      { order: keys.order(saleId, orderId) },
      { userId, nonce },
    );
    if (reply[0] !== ScriptCode.OK) throw refusalOf(reply, 'order');
    return Number(reply[1]);
  }
}

/** The order as GET /v1/orders/{orderId} shows it. */
export function orderView(saleId: string, orderId: string, { fields: o, nowMs }: OrderRecord) {
  const expiresAtMs = Number(o.expiresAt);
  // a hold that has passed is expired even before the sweep releases it
  const status = o.status === 'held' && nowMs >= expiresAtMs ? 'expired' : o.status;
  return {
    orderId,
    saleId,
    quantity: Number(o.quantity),
    amount: Number(o.amount),
    currency: o.currency,
    status,
    expiresAt: new Date(expiresAtMs).toISOString(),
    payment: o.pid ? { paymentId: o.pid, status: o.pstatus } : null,
  };
}
