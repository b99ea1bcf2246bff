/**
 * The gateway's ledger on Postgres under the faults that killed the process with postgres.js: a
 * connection storm (every backend terminated every 40 ms for 6 s) and server restarts, each under
 * concurrent credits and payments. A Postgres server of the file's own (initdb + pg_ctl in a temp
 * dir, on a free loopback port) takes the faults; the machine's own server is never touched.
 * `.ci/run` installs Debian's postgresql; elsewhere the file is skipped when it cannot start one.
 */
import pg from 'pg';
import { test as base, describe, expect } from 'vitest';
import { parseConfig } from '../../src/config.js';
import type { Ledger, PaymentPosting, PostingOutcome } from '../../src/ledger/ledger.js';
import { LedgerUnavailableError, sqlState } from '../../src/ledger/sql-port.js';
import { openLedger } from '../../src/runtime/node/adapters/ledger.js';
import { postgresSql } from '../../src/runtime/node/adapters/sql.js';
import { admin, buyer, call, expectProblem, redisUrl, startGateway, unique, type App } from '../helpers.js';
import { privatePostgresMissing, startPrivatePostgres, type PrivatePostgres } from '../ledger/private-postgres.js';

if (privatePostgresMissing && process.env.CI) {
  throw new Error(`${privatePostgresMissing}: .ci/run installs Debian's postgresql`);
}
if (privatePostgresMissing) console.warn(`ledger fault tests skipped: ${privatePostgresMissing}`);

const RECOVERY_MS = 2_000;

const it = base.extend<{ server: PrivatePostgres; ledger: Ledger; app: App }>({
  server: [
    async ({}, use) => {
      const server = await startPrivatePostgres();
      await use(server);
      await server.destroy();
    },
    { scope: 'file' },
  ],
  // one gateway-side ledger lives through every fault below, wired as the gateway wires it
  // (DATABASE_URL -> node-postgres pool -> Ledger)
  ledger: [
    async ({ server }, use) => {
      const ledger = await openLedger(parseConfig({ DATABASE_URL: server.url }), '.');
      await use(ledger);
      await ledger.close();
    },
    { scope: 'file' },
  ],
  // the HTTP side, over that ledger
  app: [
    async ({ ledger }, use) => {
      const gateway = await startGateway(redisUrl(), { ledger });
      await use(gateway.app);
      await gateway.close();
    },
    { scope: 'file' },
  ],
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  for (const end = performance.now() + timeoutMs; !condition(); await sleep(10)) {
    if (performance.now() > end) throw new Error('condition not met in time');
  }
}

/** Records unhandled rejections and uncaught exceptions: any one would have killed the gateway. */
function watchProcess() {
  const fatal: unknown[] = [];
  const record = (err: unknown) => void fatal.push(err);
  process.on('unhandledRejection', record);
  process.on('uncaughtException', record);
  return {
    fatal,
    stop: async () => {
      // a rejection is reported as unhandled a turn after it happens
      await sleep(100);
      process.off('unhandledRejection', record);
      process.off('uncaughtException', record);
    },
  };
}

/** Counts the calls: each either succeeds or answers LedgerUnavailableError; anything else is kept. */
class Calls {
  ok = 0;
  unavailable = 0;
  readonly other: unknown[] = [];

  async try<T>(call: () => Promise<T>): Promise<T | undefined> {
    try {
      const result = await call();
      this.ok++;
      return result;
    } catch (err) {
      if (err instanceof LedgerUnavailableError) this.unavailable++;
      else this.other.push(err);
      return undefined;
    }
  }
}

/** Calls `call` every 20 ms until it succeeds; answers how long after `since` that was. */
async function recoveryMs(call: () => Promise<unknown>, since = performance.now(), limitMs = 10_000): Promise<number> {
  for (;;) {
    try {
      await call();
      return performance.now() - since;
    } catch (err) {
      if (!(err instanceof LedgerUnavailableError) || performance.now() - since > limitMs) throw err;
      await sleep(20);
    }
  }
}

/**
 * A buyer's traffic: a credit of 100, a read of the balance, then two wallet payments of 30 for
 * one order (one is kept, the other refunded), over and over. Every call is remembered, answered
 * or not, so it can be redelivered afterwards as the payment worker would.
 */
class Buyer {
  readonly userId = unique('storm');
  readonly credits: { userId: string; currency: string; amount: number; reference: string }[] = [];
  readonly batches: PaymentPosting[][] = [];

  async step(ledger: Ledger, calls: Calls, going: () => boolean): Promise<void> {
    const credit = { userId: this.userId, currency: 'CNY', amount: 100, reference: `r${this.credits.length}` };
    this.credits.push(credit);
    while (going() && (await calls.try(() => ledger.credit(credit))) === undefined) await sleep(5);
    await calls.try(() => ledger.balances(this.userId)); // a read outside a transaction
    const orderId = unique('ord');
    const pay = (): PaymentPosting => ({
      paymentId: unique('pay'),
      orderId,
      saleId: 'storm',
      userId: this.userId,
      method: 'wallet',
      amount: 30,
      currency: 'CNY',
    });
    const batch = [pay(), pay()];
    this.batches.push(batch);
    while (going() && (await calls.try(() => ledger.postPayments(batch))) === undefined) await sleep(5);
  }

  /** Redelivers every call (each is idempotent) and checks the wallet holds exactly what they say. */
  async settle(ledger: Ledger): Promise<void> {
    for (const c of this.credits) await ledger.credit(c);
    let charged = 0;
    for (const batch of this.batches) {
      const outcomes = await ledger.postPayments(batch);
      const kept = batch.filter((p) => (outcomes.get(p.paymentId) as PostingOutcome).status === 'succeeded');
      expect(kept.length).toBeLessThanOrEqual(1);
      expect(await ledger.retainedCharges(batch[0]!.orderId)).toBe(kept.length);
      charged += kept.length * 30;
    }
    expect(await ledger.balances(this.userId)).toEqual({ CNY: 100 * this.credits.length - charged });
  }
}

/** Terminates every client backend but its own, every `everyMs`, for `forMs`; answers how many. */
async function connectionStorm(url: string, forMs: number, everyMs: number): Promise<number> {
  const killer = new pg.Client({ connectionString: url });
  killer.on('error', () => {});
  await killer.connect();
  let terminated = 0;
  try {
    for (const end = performance.now() + forMs; performance.now() < end; await sleep(everyMs)) {
      const { rows } = await killer.query<{ n: string }>(
        `select count(*) filter (where pg_terminate_backend(pid)) as n from pg_stat_activity
         where backend_type = 'client backend' and pid <> pg_backend_pid()`,
      );
      terminated += Number(rows[0]!.n);
    }
  } finally {
    await killer.end();
  }
  return terminated;
}

describe.skipIf(privatePostgresMissing !== undefined)('ledger on Postgres under faults (a private server)', () => {
  it('passes every other error through with its SQLSTATE, and rolls a failed transaction back', async ({ server }) => {
    const sql = postgresSql(server.url, { max: 1 });
    try {
      await sql.exec(`create table if not exists fault_probe (id text primary key)`);
      const id = unique('probe');
      await sql.query(`insert into fault_probe (id) values ($1)`, [id]);
      const refused = await sql.query(`insert into fault_probe (id) values ($1)`, [id]).catch((e: unknown) => e);
      expect(refused).not.toBeInstanceOf(LedgerUnavailableError);
      expect(sqlState(refused)).toBe('23505');
      const other = unique('probe');
      const inTx = await sql
        .transaction(async (tx) => {
          await tx.query(`insert into fault_probe (id) values ($1)`, [other]);
          await tx.query(`insert into fault_probe (id) values ($1)`, [id]);
        })
        .catch((e: unknown) => e);
      expect(sqlState(inTx)).toBe('23505');
      // rolled back, and the one pooled connection is usable again
      expect(await sql.query(`select id from fault_probe where id = any($1::text[])`, [[id, other]])).toEqual([{ id }]);
      const [count] = await sql.query<{ n: string | number }>(`select count(*) as n from fault_probe`);
      expect(Number(count!.n)).toBe(1);
    } finally {
      await sql.close();
    }
  });

  const storm =
    'survives a connection storm: calls succeed or answer unavailable, recover, nothing lost or charged twice';
  it(storm, async ({ server, ledger }) => {
    const watch = watchProcess();
    try {
      const calls = new Calls();
      const buyers = Array.from({ length: 8 }, () => new Buyer());
      let storming = true;
      const traffic = buyers.map(async (b) => {
        while (storming) await b.step(ledger, calls, () => storming);
      });
      const terminated = await connectionStorm(server.url, 6_000, 40);
      storming = false;
      const stormOver = performance.now();
      await Promise.all(traffic);

      // measured from the last termination, the traffic's last calls included
      const probe = { userId: unique('probe'), currency: 'CNY', amount: 1, reference: 'probe' };
      const recovered = await recoveryMs(() => ledger.credit(probe), stormOver);
      console.info(
        `storm: ${terminated} backends terminated; ${calls.ok} calls succeeded, ` +
          `${calls.unavailable} answered unavailable; ` +
          `a credit succeeded ${Math.round(recovered)} ms after the last termination`,
      );
      expect(calls.other).toEqual([]);
      expect(terminated).toBeGreaterThan(0);
      expect(calls.unavailable).toBeGreaterThan(0);
      expect(recovered).toBeLessThan(RECOVERY_MS);

      for (const b of buyers) await b.settle(ledger);
      expect(await ledger.audit()).toEqual({ unbalancedCurrencies: [], negativeWallets: [], ordersChargedTwice: [] });
    } finally {
      await watch.stop();
    }
    expect(watch.fatal).toEqual([]);
  }, 60_000);

  it.for(['fast', 'immediate'] as const)(
    'survives a server restart (stop -m %s): unavailable (503) while down, recovers without a restart of its own',
    { timeout: 60_000 },
    async (mode, { server, ledger, app }) => {
      const watch = watchProcess();
      try {
        const b = await buyer();
        const before = { currency: 'CNY', amount: 100, reference: 'before' };
        expect((await admin(app, 'POST', `/admin/wallets/${b.userId}/credits`, before)).status).toBe(201);

        // traffic in flight while the server goes down
        const calls = new Calls();
        const buyers = Array.from({ length: 4 }, () => new Buyer());
        let going = true;
        const traffic = buyers.map(async (t) => {
          while (going) await t.step(ledger, calls, () => going);
        });
        await until(() => calls.ok >= 8);
        await server.stop(mode);
        try {
          for (const attempt of [
            () => ledger.credit({ userId: b.userId, currency: 'CNY', amount: 1, reference: unique('down') }),
            () => ledger.balances(b.userId),
            () => ledger.ping(),
          ]) {
            await expect(attempt()).rejects.toBeInstanceOf(LedgerUnavailableError);
          }
          expectProblem(await call(app, 'GET', '/v1/wallet', { token: b.jwt }), 503, 'unavailable');
          expectProblem(await call(app, 'GET', '/readyz'), 503, 'unavailable');
        } finally {
          await server.start();
        }
        const recovered = await recoveryMs(() => ledger.balances(b.userId));
        going = false;
        await Promise.all(traffic);
        console.info(
          `restart (${mode}): calls succeeded ${Math.round(recovered)} ms after the server answered again; ` +
            `${calls.ok} ok, ${calls.unavailable} unavailable`,
        );
        expect(recovered).toBeLessThan(RECOVERY_MS);
        expect(calls.other).toEqual([]);
        expect(calls.unavailable).toBeGreaterThan(0);

        // the credit refused while down left nothing behind
        const wallet = await call(app, 'GET', '/v1/wallet', { token: b.jwt });
        expect(wallet.status).toBe(200);
        expect(wallet.body.balances).toEqual({ CNY: 100 });
        for (const t of buyers) await t.settle(ledger);
        expect(await ledger.audit()).toEqual({ unbalancedCurrencies: [], negativeWallets: [], ordersChargedTwice: [] });
      } finally {
        await watch.stop();
      }
      expect(watch.fatal).toEqual([]);
    },
  );
});
