/**
 * The resolve-unknown step (src/worker/unknown.ts) against real Redis and a real ledger: the
 * payments due in the re-query set are asked of their channel. A success is posted (refunded at
 * once when the payment had already failed), a definite failure settles, no answer is asked again
 * after a backoff and marked for review past its deadline; a payment still being charged, or
 * settled meanwhile, is not asked.
 */
import type { ChargeResult, PaymentChannel } from '../../src/channels/channel.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { type Logger, silentLogger } from '../../src/logger.js';
import type { RedisPort } from '../../src/redis/port.js';
import type { Outcome } from '../../src/worker/charge.js';
import { postRound } from '../../src/worker/post.js';
import { recordOutcomes } from '../../src/worker/record.js';
import { LaneTaker } from '../../src/worker/take.js';
import { resolveUnknown, type ResolveUnknownDeps, type UnknownPolicy } from '../../src/worker/unknown.js';
import { unique } from '../support/names.js';
import { waitFor } from '../support/wait.js';
import { accepted, describe, expect, orderOf, paymentOf, type PaymentParts, test } from './steps.js';

/** A channel that answers each query as told (no answer until told); it is never charged here. */
class AnsweringChannel implements PaymentChannel {
  readonly name = 'alipay';
  readonly answers = new Map<string, ChargeResult>();
  queries = 0;
  charge(): Promise<ChargeResult> {
    throw new Error('the resolve step never charges');
  }
  async query(paymentId: string): Promise<ChargeResult> {
    this.queries++;
    return this.answers.get(paymentId) ?? { status: 'unknown' };
  }
  verify(): never {
    throw new Error('not used');
  }
}

const NO_REVIEW: UnknownPolicy = { baseMs: 60_000, maxMs: 60_000, reviewAfterMs: 3_600_000 };

function resolver(
  redis: RedisPort,
  ledger: Ledger,
  parts: PaymentParts,
  channel: PaymentChannel,
  { policy = NO_REVIEW, log = silentLogger }: { policy?: UnknownPolicy; log?: Logger } = {},
): ResolveUnknownDeps {
  return { redis, ledger, log, policy, ...parts, channels: new Map([[channel.name, channel]]), recheckInMs: 60_000 };
}

/**
 * Channel payments accepted, taken and charged: each charge's answer is given (`unknown` for no
 * answer), posted or recorded failed in the ledger, and written back, as a worker round would.
 */
async function charged(
  app: Parameters<typeof accepted>[0],
  sale: string,
  ledger: Ledger,
  parts: PaymentParts,
  answers: ('succeeded' | 'declined' | 'unknown')[],
) {
  const bought = [];
  for (const _ of answers) bought.push(await accepted(app, sale, { method: 'alipay' }));
  const taker = new LaneTaker(parts.lanes, parts.payments, {
    consumer: unique('w'),
    batchSize: answers.length,
    priorityWeight: 2,
    visibilityTimeoutMs: 30_000,
  });
  await taker.ensureGroups([sale]);
  const taken = await taker.take([sale]);
  const collected = [];
  const results = new Map<string, Outcome>();
  for (const [i, t] of taken.entries()) {
    if (answers[i] === 'succeeded') collected.push(t.posting);
    else
      results.set(
        t.posting.paymentId,
        answers[i] === 'declined' ? { status: 'failed', code: 'card_declined' } : { status: 'unknown' },
      );
  }
  const outcomes = await postRound(ledger, silentLogger, taken, { collected, outcomes: results });
  await recordOutcomes(parts.payments, taken, outcomes, 0);
  return bought;
}

describe('the resolve-unknown step', () => {
  test('resolve-unknown settles a late success: a failed payment its channel now says succeeded is refunded', async ({
    app,
    sale,
    ledger,
    parts,
    redis,
  }) => {
    const [late] = await charged(app, sale, ledger, parts, ['declined']);
    expect(await orderOf(app, late!)).toMatchObject({ status: 'held' });
    // the buyer completed the charge at the channel after all, and it says so
    const channel = new AnsweringChannel();
    channel.answers.set(late!.paymentId, { status: 'succeeded' });
    expect(await parts.unknown.noteChannelEvent(sale, 'alipay', unique('evt'), late!.paymentId)).toBe('noted');

    expect(await resolveUnknown(resolver(redis, ledger, parts, channel), [sale])).toBe(1);
    expect(await paymentOf(app, late!)).toMatchObject({ status: 'refunded' });
    // the order had moved on (held again): it is left as it is, and no money is kept for it
    expect(await orderOf(app, late!)).toMatchObject({ status: 'held' });
    expect(await ledger.retainedCharges(late!.orderId)).toBe(0);
    expect(await parts.unknown.due(sale, Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
  });

  test('an unknown payment answered succeeded is posted and pays its order; one answered failed settles failed', async ({
    app,
    sale,
    ledger,
    parts,
    redis,
  }) => {
    const [paid, failed] = await charged(app, sale, ledger, parts, ['unknown', 'unknown']);
    expect(await paymentOf(app, paid!)).toMatchObject({ status: 'unknown' });
    const channel = new AnsweringChannel();
    channel.answers.set(paid!.paymentId, { status: 'succeeded' });
    channel.answers.set(failed!.paymentId, { status: 'failed', code: 'abandoned' });

    expect(await resolveUnknown(resolver(redis, ledger, parts, channel), [sale])).toBe(2);
    expect(await paymentOf(app, paid!)).toMatchObject({ status: 'succeeded' });
    expect(await orderOf(app, paid!)).toMatchObject({ status: 'paid' });
    expect(await ledger.retainedCharges(paid!.orderId)).toBe(1);
    expect(await paymentOf(app, failed!)).toMatchObject({ status: 'failed', failure: { code: 'abandoned' } });
    expect(await orderOf(app, failed!)).toMatchObject({ status: 'held' });
    expect(await parts.unknown.due(sale, Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
  });

  test('no answer: asked again after the backoff, and marked for review past its deadline, logged once', async ({
    app,
    sale,
    ledger,
    parts,
    redis,
  }) => {
    const [pending] = await charged(app, sale, ledger, parts, ['unknown']);
    const channel = new AnsweringChannel();
    const reviews: object[] = [];
    const log = { ...silentLogger, error: (obj: object) => void reviews.push(obj) };
    const deps = resolver(redis, ledger, parts, channel, { policy: { baseMs: 1, maxMs: 1, reviewAfterMs: 0 }, log });

    expect(await resolveUnknown(deps, [sale])).toBe(1);
    await waitFor(async () => (await parts.unknown.due(sale, await redis.timeMs(), 10)).length === 1, {
      what: 'the next query to be due',
    });
    expect(await resolveUnknown(deps, [sale])).toBe(1);
    expect(channel.queries).toBe(2);
    expect(reviews).toEqual([{ saleId: sale, paymentId: pending!.paymentId, afterMs: 0 }]);
    // still unknown, its order still holding the stock: a late answer can settle it
    expect(await paymentOf(app, pending!)).toMatchObject({ status: 'unknown' });
    expect(await orderOf(app, pending!)).toMatchObject({ status: 'paying' });
  });

  test('a payment still being charged is not asked (looked at again later); one settled meanwhile is dropped', async ({
    app,
    sale,
    ledger,
    parts,
    redis,
  }) => {
    const charging = await accepted(app, sale, { method: 'alipay' });
    const taker = new LaneTaker(parts.lanes, parts.payments, {
      consumer: unique('w'),
      batchSize: 1,
      priorityWeight: 2,
      visibilityTimeoutMs: 30_000,
    });
    await taker.ensureGroups([sale]);
    await taker.take([sale]);
    const [settled] = await charged(app, sale, ledger, parts, ['succeeded']);
    expect(await paymentOf(app, settled!)).toMatchObject({ status: 'succeeded' });
    for (const p of [charging, settled!])
      await parts.unknown.noteChannelEvent(sale, 'alipay', unique('evt'), p.paymentId);
    const channel = new AnsweringChannel();

    const before = await redis.timeMs();
    expect(await resolveUnknown(resolver(redis, ledger, parts, channel), [sale])).toBe(2);
    expect(channel.queries).toBe(0);
    expect(await paymentOf(app, charging)).toMatchObject({ status: 'processing' });
    expect(await parts.unknown.due(sale, before + 59_000, 10)).toEqual([]);
    expect(await parts.unknown.due(sale, Number.MAX_SAFE_INTEGER, 10)).toEqual([charging.paymentId]);
  });
});
