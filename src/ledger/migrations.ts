import type { SqlPort } from './sql-port.js';

/**
 * The ledger's schema, applied in order at startup (each once, recorded in ledger_migrations).
 * The guarantees of the money rule live here, in constraints, not in application checks:
 * - one transfer per transfer id (primary key): a redelivered payment posts nothing twice;
 * - at most one retained charge per order (partial unique index);
 * - a wallet never goes negative (check constraint);
 * - transfers are append-only (trigger).
 */
const MIGRATIONS: readonly string[] = [
  `
  create table ledger_accounts (
    id text primary key,
    kind text not null check (kind in ('wallet', 'merchant', 'channel', 'funding')),
    owner text not null,
    currency text not null check (currency ~ '^[A-Z]{3}$'),
    balance bigint not null default 0,
    constraint wallet_never_negative check (kind <> 'wallet' or balance >= 0)
  );
  create index ledger_accounts_owner on ledger_accounts (owner) where kind = 'wallet';

  create table ledger_transfers (
    id text primary key,
    kind text not null check (kind in ('credit', 'charge', 'refund')),
    debit_account text not null references ledger_accounts (id),
    credit_account text not null references ledger_accounts (id),
    amount bigint not null check (amount > 0),
    currency text not null,
    order_id text,
    retained boolean not null default false,
    refund_of text references ledger_transfers (id),
    created_at timestamptz not null default now(),
    check (debit_account <> credit_account),
    check (kind = 'credit' or order_id is not null),
    check (retained = false or kind = 'charge'),
    check ((kind = 'refund') = (refund_of is not null))
  );
  create unique index one_retained_charge_per_order on ledger_transfers (order_id)
    where kind = 'charge' and retained;
  create unique index one_refund_per_transfer on ledger_transfers (refund_of)
    where refund_of is not null;

  create function ledger_transfers_append_only() returns trigger language plpgsql as $$
  begin
    raise exception 'ledger_transfers is append-only';
  end $$;
  create trigger ledger_transfers_append_only before update or delete on ledger_transfers
    for each row execute function ledger_transfers_append_only();
  `,
  `
  -- payments decided failed (definitely not charged). Written before the failure is told to
  -- anyone, so money that arrives for such a payment later is refunded, never kept.
  create table ledger_payment_failures (
    payment_id text primary key,
    code text not null,
    created_at timestamptz not null default now()
  );
  `,
  `
  -- a sale's charges (Ledger.saleCharges) without a scan of every transfer
  create index ledger_transfers_charges_by_account on ledger_transfers (credit_account) where kind = 'charge';
  `,
  `
  -- the buyer of a charge (a channel's payer account does not name one), so the reconciler can
  -- rebuild an order Redis lost; and the kept charges in the order the reconciler reads them
  alter table ledger_transfers add column user_id text;
  create index ledger_transfers_retained_by_time on ledger_transfers (created_at, id) where kind = 'charge' and retained;
  `,
];

/** Applies the migrations not yet applied; safe to run from several processes at once. */
export async function migrate(sql: SqlPort): Promise<void> {
  await sql.transaction(async (tx) => {
    // one migrator at a time (concurrent CREATE TABLE IF NOT EXISTS races in Postgres)
    await tx.query(`select pg_advisory_xact_lock(7210731)`);
    await tx.exec(
      `create table if not exists ledger_migrations (version int primary key, applied_at timestamptz not null default now())`,
    );
    const done = new Set(
      (await tx.query<{ version: number }>(`select version from ledger_migrations`)).map((r) => Number(r.version)),
    );
    for (const [i, text] of MIGRATIONS.entries()) {
      if (done.has(i + 1)) continue;
      await tx.exec(text);
      await tx.query(`insert into ledger_migrations (version) values ($1)`, [i + 1]);
    }
  });
}
