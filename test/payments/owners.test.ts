/**
 * One owner for the payments' Redis state: the payment scripts, the payment hashes, the lane
 * streams and the re-query / review sets are reached only through src/payments/ (PaymentStore,
 * PaymentLanes, UnknownPayments, the reconciler). Everything else asks those modules, so the
 * state has one place to read when it changes. Two read-only views are known and listed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, test } from 'vitest';

const root = join(import.meta.dirname, '../..');
const PAYMENT_SCRIPTS =
  /\bscripts\.(acceptPayment|takePayments|settlePayment|markUnknown|scheduleRecheck|forgetUnknown|noteChannelEvent|readPayment|requeueLost|refundOversold|reconcileCharges)\b/;
const PAYMENT_KEYS = /\bkeys\.(payment|lane|unknown|review|channelEvent)\(/;

/** Read-only uses outside src/payments/, each with its reason. */
const READERS: Record<string, string> = {
  // a finished sale leaves the active index only once no payment waits on its channel
  'src/sales/active-sales.ts': 'keys.unknown',
  // the ops view reads the set sizes with the rest of the sale's tally, in one script
  'src/ops/ops-routes.ts': 'keys.unknown, keys.review',
  // the record layout names the key patterns the generator checks scripts against
  'src/redis/records.ts': 'keys.payment, keys.lane',
};

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('payment state has one owner', () => {
  test('no module outside src/payments/ runs a payment script or builds a payment, lane or re-query key', () => {
    const offenders = sources('src')
      .map((file) => relative(root, join(root, file)))
      .filter((file) => !file.startsWith('src/payments/') && !file.endsWith('.generated.ts'))
      .filter((file) => {
        const text = readFileSync(join(root, file), 'utf8');
        return PAYMENT_SCRIPTS.test(text) || (PAYMENT_KEYS.test(text) && !(file in READERS));
      });
    expect(offenders).toEqual([]);
  });
});
