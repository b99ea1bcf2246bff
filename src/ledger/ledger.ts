import { migrate } from './migrations.js';
import { sqlState, type SqlPort } from './sql-port.js';

/** A payment handed to the ledger; the payment id is its transfer id. */
export interface PaymentPosting {
  paymentId: string;
  orderId: string;
  saleId: string;
  userId: string;
  /** `wallet`, or the channel that has already collected the money. */
  method: string;
  amount: number;
  currency: string;
}

export type PostingOutcome =
  | { status: 'succeeded' }
  | { status: 'refunded' }
  | { status: 'failed'; code: 'insufficient_funds' };

export interface Credit {
  userId: string;
  currency: string;
  amount: number;
  reference: string;
}

/** What the ledger holds for one sale (see Ledger.saleCharges). */
export interface SaleCharges {
  /** Charges posted, retained or not. */
  charges: number;
  /** Refunds of those charges. */
  refunds: number;
  /** Amounts retained, by currency. */
  retained: Record<string, number>;
  /** Per order with a charge posted: charges kept (charges minus refunds); more than 1 is a double charge. */
  keptByOrder: Record<string, number>;
}

/** A charge the ledger keeps (retained, not refunded): Redis must show its order paid. */
export interface KeptCharge {
  paymentId: string;
  orderId: string;
  saleId: string;
  /** The buyer ('' for a channel charge posted before the ledger recorded buyers). */
  userId: string;
  /** `wallet` or the channel's name. */
  method: string;
  amount: number;
  currency: string;
  createdAtMs: number;
  /** Its exact creation time as the ledger wrote it (paging). */
  cursor: string;
}

/** A kept charge as the ledger's queries select it. */
type KeptChargeRow = {
  id: string;
  order_id: string;
  sale_id: string;
  payer_kind: string;
  payer_owner: string;
  user_id: string | null;
  amount: string | number;
  currency: string;
  created_ms: string | number;
  created_at_text: string;
};

function keptCharge(r: KeptChargeRow): KeptCharge {
  const wallet = r.payer_kind === 'wallet';
  return {
    paymentId: r.id,
    orderId: r.order_id,
    saleId: r.sale_id,
    userId: r.user_id ?? (wallet ? r.payer_owner : ''),
    method: wallet ? 'wallet' : r.payer_owner,
    amount: Number(r.amount),
    currency: r.currency,
    createdAtMs: Number(r.created_ms),
    cursor: r.created_at_text,
  };
}

/** A credit reference already used for another amount or currency. */
export class ReferenceReused extends Error {
  override name = 'ReferenceReused';
  constructor() {
    super('this reference was used for another amount or currency');
  }
}

/** What the reconciler needs of the ledger. */
export type LedgerTruth = Pick<Ledger, 'keptCharges' | 'latestKeptCharges' | 'refundCharges'>;

/**
 * What the HTTP side needs of the ledger (the wallet routes, /readyz). A cluster child of
 * `npm start` reaches the primary's ledger through it over IPC.
 */
export type LedgerView = Pick<Ledger, 'credit' | 'creditMany' | 'balances' | 'saleCharges' | 'ping'>;

// unique violation, serialization failure, deadlock: the batch is retried as a whole
const RETRYABLE = new Set(['23505', '40001', '40P01']);
const MAX_ATTEMPTS = 5;

export const walletAccount = (userId: string, currency: string) => `wallet:${userId}:${currency}`;
const merchantAccount = (saleId: string, currency: string) => `merchant:${saleId}:${currency}`;
const channelAccount = (channel: string, currency: string) => `channel:${channel}:${currency}`;
export const fundingAccount = (currency: string) => `funding:${currency}`;

/** A credit's transfer id; a userId never holds '|', so two users' references cannot meet in one id. */
export const creditTransfer = (userId: string, reference: string) => `credit:${userId}|${reference}`;
const refundId = (paymentId: string) => `${paymentId}:refund`;

/**
 * Serializes every decision about the same payments (post, fail) across transactions and
 * processes; ids are locked in sorted order, so two batches cannot deadlock on them.
 */
async function lockPayments(tx: SqlPort, paymentIds: readonly string[]): Promise<void> {
  await tx.query(`select pg_advisory_xact_lock(hashtext(id)) from unnest($1::text[]) as id order by id`, [
    [...paymentIds].sort(),
  ]);
}

function payerAccount(p: PaymentPosting): { id: string; kind: 'wallet' | 'channel'; owner: string } {
  return p.method === 'wallet'
    ? { id: walletAccount(p.userId, p.currency), kind: 'wallet', owner: p.userId }
    : { id: channelAccount(p.method, p.currency), kind: 'channel', owner: p.method };
}

/** Adds `delta` to `map[key]`. */
function add(map: Map<string, number>, key: string, delta: number): void {
  map.set(key, (map.get(key) ?? 0) + delta);
}

/**
 * The money truth: double-entry, append-only transfers between accounts, balances kept in the
 * same transaction. A batch of payments is one transaction in which each hot merchant account is
 * updated once; every transfer is idempotent by its id.
 */
export class Ledger {
  private constructor(private readonly sql: SqlPort) {}

  /** Opens the ledger on `sql`, applying pending migrations. */
  static async open(sql: SqlPort): Promise<Ledger> {
    await migrate(sql);
    return new Ledger(sql);
  }

  /** Credits a wallet from the funding account, once per (userId, reference). */
  async credit(c: Credit): Promise<{ created: boolean; balance: number }> {
    return (await this.creditMany([c]))[0]!;
  }

  /**
   * Credits many wallets in one transaction, each once per (userId, reference), and answers in
   * the order given with each wallet's balance after the whole batch. One reference reused for
   * another amount or currency throws ReferenceReused and credits nothing.
   */
  async creditMany(credits: readonly Credit[]): Promise<{ created: boolean; balance: number }[]> {
    if (credits.length === 0) return [];
    return this.#retrying(async (tx) => {
      const accounts = new Map<string, [string, string, string]>();
      for (const c of credits) {
        accounts.set(walletAccount(c.userId, c.currency), ['wallet', c.userId, c.currency]);
        accounts.set(fundingAccount(c.currency), ['funding', c.currency, c.currency]);
      }
      const accountIds = [...accounts.keys()].sort();
      await tx.query(
        `insert into ledger_accounts (id, kind, owner, currency)
         select * from unnest($1::text[], $2::text[], $3::text[], $4::text[]) on conflict (id) do nothing`,
        [accountIds, ...[0, 1, 2].map((i) => accountIds.map((id) => accounts.get(id)![i]))],
      );
      const ids = credits.map((c) => creditTransfer(c.userId, c.reference));
      // a transfer id twice in one batch: its first occurrence is inserted and counts as created,
      // the second conflicts with it and is checked as a replay
      const inserted = new Set(
        (
          await tx.query<{ id: string }>(
            `insert into ledger_transfers (id, kind, debit_account, credit_account, amount, currency)
             select id, 'credit', debit, credit, amount, currency
             from unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[]) as t(id, debit, credit, amount, currency)
             on conflict (id) do nothing returning id`,
            [
              ids,
              credits.map((c) => fundingAccount(c.currency)),
              credits.map((c) => walletAccount(c.userId, c.currency)),
              credits.map((c) => c.amount),
              credits.map((c) => c.currency),
            ],
          )
        ).map((r) => r.id),
      );
      const created = ids.map((id) => inserted.delete(id));
      const replayed = ids.filter((_, i) => !created[i]);
      if (replayed.length > 0) {
        const first = new Map(
          (
            await tx.query<{ id: string; amount: string | number; currency: string }>(
              `select id, amount, currency from ledger_transfers where id = any($1::text[])`,
              [replayed],
            )
          ).map((r) => [r.id, r]),
        );
        credits.forEach((c, i) => {
          const row = first.get(ids[i]!);
          if (!created[i] && (Number(row!.amount) !== c.amount || row!.currency !== c.currency))
            throw new ReferenceReused();
        });
      }
      const deltas = new Map<string, number>();
      credits.forEach((c, i) => {
        if (!created[i]) return;
        add(deltas, walletAccount(c.userId, c.currency), c.amount);
        add(deltas, fundingAccount(c.currency), -c.amount);
      });
      // ids in sorted order: two batches touching the same wallets cannot deadlock
      const changed = [...deltas].sort(([a], [b]) => (a < b ? -1 : 1));
      if (changed.length > 0) {
        await tx.query(
          `update ledger_accounts a set balance = a.balance + d.delta
           from unnest($1::text[], $2::bigint[]) as d(id, delta) where a.id = d.id`,
          [changed.map(([id]) => id), changed.map(([, d]) => d)],
        );
      }
      const wallets = credits.map((c) => walletAccount(c.userId, c.currency));
      const balances = new Map(
        (
          await tx.query<{ id: string; balance: string | number }>(
            `select id, balance from ledger_accounts where id = any($1::text[])`,
            [[...new Set(wallets)]],
          )
        ).map((r) => [r.id, Number(r.balance)]),
      );
      return credits.map((_, i) => ({ created: created[i]!, balance: balances.get(wallets[i]!)! }));
    });
  }

  /** The buyer's wallet balances by currency. */
  async balances(userId: string): Promise<Record<string, number>> {
    const rows = await this.sql.query<{ currency: string; balance: string | number }>(
      `select currency, balance from ledger_accounts where kind = 'wallet' and owner = $1 order by currency`,
      [userId],
    );
    return Object.fromEntries(rows.map((r) => [r.currency, Number(r.balance)]));
  }

  /**
   * Posts a batch of payments in one transaction and answers each one's outcome. A payment
   * already posted answers its recorded outcome and moves nothing. The first success for an
   * order is retained; a later one is posted and refunded at once (`refunded`). A wallet that
   * cannot cover a payment fails it (`insufficient_funds`, recorded) and keeps its balance. A
   * payment recorded failed is never kept: a wallet one stays failed, and money a channel
   * collected for it later is posted and refunded.
   */
  async postPayments(batch: readonly PaymentPosting[]): Promise<Map<string, PostingOutcome>> {
    const unique = [...new Map(batch.map((p) => [p.paymentId, p])).values()];
    return this.#retrying((tx) => this.#post(tx, unique));
  }

  /**
   * Records definite failures (a channel's refusal) before they are told to anyone, and answers
   * each payment's final outcome: `failed`, or the charge's outcome when money was posted first.
   */
  async fail(
    failures: readonly { paymentId: string; code: string }[],
  ): Promise<Map<string, PostingOutcome | { status: 'failed'; code: string }>> {
    return this.#retrying(async (tx) => {
      const ids = failures.map((f) => f.paymentId);
      await lockPayments(tx, ids);
      const outcomes = new Map<string, PostingOutcome | { status: 'failed'; code: string }>();
      const posted = await tx.query<{ id: string; retained: boolean }>(
        `select id, retained from ledger_transfers where kind = 'charge' and id = any($1::text[])`,
        [ids],
      );
      for (const row of posted) outcomes.set(row.id, { status: row.retained ? 'succeeded' : 'refunded' });
      const rest = failures.filter((f) => !outcomes.has(f.paymentId));
      await tx.query(
        `insert into ledger_payment_failures (payment_id, code) select * from unnest($1::text[], $2::text[]) on conflict do nothing`,
        [rest.map((f) => f.paymentId), rest.map((f) => f.code)],
      );
      const recorded = await tx.query<{ payment_id: string; code: string }>(
        `select payment_id, code from ledger_payment_failures where payment_id = any($1::text[])`,
        [rest.map((f) => f.paymentId)],
      );
      for (const row of recorded) outcomes.set(row.payment_id, { status: 'failed', code: row.code });
      return outcomes;
    });
  }

  async #post(tx: SqlPort, batch: readonly PaymentPosting[]): Promise<Map<string, PostingOutcome>> {
    const outcomes = new Map<string, PostingOutcome>();
    await lockPayments(
      tx,
      batch.map((p) => p.paymentId),
    );
    const posted = await tx.query<{ id: string; retained: boolean }>(
      `select id, retained from ledger_transfers where kind = 'charge' and id = any($1::text[])`,
      [batch.map((p) => p.paymentId)],
    );
    for (const row of posted) outcomes.set(row.id, { status: row.retained ? 'succeeded' : 'refunded' });
    const failed = new Map(
      (
        await tx.query<{ payment_id: string; code: string }>(
          `select payment_id, code from ledger_payment_failures where payment_id = any($1::text[])`,
          [batch.map((p) => p.paymentId)],
        )
      ).map((r) => [r.payment_id, r.code]),
    );
    // a wallet payment decided failed stays failed: its wallet is never debited afterwards
    for (const p of batch) {
      if (!outcomes.has(p.paymentId) && p.method === 'wallet' && failed.has(p.paymentId)) {
        outcomes.set(p.paymentId, { status: 'failed', code: 'insufficient_funds' });
      }
    }
    let todo = batch.filter((p) => !outcomes.has(p.paymentId));
    if (todo.length === 0) return outcomes;

    await this.#ensureAccounts(tx, todo);
    // an order the ledger already charged (a token replayed after Redis lost its last second,
    // say): its wallet payment is posted and refunded without a debit, so it answers `refunded`,
    // never `insufficient_funds`, and needs no funds
    const charged = new Set(
      (
        await tx.query<{ order_id: string }>(
          `select order_id from ledger_transfers where kind = 'charge' and retained and order_id = any($1::text[])`,
          [todo.map((p) => p.orderId)],
        )
      ).map((r) => r.order_id),
    );
    const undebited = new Set(
      todo.filter((p) => p.method === 'wallet' && charged.has(p.orderId)).map((p) => p.paymentId),
    );
    const debited = new Set(
      await this.#debitWallets(
        tx,
        todo.filter((p) => !undebited.has(p.paymentId)),
        outcomes,
      ),
    );
    todo = todo.filter((p) => undebited.has(p.paymentId) || debited.has(p));
    if (todo.length === 0) return outcomes;

    // FIFO within the batch: the earliest success for an order is the one retained
    const rows: unknown[][] = [[], [], [], [], [], [], [], [], [], []];
    const push = (...values: unknown[]) => values.forEach((v, i) => void rows[i]!.push(v));
    const deltas = new Map<string, number>();
    for (const p of todo) {
      const payer = payerAccount(p).id;
      const merchant = merchantAccount(p.saleId, p.currency);
      // money collected for a payment already decided failed is refunded, never kept
      const retained = !charged.has(p.orderId) && !failed.has(p.paymentId);
      if (retained) charged.add(p.orderId);
      // booleans travel as text: postgres.js mistypes a JS boolean array parameter
      push(p.paymentId, 'charge', payer, merchant, p.amount, p.currency, p.orderId, String(retained), null, p.userId);
      add(deltas, merchant, p.amount);
      if (p.method !== 'wallet' || undebited.has(p.paymentId)) add(deltas, payer, -p.amount);
      if (!retained) {
        push(
          refundId(p.paymentId),
          'refund',
          merchant,
          payer,
          p.amount,
          p.currency,
          p.orderId,
          'false',
          p.paymentId,
          p.userId,
        );
        add(deltas, merchant, -p.amount);
        add(deltas, payer, p.amount);
      }
      outcomes.set(p.paymentId, { status: retained ? 'succeeded' : 'refunded' });
    }
    // a transfer id posted concurrently by another worker makes this insert fail: the whole
    // batch rolls back (wallet debits included) and is retried, then answers the recorded outcome
    await tx.query(
      `insert into ledger_transfers (id, kind, debit_account, credit_account, amount, currency, order_id, retained, refund_of, user_id)
       select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[]::boolean[], $9::text[], $10::text[])`,
      rows,
    );
    const changed = [...deltas].filter(([, d]) => d !== 0).sort(([a], [b]) => (a < b ? -1 : 1));
    if (changed.length > 0) {
      await tx.query(
        `update ledger_accounts a set balance = a.balance + d.delta
         from unnest($1::text[], $2::bigint[]) as d(id, delta) where a.id = d.id`,
        [changed.map(([id]) => id), changed.map(([, d]) => d)],
      );
    }
    return outcomes;
  }

  async #ensureAccounts(tx: SqlPort, todo: readonly PaymentPosting[]): Promise<void> {
    const accounts = new Map<string, [string, string, string]>();
    for (const p of todo) {
      const payer = payerAccount(p);
      accounts.set(payer.id, [payer.kind, payer.owner, p.currency]);
      accounts.set(merchantAccount(p.saleId, p.currency), ['merchant', p.saleId, p.currency]);
    }
    const ids = [...accounts.keys()].sort();
    await tx.query(
      `insert into ledger_accounts (id, kind, owner, currency)
       select * from unnest($1::text[], $2::text[], $3::text[], $4::text[]) on conflict (id) do nothing`,
      [
        ids,
        ids.map((id) => accounts.get(id)![0]),
        ids.map((id) => accounts.get(id)![1]),
        ids.map((id) => accounts.get(id)![2]),
      ],
    );
  }

  /**
   * Debits wallet payments where the balance covers them, in rounds of at most one payment per
   * wallet (so one statement serves a whole round); returns the payments still to post.
   */
  async #debitWallets(
    tx: SqlPort,
    todo: readonly PaymentPosting[],
    outcomes: Map<string, PostingOutcome>,
  ): Promise<PaymentPosting[]> {
    const byWallet = new Map<string, PaymentPosting[]>();
    for (const p of todo)
      if (p.method === 'wallet') byWallet.set(payerAccount(p).id, [...(byWallet.get(payerAccount(p).id) ?? []), p]);
    const refused = new Set<string>();
    for (let round = 0; ; round++) {
      const payments = [...byWallet.values()].map((list) => list[round]).filter((p) => p !== undefined);
      if (payments.length === 0) break;
      payments.sort((a, b) => (payerAccount(a).id < payerAccount(b).id ? -1 : 1));
      const debited = new Set(
        (
          await tx.query<{ id: string }>(
            `update ledger_accounts a set balance = a.balance - d.amount
             from unnest($1::text[], $2::bigint[]) as d(id, amount)
             where a.id = d.id and a.balance >= d.amount returning a.id`,
            [payments.map((p) => payerAccount(p).id), payments.map((p) => p.amount)],
          )
        ).map((r) => r.id),
      );
      for (const p of payments) {
        if (debited.has(payerAccount(p).id)) continue;
        refused.add(p.paymentId);
        outcomes.set(p.paymentId, { status: 'failed', code: 'insufficient_funds' });
      }
    }
    if (refused.size > 0) {
      await tx.query(
        `insert into ledger_payment_failures (payment_id, code) select id, 'insufficient_funds' from unnest($1::text[]) as id on conflict do nothing`,
        [[...refused]],
      );
    }
    return todo.filter((p) => !refused.has(p.paymentId));
  }

  async #retrying<T>(fn: (tx: SqlPort) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.sql.transaction(fn);
      } catch (err) {
        if (attempt >= MAX_ATTEMPTS || !RETRYABLE.has(sqlState(err) ?? '')) throw err;
      }
    }
  }

  /** Checks of the money rule, for tests and ops: each list is empty when all is well. */
  async audit(): Promise<{ unbalancedCurrencies: string[]; negativeWallets: string[]; ordersChargedTwice: string[] }> {
    const unbalanced = await this.sql.query<{ currency: string }>(
      `select currency from ledger_accounts group by currency having sum(balance) <> 0`,
    );
    const negative = await this.sql.query<{ id: string }>(
      `select id from ledger_accounts where kind = 'wallet' and balance < 0`,
    );
    // one pass: charges kept = charges - refunds, per order
    const twice = await this.sql.query<{ order_id: string }>(
      `select order_id from ledger_transfers where order_id is not null group by order_id
       having count(*) filter (where kind = 'charge') - count(*) filter (where kind = 'refund') > 1`,
    );
    return {
      unbalancedCurrencies: unbalanced.map((r) => r.currency),
      negativeWallets: negative.map((r) => r.id),
      ordersChargedTwice: twice.map((r) => r.order_id),
    };
  }

  /**
   * The charges posted to one sale's merchant accounts: totals, and per order the charges kept
   * (charges minus their refunds), computed from the transfers themselves, so an order kept
   * charged twice shows as 2 whatever the constraints promise.
   */
  async saleCharges(saleId: string): Promise<SaleCharges> {
    const rows = await this.sql.query<{
      order_id: string;
      currency: string;
      charges: string | number;
      refunds: string | number;
      retained: string | number;
    }>(
      `select c.order_id, c.currency, count(*) as charges, count(r.id) as refunds,
              coalesce(sum(c.amount) filter (where c.retained and r.id is null), 0) as retained
       from ledger_accounts m
       join ledger_transfers c on c.credit_account = m.id and c.kind = 'charge'
       left join ledger_transfers r on r.refund_of = c.id
       where m.kind = 'merchant' and m.owner = $1
       group by c.order_id, c.currency`,
      [saleId],
    );
    const result: SaleCharges = { charges: 0, refunds: 0, retained: {}, keptByOrder: {} };
    for (const row of rows) {
      const charges = Number(row.charges);
      const refunds = Number(row.refunds);
      result.charges += charges;
      result.refunds += refunds;
      result.keptByOrder[row.order_id] = (result.keptByOrder[row.order_id] ?? 0) + charges - refunds;
      if (Number(row.retained) > 0)
        result.retained[row.currency] = (result.retained[row.currency] ?? 0) + Number(row.retained);
    }
    return result;
  }

  /** Retained charges of one order, not refunded since (0 or 1 by constraint). */
  async retainedCharges(orderId: string): Promise<number> {
    const [row] = await this.sql.query<{ n: string | number }>(
      `select count(*) as n from ledger_transfers c where kind = 'charge' and retained and order_id = $1
       and not exists (select 1 from ledger_transfers r where r.refund_of = c.id)`,
      [orderId],
    );
    return Number(row!.n);
  }

  /**
   * Charges kept (retained and not refunded), in (created, id) order after `after`, at most
   * `limit`, created at or after `sinceMs`: what the reconciler makes Redis agree with.
   */
  async keptCharges(opts: {
    after?: KeptCharge | undefined;
    sinceMs?: number | undefined;
    limit: number;
  }): Promise<KeptCharge[]> {
    const rows = await this.sql.query<KeptChargeRow>(
      `select c.id, c.order_id, m.owner as sale_id, p.kind as payer_kind, p.owner as payer_owner, c.user_id,
              c.amount, c.currency, floor(extract(epoch from c.created_at) * 1000)::bigint as created_ms, c.created_at::text as created_at_text
       from ledger_transfers c
       join ledger_accounts m on m.id = c.credit_account
       join ledger_accounts p on p.id = c.debit_account
       where c.kind = 'charge' and c.retained
         and c.created_at >= to_timestamp($1::double precision / 1000)
         and (c.created_at, c.id) > ($2::timestamptz, $3::text)
         and not exists (select 1 from ledger_transfers r where r.refund_of = c.id)
       order by c.created_at, c.id
       limit $4`,
      [opts.sinceMs ?? 0, opts.after?.cursor ?? '-infinity', opts.after?.paymentId ?? '', opts.limit],
    );
    return rows.map(keptCharge);
  }

  /** One sale's kept charges, the latest first, at most `limit`; and how many it keeps in all. */
  async latestKeptCharges(
    saleId: string,
    limit: number,
  ): Promise<{ total: number; amount: number; latest: KeptCharge[] }> {
    const kept = `from ledger_accounts m
       join ledger_transfers c on c.credit_account = m.id and c.kind = 'charge' and c.retained
       join ledger_accounts p on p.id = c.debit_account
       where m.kind = 'merchant' and m.owner = $1
         and not exists (select 1 from ledger_transfers r where r.refund_of = c.id)`;
    const [count] = await this.sql.query<{ n: string | number; amount: string | number | null }>(
      `select count(*) as n, sum(c.amount) as amount ${kept}`,
      [saleId],
    );
    const rows = await this.sql.query<Parameters<typeof keptCharge>[0]>(
      `select c.id, c.order_id, m.owner as sale_id, p.kind as payer_kind, p.owner as payer_owner, c.user_id,
              c.amount, c.currency, floor(extract(epoch from c.created_at) * 1000)::bigint as created_ms, c.created_at::text as created_at_text
       ${kept} order by c.created_at desc, c.id desc limit $2`,
      [saleId, limit],
    );
    return { total: Number(count!.n), amount: Number(count!.amount ?? 0), latest: rows.map(keptCharge) };
  }

  /**
   * Refunds kept charges (an oversold sale's latest): each gets one refund transfer back to its
   * payer, idempotently (a charge refunded already is skipped). Answers the ids refunded now.
   */
  async refundCharges(paymentIds: readonly string[]): Promise<string[]> {
    if (paymentIds.length === 0) return [];
    return this.#retrying(async (tx) => {
      await lockPayments(tx, paymentIds);
      const rows = await tx.query<{
        id: string;
        debit_account: string;
        credit_account: string;
        amount: string | number;
        currency: string;
        order_id: string;
        user_id: string | null;
      }>(
        `select c.id, c.debit_account, c.credit_account, c.amount, c.currency, c.order_id, c.user_id from ledger_transfers c
         where c.kind = 'charge' and c.retained and c.id = any($1::text[])
           and not exists (select 1 from ledger_transfers r where r.refund_of = c.id)`,
        [[...paymentIds]],
      );
      if (rows.length === 0) return [];
      await tx.query(
        `insert into ledger_transfers (id, kind, debit_account, credit_account, amount, currency, order_id, retained, refund_of, user_id)
         select id || ':refund', 'refund', credit, debit, amount, currency, order_id, false, id, user_id
         from unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[]) as t(id, debit, credit, amount, currency, order_id, user_id)`,
        [
          rows.map((r) => r.id),
          rows.map((r) => r.debit_account),
          rows.map((r) => r.credit_account),
          rows.map((r) => Number(r.amount)),
          rows.map((r) => r.currency),
          rows.map((r) => r.order_id),
          rows.map((r) => r.user_id),
        ],
      );
      const deltas = new Map<string, number>();
      for (const r of rows) {
        add(deltas, r.credit_account, -Number(r.amount));
        add(deltas, r.debit_account, Number(r.amount));
      }
      const changed = [...deltas].filter(([, d]) => d !== 0).sort(([a], [b]) => (a < b ? -1 : 1));
      await tx.query(
        `update ledger_accounts a set balance = a.balance + d.delta
         from unnest($1::text[], $2::bigint[]) as d(id, delta) where a.id = d.id`,
        [changed.map(([id]) => id), changed.map(([, d]) => d)],
      );
      return rows.map((r) => r.id);
    });
  }

  /** Throws when the database does not answer. */
  async ping(): Promise<void> {
    await this.sql.query('select 1');
  }

  async close(): Promise<void> {
    await this.sql.close();
  }
}
