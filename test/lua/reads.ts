/**
 * What the Lua tests observe after a script has run: the read scripts' answers (readSale,
 * readOrder, readPayment) and the few structures the gateway itself reads (a buyer's units, the
 * holds, a lane, the unknown set), with keys from src/redis/keys.ts and the order and payment
 * hashes typed by their declared fields (src/redis/records.ts). Re-exported by kit.ts.
 */
import type { Redis } from 'ioredis';
import { keys, type Lane } from '../../src/redis/keys.js';
import type { RedisPort } from '../../src/redis/port.js';
import { laneEntryField, orderHash, paymentHash } from '../../src/redis/records.js';
import { callScript, hashReply } from '../../src/redis/run-script.js';
import { scripts } from '../../src/redis/scripts.generated.js';
import { saleKeyPattern } from '../support/keys.js';
import { waitFor } from '../support/wait.js';
import type { Held } from './kit.js';

export interface SaleView {
  sale: Record<string, string>;
  nowMs: number;
  lanes: Record<string, string>;
  dryRunRefusals: number;
  /** stock - held - sold, as the gateway computes it */
  available: number;
  held: number;
  sold: number;
  orders: number;
}

export async function readSale(redis: RedisPort, saleId: string): Promise<SaleView | { code: number }> {
  const reply = await callScript(
    redis,
    scripts.readSale,
    { sale: keys.sale(saleId), lanes: keys.lanes(saleId), admission: keys.admission(saleId) },
    {},
  );
  if (reply[0] !== 0) return { code: reply[0] };
  const sale = hashReply(reply[1]);
  const held = Number(sale.held);
  const sold = Number(sale.sold);
  return {
    sale,
    nowMs: Number(reply[2]),
    lanes: hashReply(reply[3]),
    dryRunRefusals: Number(reply[4]),
    held,
    sold,
    available: Number(sale.stock) - held - sold,
    orders: Number(sale.orders),
  };
}

/** readSale of a sale that exists. */
export async function saleOf(redis: RedisPort, saleId: string): Promise<SaleView> {
  const view = await readSale(redis, saleId);
  if ('code' in view) throw new Error(`readSale answered ${view.code}`);
  return view;
}

/** readOrder as `userId` (the order's buyer unless given): the order's fields, or the code. */
export async function readOrder(redis: RedisPort, order: Held, userId = order.userId) {
  const reply = await callScript(
    redis,
    scripts.readOrder,
    { order: keys.order(order.saleId, order.orderId) },
    { userId },
  );
  return reply[0] === 0 ? { code: 0, order: orderHash(reply[1]), nowMs: Number(reply[2]) } : { code: reply[0] };
}

/** An order's status as its buyer reads it. */
export async function orderStatus(redis: RedisPort, order: Held): Promise<string | undefined> {
  const read = await readOrder(redis, order);
  return read.order?.status;
}

/** The payment status the order shows its buyer (the status of the payment it waits on). */
export async function paymentStatusOnOrder(redis: RedisPort, order: Held): Promise<string | undefined> {
  const read = await readOrder(redis, order);
  return read.order?.pstatus;
}

/** readPayment as `userId`: the payment's fields and its current place in its lane, or the code. */
export async function readPayment(redis: RedisPort, saleId: string, paymentId: string, userId: string) {
  const reply = await callScript(
    redis,
    scripts.readPayment,
    { payment: keys.payment(saleId, paymentId), lanes: keys.lanes(saleId) },
    { userId },
  );
  if (reply[0] !== 0) return { code: reply[0] };
  const payment = paymentHash(reply[1]);
  return { code: 0, payment, served: Number(reply[2]), position: Number(payment.seq) - Number(reply[2]) };
}

/** Units the buyer holds, pays for or has bought in the sale (the per-buyer limit's count). */
export const unitsOf = async (raw: Redis, saleId: string, userId: string) =>
  Number((await raw.hget(keys.saleUsers(saleId), userId)) ?? 0);

/** Order ids in the sale's hold deadlines, the set the sweep walks. */
export const holdsOf = (raw: Redis, saleId: string) => raw.zrange(keys.holds(saleId), 0, -1);

/** Payment ids in a lane, in the order a worker reads them. */
export async function laneOf(raw: Redis, saleId: string, lane: Lane): Promise<string[]> {
  const entries = await raw.xrange(keys.lane(saleId, lane), '-', '+');
  return entries.map(([, fields]) => fields[fields.indexOf(laneEntryField.paymentId) + 1]!);
}

/** Payments waiting for a status check, with when (ms). */
export async function unknownOf(raw: Redis, saleId: string): Promise<Record<string, number>> {
  const flat = await raw.zrange(keys.unknown(saleId), 0, -1, 'WITHSCORES');
  const out: Record<string, number> = {};
  for (let i = 0; i < flat.length; i += 2) out[flat[i]!] = Number(flat[i + 1]);
  return out;
}

/** Redis server time in ms. */
export async function redisNow(raw: Redis): Promise<number> {
  const [seconds, micros] = await raw.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

/** Waits until Redis time has passed the order's hold deadline (the scripts judge by it). */
export async function untilHoldPassed(redis: RedisPort, raw: Redis, order: Held): Promise<void> {
  const read = await readOrder(redis, order);
  const deadline = Number(read.order?.expiresAt);
  await waitFor(async () => (await redisNow(raw)) >= deadline, { what: 'the hold to pass', everyMs: 50 });
}

/** Every key of one sale, to prove a refusal wrote nothing. */
export const saleKeys = (raw: Redis, saleId: string) => raw.keys(saleKeyPattern(saleId));
