/**
 * The Lua scripts called straight against the test redis-server, one function per script, with
 * keys from src/redis/keys.ts and arguments by the names the contract headers give them. A
 * test states a script's contract through these calls and checks what it wrote through the
 * read scripts (readSale, readOrder, readPayment), not through the hash fields behind them.
 * When a contract header changes, this file is the one place the tests change with it.
 */
import { keys, type Lane } from '../../src/redis/keys.js';
import type { RedisPort } from '../../src/redis/port.js';
import { callScript, hashReply, runScript, type ScriptReply } from '../../src/redis/run-script.js';
import { scripts } from '../../src/redis/scripts.generated.js';
import { unique } from '../support/names.js';

export { ScriptCode } from '../../src/redis/script-codes.js';
export {
  type OrderHash,
  orderField,
  orderHash,
  type PaymentHash,
  paymentField,
  paymentHash,
} from '../../src/redis/records.js';
export * from './reads.js';

export interface SaleFields {
  stock?: number;
  price?: number;
  currency?: string;
  perUserLimit?: number;
  holdSeconds?: number;
  opensAt?: number;
  closesAt?: number | null;
  name?: string;
}

/** Defaults a new sale takes for the fields not given (what the gateway passes). */
export const SALE_DEFAULTS = { name: 'a sale', perUserLimit: 5, holdSeconds: 300 };

export const putSale = (redis: RedisPort, saleId: string, given: SaleFields) =>
  callScript(
    redis,
    scripts.putSale,
    { sale: keys.sale(saleId), lanes: keys.lanes(saleId) },
    { defaults: JSON.stringify(SALE_DEFAULTS), given: JSON.stringify(given) },
  );

/** checkSale: what putSale would answer for `given`, without writing. */
export const checkSale = (redis: RedisPort, saleId: string, given: SaleFields) =>
  callScript(
    redis,
    scripts.checkSale,
    { sale: keys.sale(saleId) },
    { defaults: JSON.stringify(SALE_DEFAULTS), given: JSON.stringify(given) },
  );

export const listSale = (redis: RedisPort, saleId: string) =>
  callScript(redis, scripts.listSale, { sales: keys.sales }, { saleId });

/** The active sales index's scripts (src/sales/active-sales.ts). */
export const joinActiveSales = (redis: RedisPort, saleId: string) =>
  callScript(redis, scripts.joinActiveSales, { active: keys.activeSales }, { saleId });

export const adoptListedSales = (redis: RedisPort, saleIds: string[]) =>
  runScript(redis, scripts.adoptListedSales, [keys.activeSales], saleIds);

export const leaveActiveSales = (redis: RedisPort, saleId: string, generation: number) =>
  callScript(redis, scripts.leaveActiveSales, { active: keys.activeSales }, { saleId, generation: String(generation) });

/** An open sale (stock 10 at 100 CNY unless `fields` say otherwise); returns its id. */
export async function openSale(redis: RedisPort, fields: SaleFields = {}): Promise<string> {
  const saleId = unique('sale');
  const reply = await putSale(redis, saleId, { stock: 10, price: 100, currency: 'CNY', ...fields });
  if (reply[0] !== 0) throw new Error(`putSale answered ${JSON.stringify(reply)}`);
  return saleId;
}

export interface OrderCall {
  orderId?: string;
  quantity?: number;
  nonce?: string;
  /** with an Idempotency-Key: the key and the request's fingerprint */
  idempotency?: { key: string; fingerprint: string };
  perSecond?: number;
  perSecondDryRun?: boolean;
}

/** createOrder for `userId`, no rate-limit windows in use; returns the order id and the reply. */
export async function createOrder(redis: RedisPort, saleId: string, userId: string, call: OrderCall = {}) {
  const orderId = call.orderId ?? unique('ord');
  const reply = await callScript(
    redis,
    scripts.createOrder,
    {
      sale: keys.sale(saleId),
      users: keys.saleUsers(saleId),
      holds: keys.holds(saleId),
      order: keys.order(saleId, orderId),
      idempotency: call.idempotency
        ? keys.idempotency(saleId, userId, call.idempotency.key)
        : keys.noIdempotency(saleId),
      admission: keys.admission(saleId),
      userWindow: keys.window(saleId, 'orders.perUser', 0, userId),
      addressWindow: keys.window(saleId, 'orders.perAddress', 0, '-'),
    },
    {
      orderId,
      userId,
      quantity: call.quantity ?? 1,
      nonce: call.nonce ?? unique('nonce'),
      fingerprint: call.idempotency?.fingerprint,
      idempotencyTtlMs: 60_000,
      perSecond: call.perSecond,
      perSecondDryRun: call.perSecondDryRun ?? false,
      dryRunPrefix: 'dry:v1:orders',
      userLimit: undefined,
      userWindowMs: 0,
      userDryRun: false,
      addressLimit: undefined,
      addressWindowMs: 0,
      addressDryRun: false,
    },
  );
  return { orderId, reply };
}

/** A held order: its id, its buyer and the nonce of its payment token. */
export interface Held {
  saleId: string;
  orderId: string;
  userId: string;
  nonce: string;
  quantity: number;
}

/** Holds `quantity` units for a new buyer (or `userId`); fails the test unless it is OK. */
export async function holdOrder(
  redis: RedisPort,
  saleId: string,
  call: OrderCall & { userId?: string } = {},
): Promise<Held> {
  const userId = call.userId ?? unique('u');
  const nonce = call.nonce ?? unique('nonce');
  const { orderId, reply } = await createOrder(redis, saleId, userId, { ...call, nonce });
  if (reply[0] !== 0) throw new Error(`createOrder answered ${JSON.stringify(reply)}`);
  return { saleId, orderId, userId, nonce, quantity: call.quantity ?? 1 };
}

export interface PaymentCall {
  userId?: string;
  nonce?: string;
  method?: string;
  lane?: Lane;
  paymentId?: string;
}

/** acceptPayment of a held order, as its buyer with its token unless `call` says otherwise. */
export async function acceptPayment(redis: RedisPort, order: Held, call: PaymentCall = {}) {
  const paymentId = call.paymentId ?? unique('pay');
  const lane = call.lane ?? 'standard';
  const userId = call.userId ?? order.userId;
  const { saleId } = order;
  const reply = await callScript(
    redis,
    scripts.acceptPayment,
    {
      order: keys.order(saleId, order.orderId),
      holds: keys.holds(saleId),
      payment: keys.payment(saleId, paymentId),
      lanes: keys.lanes(saleId),
      lane: keys.lane(saleId, lane),
      admission: keys.admission(saleId),
      userWindow: keys.window(saleId, 'payments.perUser', 0, userId),
      addressWindow: keys.window(saleId, 'payments.perAddress', 0, '-'),
    },
    {
      orderId: order.orderId,
      userId,
      nonce: call.nonce ?? order.nonce,
      method: call.method ?? 'wallet',
      lane,
      paymentId,
      dryRunPrefix: 'dry:v1:payments',
      userLimit: undefined,
      userWindowMs: 0,
      userDryRun: false,
      addressLimit: undefined,
      addressWindowMs: 0,
      addressDryRun: false,
    },
  );
  return { paymentId, reply };
}

/** A payment the order's buyer has made; fails the test unless acceptPayment is OK. */
export async function payOrder(redis: RedisPort, order: Held, call: PaymentCall = {}) {
  const { paymentId, reply } = await acceptPayment(redis, order, call);
  if (reply[0] !== 0) throw new Error(`acceptPayment answered ${JSON.stringify(reply)}`);
  return { paymentId, position: Number(reply[2]), lane: call.lane ?? ('standard' as Lane) };
}

/** takePayments of `taken` (payment and its order) read from one lane of one sale. */
export const takePayments = (
  redis: RedisPort,
  saleId: string,
  lane: Lane,
  taken: { paymentId: string; orderId: string }[],
) =>
  runScript(
    redis,
    scripts.takePayments,
    [keys.lanes(saleId), ...taken.flatMap((t) => [keys.payment(saleId, t.paymentId), keys.order(saleId, t.orderId)])],
    [lane, ...taken.map((t) => t.paymentId)],
  );

export const settlePayment = (
  redis: RedisPort,
  order: Held,
  paymentId: string,
  outcome: 'succeeded' | 'refunded' | 'failed' | string,
  failureCode?: string,
) =>
  callScript(
    redis,
    scripts.settlePayment,
    {
      payment: keys.payment(order.saleId, paymentId),
      order: keys.order(order.saleId, order.orderId),
      sale: keys.sale(order.saleId),
      users: keys.saleUsers(order.saleId),
      holds: keys.holds(order.saleId),
    },
    { paymentId, outcome, failureCode },
  );

export const markUnknown = (redis: RedisPort, order: Held, paymentId: string, nextCheckMs: number) =>
  callScript(
    redis,
    scripts.markUnknown,
    {
      payment: keys.payment(order.saleId, paymentId),
      order: keys.order(order.saleId, order.orderId),
      unknown: keys.unknown(order.saleId),
    },
    { paymentId, nextCheckMs },
  );

export const cancelOrder = (redis: RedisPort, order: Held, userId = order.userId) =>
  callScript(
    redis,
    scripts.cancelOrder,
    {
      order: keys.order(order.saleId, order.orderId),
      sale: keys.sale(order.saleId),
      users: keys.saleUsers(order.saleId),
      holds: keys.holds(order.saleId),
    },
    { orderId: order.orderId, userId },
  );

export const reissueToken = (redis: RedisPort, order: Held, nonce: string, userId = order.userId) =>
  callScript(redis, scripts.reissueToken, { order: keys.order(order.saleId, order.orderId) }, { userId, nonce });

/** expireHolds over the given orders of one sale. */
export const expireHolds = (redis: RedisPort, saleId: string, orderIds: string[]) =>
  runScript(
    redis,
    scripts.expireHolds,
    [keys.sale(saleId), keys.saleUsers(saleId), keys.holds(saleId), ...orderIds.map((id) => keys.order(saleId, id))],
    orderIds,
  );

/** addTally of one gateway's counts (field -> count) to a sale's tally and history. */
export const addTally = (redis: RedisPort, saleId: string, counts: Record<string, number>) =>
  runScript(
    redis,
    scripts.addTally,
    [keys.sale(saleId), keys.tally(saleId), keys.history(saleId)],
    Object.entries(counts).flat(),
  );

/** What readOpsView answers, parsed: history by second, each second's counts. */
export interface OpsView {
  code: number;
  tally: Record<string, string>;
  history: Record<string, Record<string, number>>;
  unknown: number;
  unknownOverdue: number;
  review: number;
  oversell: Record<string, string>;
  nowMs: number;
}

/** readOpsView of one sale: history from `fromSecond` (every second kept when undefined). */
export async function readOpsView(
  redis: RedisPort,
  saleId: string,
  { fromSecond, overdueMs = 60_000 }: { fromSecond?: number; overdueMs?: number } = {},
): Promise<OpsView> {
  const reply = await callScript(
    redis,
    scripts.readOpsView,
    {
      tally: keys.tally(saleId),
      history: keys.history(saleId),
      unknown: keys.unknown(saleId),
      review: keys.review(saleId),
      oversell: keys.oversell(saleId),
    },
    { fromSecond, overdueMs },
  );
  const [code, tally, history, unknown, unknownOverdue, review, oversell, nowMs] = reply;
  const seconds = hashReply(history);
  return {
    code,
    tally: hashReply(tally),
    history: Object.fromEntries(Object.entries(seconds).map(([s, json]) => [s, JSON.parse(json)])),
    unknown: Number(unknown),
    unknownOverdue: Number(unknownOverdue),
    review: Number(review),
    oversell: hashReply(oversell),
    nowMs: Number(nowMs),
  };
}

/** A charge the ledger keeps (retained, not refunded), as the reconciler passes it. */
export interface KeptCharge {
  orderId: string;
  paymentId: string;
  userId: string;
  method: string;
  amount: number;
  currency: string;
  createdAtMs: number;
}

/** reconcileCharges of one sale's kept charges. */
export const reconcileCharges = (redis: RedisPort, saleId: string, charges: KeptCharge[]) =>
  runScript(
    redis,
    scripts.reconcileCharges,
    [
      keys.sale(saleId),
      keys.saleUsers(saleId),
      keys.holds(saleId),
      keys.lanes(saleId),
      ...charges.flatMap((c) => [keys.order(saleId, c.orderId), keys.payment(saleId, c.paymentId)]),
    ],
    charges.flatMap((c) => [c.orderId, c.paymentId, c.userId, c.method, c.amount, c.currency, c.createdAtMs]),
  );

/** refundOversold: the ledger refunded `paymentId` (a charge of `order`) of an oversold sale. */
export const refundOversold = (redis: RedisPort, order: Held, paymentId: string, charges: number, seats: number) =>
  callScript(
    redis,
    scripts.refundOversold,
    {
      sale: keys.sale(order.saleId),
      users: keys.saleUsers(order.saleId),
      order: keys.order(order.saleId, order.orderId),
      payment: keys.payment(order.saleId, paymentId),
      oversell: keys.oversell(order.saleId),
    },
    { paymentId, charges, seats },
  );

/** One requeueLost call (one SCAN page) over a sale's payments. */
export const requeueLost = (redis: RedisPort, saleId: string, cursor: string, minAgeMs: number, count = 1000) =>
  callScript(
    redis,
    scripts.requeueLost,
    { lanes: keys.lanes(saleId), standard: keys.lane(saleId, 'standard'), priority: keys.lane(saleId, 'priority') },
    { cursor, pattern: keys.payment(saleId, '*'), minAgeMs, count },
  );

/** requeueLost page after page until the scan is done, as the reconciler runs it: the ids put back. */
export async function requeueAllLost(redis: RedisPort, saleId: string, minAgeMs: number): Promise<string[]> {
  const requeued: string[] = [];
  let cursor = '0';
  do {
    const reply = await requeueLost(redis, saleId, cursor, minAgeMs);
    if (reply[0] !== 0) throw new Error(`requeueLost answered ${JSON.stringify(reply)}`);
    cursor = String(reply[1]);
    requeued.push(...(reply[2] as string[]));
  } while (cursor !== '0');
  return requeued;
}

/** How an unanswered payment is queried again (UnknownPolicy, src/payments/unknown-payments.ts). */
export interface RecheckPolicy {
  baseMs: number;
  maxMs: number;
  reviewAfterMs: number;
}

export const scheduleRecheck = (redis: RedisPort, saleId: string, paymentId: string, policy: RecheckPolicy) =>
  callScript(
    redis,
    scripts.scheduleRecheck,
    { payment: keys.payment(saleId, paymentId), unknown: keys.unknown(saleId), review: keys.review(saleId) },
    { paymentId, ...policy },
  );

/** A blocklist and the reasons beside it (buyers or addresses), as the block scripts take them. */
export type BlockKind = 'user' | 'address';
export const blockKeys = (kind: BlockKind) =>
  kind === 'user'
    ? { blocked: keys.blocklist, reasons: keys.blockReasons }
    : { blocked: keys.blockedAddresses, reasons: keys.blockedAddressReasons };

export const putBlock = (redis: RedisPort, kind: BlockKind, id: string, blockMs: number, reason = '') =>
  callScript(redis, scripts.putBlock, blockKeys(kind), { id, blockMs, reason });

export const liftBlock = (redis: RedisPort, kind: BlockKind, id: string) =>
  callScript(redis, scripts.liftBlock, blockKeys(kind), { id });

export const pruneBlocks = (redis: RedisPort, kind: BlockKind, limit: number) =>
  callScript(redis, scripts.pruneBlocks, blockKeys(kind), { limit });

/** forgetUnknown: the payment leaves the unknown and review sets unless still processing. */
export const forgetUnknown = (redis: RedisPort, saleId: string, paymentId: string, recheckInMs: number) =>
  callScript(
    redis,
    scripts.forgetUnknown,
    { payment: keys.payment(saleId, paymentId), unknown: keys.unknown(saleId), review: keys.review(saleId) },
    { paymentId, recheckInMs },
  );

export type { ScriptReply };
