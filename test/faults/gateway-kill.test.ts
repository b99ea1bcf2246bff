/**
 * The gateway SIGKILLed mid-sale, with the embedded PGlite ledger (the default) and its
 * in-process worker, while batches are being posted; then started again on the same data
 * directory. Invariants: the ledger opens again; no transfer it committed is lost (every payment
 * seen `succeeded` before the kill keeps its charge); every acknowledged payment ends with exactly
 * one kept charge for its order and each paid order has one; sold <= stock; every wallet holds
 * its credit minus its kept charge.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/runtime/node/dev/embedded-redis.js';
import { ADMIN_TOKEN, buyerJwt, JWT_SECRET, TOKEN_SECRET, unique } from '../helpers.js';
import { test as withFixtures, describe, expect } from '../fixtures.js';
import { killableRedis } from './redis-server.js';

const root = join(import.meta.dirname, '../..');

/**
 * Where the gateway runs: a killable redis-server, a data directory and a port of its own;
 * `startGateway()` starts `npm start`'s entry there (again, after a kill), `http` and `retrying`
 * call it. `stop()` stops the gateway and the Redis, and removes the directory.
 */
async function deployment() {
  const redis = await killableRedis();
  const dataDir = mkdtempSync(join(tmpdir(), 'rushgate-gateway-kill-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let gateway: ChildProcess | undefined;
  const stop = async () => {
    if (gateway && gateway.exitCode === null && gateway.signalCode === null) {
      const gone = new Promise((r) => gateway!.once('exit', r));
      gateway.kill('SIGTERM');
      await gone;
    }
    rmSync(dataDir, { recursive: true, force: true });
    await redis.stop();
  };

  async function startGateway(): Promise<{ child: ChildProcess; output: () => string }> {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/runtime/node/gateway.ts')], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        PORT: String(port),
        REDIS_URL: redis.url,
        RUSHGATE_DATA_DIR: dataDir,
        RUSHGATE_JWT_SECRET: JWT_SECRET,
        RUSHGATE_ADMIN_TOKEN: ADMIN_TOKEN,
        RUSHGATE_TOKEN_SECRET: TOKEN_SECRET,
        RUSHGATE_LOG_LEVEL: 'warn',
        RUSHGATE_WORKER_BATCH: '10',
        RUSHGATE_WORKER_VISIBILITY_MS: '1000',
      },
    });
    gateway = child;
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const deadline = Date.now() + 60_000;
    while (!output.includes('rushgate listening')) {
      if (child.exitCode !== null) throw new Error(`the gateway exited: ${output}`);
      if (Date.now() > deadline) throw new Error(`the gateway did not start: ${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return { child, output: () => output };
  }

  async function http(method: string, path: string, token: string, body?: unknown) {
    try {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    } catch {
      return { status: 0, body: null }; // the gateway is down
    }
  }
  /** Retries a call (same body: it is idempotent) until the gateway answers something other than 503 or nothing. */
  async function retrying(method: string, path: string, token: string, body?: unknown) {
    for (;;) {
      const res = await http(method, path, token, body);
      if (res.status !== 0 && res.status !== 503) return res;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  return { startGateway, http, retrying, stop };
}

const test = withFixtures.extend<{ deployed: Awaited<ReturnType<typeof deployment>> }>({
  deployed: [
    async ({}, use) => {
      const deployed = await deployment();
      await use(deployed);
      await deployed.stop();
    },
    { scope: 'file' },
  ],
});

describe('gateway SIGKILL with the embedded PGlite ledger', () => {
  test('killed mid-batch and restarted: the ledger opens, no committed transfer is lost, every payment charged exactly once', async ({
    deployed: { startGateway, http, retrying },
  }) => {
    let g = await startGateway();
    const saleId = unique('sale');
    expect(
      (
        await http('PUT', `/admin/sales/${saleId}`, ADMIN_TOKEN, {
          stock: 120,
          price: 100,
          currency: 'CNY',
          perUserLimit: 1,
        })
      ).status,
    ).toBe(201);
    const buyers = await Promise.all(
      Array.from({ length: 100 }, async () => {
        const userId = unique('u');
        return { userId, jwt: await buyerJwt(userId) };
      }),
    );
    const credits = await http('POST', '/admin/wallets/credits', ADMIN_TOKEN, {
      credits: buyers.map((b) => ({ userId: b.userId, amount: 100, currency: 'CNY', reference: 'topup' })),
    });
    expect(credits.status).toBe(201);

    const payments = new Map<string, { jwt: string; orderId: string; paymentId?: string }>();
    const seenSucceeded = new Set<string>();
    let killed = false;
    const buy = async (b: (typeof buyers)[number], i: number) => {
      await new Promise((r) => setTimeout(r, i * 15));
      const order = await retrying('POST', `/v1/sales/${saleId}/orders`, b.jwt, { quantity: 1 });
      // a create sent just before the kill may have been applied: Idempotency-Key-free orders are
      // new orders, so a buyer whose first answer was lost might hold a second; perUserLimit 1
      // refuses that, and the test then reads no order for the buyer
      if (order.status !== 201) return;
      const entry = { jwt: b.jwt, orderId: order.body.orderId as string } as {
        jwt: string;
        orderId: string;
        paymentId?: string;
      };
      payments.set(b.userId, entry);
      const paid = await retrying('POST', `/v1/orders/${entry.orderId}/payments`, b.jwt, {
        paymentToken: order.body.paymentToken,
        method: 'wallet',
      });
      expect(paid.status).toBe(202);
      entry.paymentId = paid.body.paymentId;
    };
    const all = Promise.all(buyers.map(buy));
    // kill once some batches are committed and settled, while others are still being posted
    while (!killed) {
      for (const p of payments.values()) {
        if (!p.paymentId || seenSucceeded.has(p.paymentId)) continue;
        const res = await http('GET', `/v1/payments/${p.paymentId}`, p.jwt);
        if (res.body?.status === 'succeeded') seenSucceeded.add(p.paymentId);
      }
      if (seenSucceeded.size >= 20) {
        g.child.kill('SIGKILL');
        killed = true;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => g.child.once('exit', r));
    g = await startGateway(); // the PGlite ledger opens again on the same directory
    await all;

    const acknowledged = [...payments.values()].filter((p) => p.paymentId);
    for (const p of acknowledged) {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const res = await retrying('GET', `/v1/payments/${p.paymentId}`, p.jwt);
        if (res.body.status === 'succeeded') break;
        expect(['queued', 'processing']).toContain(res.body.status);
        if (Date.now() > deadline) throw new Error(`payment ${p.paymentId} is still ${res.body.status}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const charges = (await retrying('GET', `/admin/sales/${saleId}/charges`, ADMIN_TOKEN)).body;
    const kept = Object.entries(charges.keptByOrder as Record<string, number>);
    // every order whose payment was acknowledged: exactly one kept charge, and no other
    expect(
      kept
        .filter(([, n]) => n > 0)
        .map(([o]) => o)
        .sort(),
    ).toEqual(acknowledged.map((p) => p.orderId).sort());
    expect(kept.every(([, n]) => n <= 1)).toBe(true);
    // no committed transfer lost: what was seen succeeded before the kill is still charged
    for (const p of acknowledged.filter((p) => seenSucceeded.has(p.paymentId!)))
      expect(charges.keptByOrder[p.orderId]).toBe(1);
    const sale = (await retrying('GET', `/admin/sales/${saleId}`, ADMIN_TOKEN)).body;
    expect(sale.sold).toBe(acknowledged.length);
    expect(sale.sold).toBeLessThanOrEqual(sale.stock);
    for (const b of buyers) {
      const wallet = (await retrying('GET', '/v1/wallet', b.jwt)).body;
      expect(wallet.balances.CNY).toBe(payments.get(b.userId)?.paymentId ? 0 : 100);
    }
    expect(g.output()).not.toMatch(/"level":(50|60)/); // no error or fatal log after the restart
  });
});
