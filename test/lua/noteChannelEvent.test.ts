/**
 * lua/noteChannelEvent.lua — a verified channel notification arrived: each event id counts
 * once, and the payment it names is queued for an immediate status check (it moves no money).
 * Keys: event, payment, unknown. Arguments: paymentId, rememberSeconds.
 * Outcomes: OK, REPLAYED (event seen before), NOT_FOUND (no such payment; nothing remembered).
 */
import { keys } from '../../src/redis/keys.js';
import { callScript } from '../../src/redis/run-script.js';
import { scripts } from '../../src/redis/scripts.generated.js';
import type { RedisPort } from '../../src/redis/port.js';
import { describe, expect, test } from '../fixtures.js';
import { unique } from '../support/names.js';
import {
  holdOrder,
  openSale,
  orderStatus,
  type PaymentHash,
  payOrder,
  readPayment,
  ScriptCode,
  unknownOf,
} from './kit.js';

const note = (redis: RedisPort, saleId: string, eventId: string, paymentId: string, rememberSeconds = 600) =>
  callScript(
    redis,
    scripts.noteChannelEvent,
    {
      event: keys.channelEvent(saleId, 'alipay', eventId),
      payment: keys.payment(saleId, paymentId),
      unknown: keys.unknown(saleId),
    },
    { paymentId, rememberSeconds },
  );

describe('lua noteChannelEvent', () => {
  test('an event queues its payment for a check now, and changes neither the payment nor the order', async ({
    redis,
    raw,
  }) => {
    const saleId = await openSale(redis);
    const order = await holdOrder(redis, saleId);
    const { paymentId } = await payOrder(redis, order);
    expect(await note(redis, saleId, 'evt-1', paymentId)).toEqual([ScriptCode.OK]);
    expect(await unknownOf(raw, saleId)).toEqual({ [paymentId]: 0 });
    expect((await readPayment(redis, saleId, paymentId, order.userId)).payment).toMatchObject<PaymentHash>({
      status: 'queued',
    });
    expect(await orderStatus(redis, order)).toBe('paying');
  });

  test('the same event id again is a replay and schedules nothing; it is remembered for rememberSeconds', async ({
    redis,
    raw,
  }) => {
    const saleId = await openSale(redis);
    const order = await holdOrder(redis, saleId);
    const { paymentId } = await payOrder(redis, order);
    await note(redis, saleId, 'evt-1', paymentId, 120);
    await raw.zrem(keys.unknown(saleId), paymentId); // a worker has resolved it
    expect(await note(redis, saleId, 'evt-1', paymentId, 120)).toEqual([ScriptCode.REPLAYED]);
    expect(await unknownOf(raw, saleId)).toEqual({});
    const ttl = await raw.ttl(keys.channelEvent(saleId, 'alipay', 'evt-1'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(120);
    // another event for the same payment counts
    expect(await note(redis, saleId, 'evt-2', paymentId)).toEqual([ScriptCode.OK]);
  });

  test('an event for a payment that does not exist is not found and is not remembered', async ({ redis, raw }) => {
    const saleId = await openSale(redis);
    const paymentId = unique('pay');
    expect(await note(redis, saleId, 'evt-x', paymentId)).toEqual([ScriptCode.NOT_FOUND]);
    expect(await raw.exists(keys.channelEvent(saleId, 'alipay', 'evt-x'))).toBe(0);
    expect(await unknownOf(raw, saleId)).toEqual({});
  });
});
