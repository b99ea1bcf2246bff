import type { Metrics } from '../ops/metrics.js';
import { latencyField } from '../ops/ops-health.js';
import type { SaleTally } from '../ops/sale-tally.js';
import type { PaymentLanes } from '../payments/payment-lanes.js';
import type { PaymentStore } from '../payments/payment-store.js';
import type { Outcome } from './charge.js';
import type { Taken } from './take.js';

/**
 * The record step: each outcome is written back to Redis. A final one settles the payment and
 * its order (succeeded and paid only ever after the ledger committed); `unknown` is scheduled for
 * a query `recheckInMs` from now, the order still waiting on it.
 */
export async function recordOutcomes(
  payments: PaymentStore,
  open: readonly Taken[],
  outcomes: ReadonlyMap<string, Outcome>,
  recheckInMs: number,
): Promise<void> {
  await Promise.all(
    open.map(async ({ saleId, posting: p }) => {
      const outcome = outcomes.get(p.paymentId)!;
      if (outcome.status === 'unknown') await payments.markUnknown(saleId, p.orderId, p.paymentId, recheckInMs);
      else await payments.settle(saleId, p.orderId, p.paymentId, outcome.status, 'code' in outcome ? outcome.code : '');
    }),
  );
}

/** Final outcomes counted: the payments metric, and the sale's tally (outcomes, failures by code, lag). */
export function countOutcomes(
  open: readonly Taken[],
  outcomes: ReadonlyMap<string, Outcome>,
  { metrics, tally }: { metrics?: Metrics | undefined; tally?: SaleTally | undefined },
): void {
  for (const t of open) {
    const outcome = outcomes.get(t.posting.paymentId)!;
    if (outcome.status === 'unknown') continue;
    metrics?.payment(outcome.status, (Date.now() - t.createdAtMs) / 1000);
    tally?.count(t.saleId, `outcome:${outcome.status}`);
    // the ops view: failures by code, and the accepted -> settled lag
    if (outcome.status === 'failed') tally?.count(t.saleId, `failure:${outcome.code}`);
    tally?.count(t.saleId, latencyField('lag', Date.now() - t.createdAtMs));
  }
}

/** The round's lane entries acknowledged (every one taken, open or not): no worker takes them again. */
export async function acknowledge(lanes: PaymentLanes, taken: readonly Taken[]): Promise<void> {
  const byLane = new Map<string, Taken[]>();
  for (const t of taken) {
    const lane = `${t.saleId} ${t.lane}`;
    byLane.set(lane, [...(byLane.get(lane) ?? []), t]);
  }
  await Promise.all(
    [...byLane.values()].map((group) =>
      lanes.ack(
        group[0]!.saleId,
        group[0]!.lane,
        group.map((t) => t.entryId),
      ),
    ),
  );
}
