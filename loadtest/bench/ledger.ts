/**
 * npm run bench:ledger — postings per second into ONE hot merchant account: the batched hand-off
 * (Ledger.postPayments, one transaction per batch, the merchant row updated once per batch)
 * against the naive design (one transaction per payment, the merchant row locked and updated per
 * payment), on Postgres and on PGlite, same run, medians of RUNS.
 *
 *   RUNS=3 BATCHED=20000 NAIVE=2000 BATCH=500 POSTERS=4 NAIVE_CLIENTS=16 npm run bench:ledger
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres   (a throwaway database is created in it)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Ledger, type PaymentPosting } from '../../src/ledger/ledger.js';
import type { SqlPort } from '../../src/ledger/sql-port.js';
import { pgliteSql, postgresSql } from '../../src/runtime/node/adapters/sql.js';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const RUNS = env('RUNS', 3);
const BATCHED = env('BATCHED', 20_000);
const NAIVE = env('NAIVE', 2_000);
const BATCH = env('BATCH', 500);
const POSTERS = env('POSTERS', 4);
const NAIVE_CLIENTS = env('NAIVE_CLIENTS', 16);
const WALLETS = 1000;
const BASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

let seq = 0;
const posting = (run: string): PaymentPosting => {
  const n = seq++;
  return {
    paymentId: `p-${run}-${n}`,
    orderId: `o-${run}-${n}`,
    saleId: 'hot',
    userId: `w${n % WALLETS}`,
    method: 'wallet',
    amount: 1,
    currency: 'CNY',
  };
};

async function fund(ledger: Ledger): Promise<void> {
  for (let i = 0; i < WALLETS; i++)
    await ledger.credit({ userId: `w${i}`, currency: 'CNY', amount: 1e9, reference: 'bench' });
  await ledger.postPayments([posting('warm')]); // creates the merchant account
}

async function batched(ledger: Ledger, run: string, total: number, posters: number): Promise<number> {
  const batches = Array.from({ length: Math.ceil(total / BATCH) }, () =>
    Array.from({ length: BATCH }, () => posting(run)),
  );
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: posters }, async () => {
      while (next < batches.length) await ledger.postPayments(batches[next++]!);
    }),
  );
  return (batches.length * BATCH) / ((performance.now() - started) / 1000);
}

/** The design the ledger replaces: per payment, lock the hot merchant row and update it. */
async function naive(sql: SqlPort, run: string, total: number, clients: number): Promise<number> {
  const payments = Array.from({ length: total }, () => posting(run));
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < payments.length) {
        const p = payments[next++]!;
        await sql.transaction(async (tx) => {
          await tx.query(`select balance from ledger_accounts where id = $1 for update`, ['merchant:hot:CNY']);
          const debited = await tx.query(
            `update ledger_accounts set balance = balance - $2 where id = $1 and balance >= $2 returning id`,
            [`wallet:${p.userId}:CNY`, p.amount],
          );
          if (debited.length === 0) throw new Error('insufficient funds');
          await tx.query(
            `insert into ledger_transfers (id, kind, debit_account, credit_account, amount, currency, order_id, retained) values ($1, 'charge', $2, 'merchant:hot:CNY', $3, 'CNY', $4, true)`,
            [p.paymentId, `wallet:${p.userId}:CNY`, p.amount, p.orderId],
          );
          await tx.query(`update ledger_accounts set balance = balance + $2 where id = $1`, [
            'merchant:hot:CNY',
            p.amount,
          ]);
        });
      }
    }),
  );
  return total / ((performance.now() - started) / 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const spread = (xs: number[]) => (Math.max(...xs) - Math.min(...xs)) / median(xs);

async function engine(
  name: string,
  open: () => Promise<{ sql: SqlPort; cleanup: () => Promise<void> }>,
  clients: { posters: number; naive: number },
) {
  const { sql, cleanup } = await open();
  try {
    const ledger = await Ledger.open(sql);
    await fund(ledger);
    const b: number[] = [];
    const n: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      b.push(await batched(ledger, `${name}-b${r}`, BATCHED, clients.posters));
      n.push(await naive(sql, `${name}-n${r}`, NAIVE, clients.naive));
    }
    const audit = await ledger.audit();
    if (audit.unbalancedCurrencies.length || audit.negativeWallets.length || audit.ordersChargedTwice.length)
      throw new Error(`audit failed: ${JSON.stringify(audit)}`);
    return { name, batched: b, naive: n, clients };
  } finally {
    await sql.close();
    await cleanup();
  }
}

const results = [];
const dir = mkdtempSync(join(tmpdir(), 'rushgate-bench-ledger-'));
results.push(
  await engine(
    'PGlite',
    async () => ({
      sql: await pgliteSql(join(dir, 'pglite')),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    }),
    { posters: 1, naive: 1 },
  ),
);
try {
  const admin = new pg.Client({ connectionString: BASE_URL });
  admin.on('error', () => {}); // a dropped admin connection fails its next query instead of the process
  await admin.connect();
  const db = `rushgate_bench_${process.pid}`;
  await admin.query(`create database ${db}`);
  const url = new URL(BASE_URL);
  url.pathname = `/${db}`;
  results.push(
    await engine(
      'Postgres',
      async () => ({
        sql: postgresSql(url.toString(), { max: Math.max(POSTERS, NAIVE_CLIENTS) }),
        cleanup: async () => {
          await admin.query(`drop database if exists ${db}`);
          await admin.end();
        },
      }),
      { posters: POSTERS, naive: NAIVE_CLIENTS },
    ),
  );
} catch (err) {
  console.error(`Postgres skipped: ${(err as Error).message} (set BENCH_DATABASE_URL)`);
}

console.log(`\nLedger hand-off into one hot merchant account: medians of ${RUNS} runs (spread = (max-min)/median)`);
console.log(
  `batched: ${BATCHED} postings in batches of ${BATCH}; naive: ${NAIVE} postings, one transaction each with the merchant row locked`,
);
console.log('engine    design   clients  postings/s  spread   ratio');
for (const r of results) {
  const b = median(r.batched);
  const n = median(r.naive);
  console.log(
    `${r.name.padEnd(9)} batched  ${String(r.clients.posters).padStart(7)}  ${b.toFixed(0).padStart(10)}  ${(100 * spread(r.batched)).toFixed(1).padStart(5)}%  ${(b / n).toFixed(1)}x`,
  );
  console.log(
    `${r.name.padEnd(9)} naive    ${String(r.clients.naive).padStart(7)}  ${n.toFixed(0).padStart(10)}  ${(100 * spread(r.naive)).toFixed(1).padStart(5)}%`,
  );
}
