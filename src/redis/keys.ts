/**
 * Redis key builders. Every key of one sale carries the hash tag `{s:<saleId>}`, so every script
 * (which only touches one sale's keys) stays on one Redis Cluster slot.
 */
export type Lane = 'standard' | 'priority';

const saleTag = (saleId: string) => `rg:{s:${saleId}}`;

export const keys = {
  /** Rate-limit policies: the current version and its history (one slot: {limits}). */
  limits: 'rg:{limits}:current',
  limitsHistory: 'rg:{limits}:history',
  /** Would-be refusals of dry-run policies that name no sale (others.perUser), per version. */
  limitsDryRun: (version: number) => `rg:{limits}:dryrun:v${version}`,
  /** Blocked buyers: userId -> blocked until (ms); reasons beside. */
  blocklist: 'rg:{block}:users',
  blockReasons: 'rg:{block}:reasons',
  /** Blocked network addresses: address -> blocked until (ms); reasons beside. */
  blockedAddresses: 'rg:{block}:addresses',
  blockedAddressReasons: 'rg:{block}:addressReasons',
  refusalTally: (userId: string) => `rg:{block}:refusals:${userId}`,
  /**
   * Every sale ever put (ops views, limits, the reconciler). Not sale-tagged; only its own
   * one-key script (listSale) writes it, before the sale is written (an id may lack its sale).
   */
  sales: 'rg:sales',
  /**
   * Sales that can still have work, by generation: what the worker and the hold sweeper walk
   * (src/sales/active-sales.ts). Not sale-tagged; only its own one-key scripts write it.
   */
  activeSales: 'rg:active',
  sale: (saleId: string) => `${saleTag(saleId)}:sale`,
  saleUsers: (saleId: string) => `${saleTag(saleId)}:users`,
  holds: (saleId: string) => `${saleTag(saleId)}:holds`,
  order: (saleId: string, orderId: string) => `${saleTag(saleId)}:o:${orderId}`,
  payment: (saleId: string, paymentId: string) => `${saleTag(saleId)}:p:${paymentId}`,
  lanes: (saleId: string) => `${saleTag(saleId)}:lanes`,
  admission: (saleId: string) => `${saleTag(saleId)}:admission`,
  /**
   * A buyer's or an address's fixed window guarding one sale (`policy` e.g. orders.perUser),
   * keyed by the window's length and never by its limit, so a changed limit keeps the counts.
   */
  window: (saleId: string, policy: string, windowSeconds: number, identifier: string) =>
    `${saleTag(saleId)}:rl:${policy}:w${windowSeconds}:${identifier}`,
  /** Decisions by reason and payment outcomes, summed over every instance (the ops view). */
  tally: (saleId: string) => `${saleTag(saleId)}:tally`,
  /** The tally per second of Redis time for the last 900 s (hash second -> JSON counts; the ops view). */
  history: (saleId: string) => `${saleTag(saleId)}:history`,
  /** Payments whose channel outcome is not known yet, by next check time (ms). */
  unknown: (saleId: string) => `${saleTag(saleId)}:unknown`,
  /** Payments marked for review (unknown past their deadline): ZSET paymentId -> ms when marked. */
  review: (saleId: string) => `${saleTag(saleId)}:review`,
  /**
   * Present once the ledger was found to keep more charges than the sale has seats: HASH
   * { charges, seats, detectedAt, refunded } (the latest charges are refunded automatically).
   */
  oversell: (saleId: string) => `${saleTag(saleId)}:oversell`,
  /** Marks a Redis the reconciler has seen: its absence means the data set was lost or replaced. */
  reconciled: 'rg:{reconciler}:marker',
  channelEvent: (saleId: string, channel: string, eventId: string) => `${saleTag(saleId)}:evt:${channel}:${eventId}`,
  lane: (saleId: string, lane: Lane) => `${saleTag(saleId)}:lane:${lane}`,
  // a userId never holds '|', so the key after it cannot make two buyers' keys collide
  idempotency: (saleId: string, userId: string, key: string) => `${saleTag(saleId)}:idem:${userId}|${key}`,
  /** Passed as the idempotency key slot when a request has none; never written. */
  noIdempotency: (saleId: string) => `${saleTag(saleId)}:idem:-`,
} as const;
