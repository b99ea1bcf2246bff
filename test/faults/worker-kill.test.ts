/**
 * A worker killed with SIGKILL between its ledger commit and its Redis write loses nothing and
 * posts nothing twice: a second worker process takes its unacknowledged payments over after the
 * visibility timeout, and the ledger answers what it had already posted.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ledger } from '../../src/ledger/ledger.js';
import { pgliteSql } from '../../src/runtime/node/adapters/sql.js';
import {
  admin,
  buyer,
  call,
  createSale,
  parallel,
  pay,
  placeOrder,
  redisEnv,
  saleCounters,
  waitFor,
} from '../helpers.js';
import { test as withFixtures, describe, expect, usePrivateRedis } from '../fixtures.js';

const root = join(import.meta.dirname, '../..');

/** A worker process (`npm run worker`'s entry) on the Redis at `redisUrl` and the ledger in `dataDir`. */
function spawnWorker(redisUrl: string, dataDir: string, env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/runtime/node/worker.ts')], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      ...redisEnv(redisUrl),
      RUSHGATE_DATA_DIR: dataDir,
      RUSHGATE_LOG_LEVEL: 'warn',
      RUSHGATE_WORKER_VISIBILITY_MS: '1000',
      RUSHGATE_WORKER_BATCH: '20',
      ...env,
    },
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? code)),
  );
  return { child, exited, output: () => output };
}

/**
 * `dataDir`: the workers' data directory (their PGlite ledger); `worker(env)`: a worker process
 * on the file's Redis and that directory. The `app` fixture is the gateway side, with no worker
 * of its own: it only queues payments.
 */
const test = withFixtures.extend<{
  dataDir: string;
  worker: (env: Record<string, string>) => ReturnType<typeof spawnWorker>;
}>({
  dataDir: [
    async ({}, use) => {
      const dataDir = mkdtempSync(join(tmpdir(), 'rushgate-redelivery-'));
      await use(dataDir);
      rmSync(dataDir, { recursive: true, force: true });
    },
    { scope: 'file' },
  ],
  worker: [
    async ({ redisUrl, dataDir }, use) => {
      await use((env) => spawnWorker(redisUrl, dataDir, env));
    },
    { scope: 'file' },
  ],
});
// workers read every sale's lanes: this file gets a Redis of its own
usePrivateRedis();

describe('worker redelivery', () => {
  test('SIGKILL mid-batch, another worker takes over: every payment posted exactly once', async ({
    app,
    raw,
    dataDir,
    worker,
  }) => {
    const saleId = await createSale(app, { stock: 60, perUserLimit: 1, price: 100 });
    const buyers = await Promise.all(Array.from({ length: 60 }, () => buyer()));
    const orders = await parallel(60, 20, (i) => placeOrder(app, saleId, buyers[i]!.jwt));
    const payments = await parallel(
      60,
      20,
      async (i) => (await pay(app, orders[i]!.orderId, buyers[i]!.jwt, orders[i]!.paymentToken)).body,
    );
    {
      // wallets funded in the ledger the workers will open (PGlite, one process at a time)
      const ledger = await Ledger.open(await pgliteSql(join(dataDir, 'ledger')));
      for (const b of buyers) await ledger.credit({ userId: b.userId, currency: 'CNY', amount: 100, reference: 'r' });
      await ledger.close();
    }

    const first = worker({ RUSHGATE_TEST_CRASH_AFTER_POST: '1' });
    expect(await first.exited, first.output()).toBe('SIGKILL');

    {
      // the killed worker had committed its first batch (20) to the ledger, and settled none
      const ledger = await Ledger.open(await pgliteSql(join(dataDir, 'ledger')));
      let posted = 0;
      for (const o of orders) posted += await ledger.retainedCharges(o.orderId);
      await ledger.close();
      expect(posted).toBe(20);
      const statuses = await Promise.all(
        payments.map(
          async (p, i) =>
            (await call(app, 'GET', `/v1/payments/${p.paymentId}`, { token: buyers[i]!.jwt })).body.status,
        ),
      );
      expect(statuses.filter((s) => s === 'succeeded')).toHaveLength(0);
    }

    const second = worker({});
    const statuses = async () =>
      Promise.all(
        payments.map(
          async (p, i) =>
            (await call(app, 'GET', `/v1/payments/${p.paymentId}`, { token: buyers[i]!.jwt })).body.status,
        ),
      );
    await waitFor(async () => (await statuses()).every((s) => s === 'succeeded'), {
      what: 'every payment to succeed',
      timeoutMs: 20_000,
      everyMs: 100,
    });
    expect(new Set(await statuses())).toEqual(new Set(['succeeded']));
    second.child.kill('SIGTERM');
    expect(await second.exited, second.output()).toBe(0);

    const ledger = await Ledger.open(await pgliteSql(join(dataDir, 'ledger')));
    try {
      for (const o of orders) expect(await ledger.retainedCharges(o.orderId)).toBe(1);
      for (const b of buyers) expect(await ledger.balances(b.userId)).toEqual({ CNY: 0 });
      expect(await ledger.audit()).toEqual({ unbalancedCurrencies: [], negativeWallets: [], ordersChargedTwice: [] });
    } finally {
      await ledger.close();
    }
    expect(await saleCounters(app, saleId, raw)).toMatchObject({ sold: 60, held: 0, queue: { depth: 0 } });
    expect((await admin(app, 'GET', `/admin/sales/${saleId}`)).body.status).toBe('sold_out');
    // two worker processes start through tsx and PGlite: about 17 s alone, past 30 s on a busy CI box
  }, 90_000);
});
