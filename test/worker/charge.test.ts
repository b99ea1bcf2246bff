/**
 * The charge step (src/worker/charge.ts): a round's channel payments charged at their channels
 * at once. Only what a channel says it collected goes on to the ledger; a refusal is a failure,
 * and no answer (a timeout, an error) is `unknown`, never failed: the charge may have gone through.
 */
import { describe, expect, test } from 'vitest';
import type { PaymentChannel } from '../../src/channels/channel.js';
import { DEFAULT_SIMULATOR, SimulatedChannel } from '../../src/channels/simulated-channel.js';
import { silentLogger } from '../../src/logger.js';
import { nodeHmacSha256 } from '../../src/runtime/node/adapters/crypto.js';
import { chargeChannels } from '../../src/worker/charge.js';
import type { Taken } from '../../src/worker/take.js';
import { unique } from '../support/names.js';
import { CHANNEL_SECRET } from '../support/secrets.js';

const taken = (method: string): Taken => ({
  saleId: 'sale-1',
  lane: 'standard',
  entryId: '1-0',
  status: 'processing',
  createdAtMs: 0,
  posting: {
    paymentId: unique('pay'),
    orderId: unique('ord'),
    saleId: 'sale-1',
    userId: unique('u'),
    method,
    amount: 100,
    currency: 'CNY',
  },
});

const simulator = () =>
  new SimulatedChannel('alipay', nodeHmacSha256(CHANNEL_SECRET), async () => {}, {
    ...DEFAULT_SIMULATOR,
    latencyMs: 0,
    timeoutMs: 10,
  });

/** A channel whose charge call fails outright (a connection reset): it gave no answer. */
const broken: PaymentChannel = {
  name: 'wechat',
  charge: () => Promise.reject(new Error('socket hang up')),
  query: () => Promise.reject(new Error('socket hang up')),
  verify: () => Promise.reject(new Error('not used')),
};

describe('the charge step', () => {
  test('a success is collected for the ledger; a decline fails; a hang is unknown', async () => {
    const alipay = simulator();
    const [ok, declined, hung] = [taken('alipay'), taken('alipay'), taken('alipay')];
    alipay.script('succeed', 'decline', 'hang');
    const channels = new Map([['alipay', alipay]]);
    // one at a time, so the script's outcomes meet the payments in order
    const results = [];
    for (const t of [ok, declined, hung]) results.push(await chargeChannels([t], channels, silentLogger));
    expect(results.map((r) => r.collected)).toEqual([[ok.posting], [], []]);
    expect(results[1]!.outcomes.get(declined.posting.paymentId)).toEqual({ status: 'failed', code: 'card_declined' });
    expect(results[2]!.outcomes.get(hung.posting.paymentId)).toEqual({ status: 'unknown' });
  });

  test('a channel that throws gave no answer (unknown); a method with no channel fails channel_unavailable', async () => {
    const [thrown, nowhere] = [taken('wechat'), taken('paypal')];
    const { collected, outcomes } = await chargeChannels(
      [thrown, nowhere],
      new Map([['wechat', broken]]),
      silentLogger,
    );
    expect(collected).toEqual([]);
    expect(outcomes.get(thrown.posting.paymentId)).toEqual({ status: 'unknown' });
    expect(outcomes.get(nowhere.posting.paymentId)).toEqual({ status: 'failed', code: 'channel_unavailable' });
  });

  test('wallet payments are not sent to any channel: the ledger charges them', async () => {
    const wallet = taken('wallet');
    expect(await chargeChannels([wallet], new Map([['wallet', broken]]), silentLogger)).toEqual({
      collected: [],
      outcomes: new Map(),
    });
  });
});
