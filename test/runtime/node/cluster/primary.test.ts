/**
 * Multi-process mode as a real process: `node src/runtime/node/gateway.ts` through tsx with
 * RUSHGATE_PROCESSES=2 (npm start runs the same file compiled), on its own embedded Redis and
 * PGlite ledger. The children's pids come from `ps`, and from the `pid` label of
 * rushgate_cluster_requests_total in /metrics.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../../src/config.js';
import { restartDelayMs } from '../../../../src/runtime/node/cluster/primary.js';
import { freePort } from '../../../../src/runtime/node/dev/embedded-redis.js';
import { ADMIN_TOKEN, buyer, JWT_SECRET } from '../../../helpers.js';

const root = join(import.meta.dirname, '../../../..');
const entry = join(root, 'src/runtime/node/gateway.ts');
const dataDir = mkdtempSync(join(tmpdir(), 'rushgate-cluster-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

let primary: ChildProcess;
let base = '';
let out = '';

/** The processes `pid` started: the gateway children and the embedded redis-server. */
function childrenOf(pid: number): { pid: number; command: string }[] {
  const ps = spawnSync('ps', ['-o', 'pid=,comm=', '--ppid', String(pid)], { encoding: 'utf8' });
  return ps.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [p, command] = line.trim().split(/\s+/);
      return { pid: Number(p), command: command ?? '' };
    });
}
// the gateways are node; besides them and redis-server, tsx (which runs the entry file here) may
// have its esbuild service running
const gatewayPids = () =>
  childrenOf(primary.pid!)
    .filter((c) => c.command === 'node')
    .map((c) => c.pid)
    .sort();
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function api(method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** A GET on a connection of its own, so no pooled connection to a dead child is reused. */
function freshGet(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get(`${base}${path}`, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', reject);
  });
}

/** The value of one series in /metrics; the whole text when `series` is omitted. */
const metrics = async () => (await fetch(`${base}/metrics`)).text();
const seriesValue = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};
const servingPids = (text: string) =>
  [...text.matchAll(/^rushgate_cluster_requests_total\{pid="(\d+)"\} (\d+)/gm)].map((m) => ({
    pid: Number(m[1]),
    served: Number(m[2]),
  }));

beforeAll(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  primary = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      PORT: String(port),
      RUSHGATE_PROCESSES: '2',
      RUSHGATE_DATA_DIR: dataDir,
      RUSHGATE_LOG_LEVEL: 'warn',
      // the test mints buyer JWTs; the token and channel secrets are generated and handed to the children
      RUSHGATE_JWT_SECRET: JWT_SECRET,
      RUSHGATE_ADMIN_TOKEN: ADMIN_TOKEN,
    },
  });
  primary.stdout!.on('data', (d) => (out += d));
  primary.stderr!.on('data', (d) => (out += d));
  for (let i = 0; i < 600 && !out.includes('try:') && primary.exitCode === null; i++) await sleep(50);
  expect(out).toContain(`rushgate listening on ${base}`);
}, 40_000);

afterAll(() => {
  // only if a test failed before the SIGTERM one: leave nothing running
  if (primary.exitCode === null) {
    for (const c of childrenOf(primary.pid!)) process.kill(c.pid, 'SIGKILL');
    primary.kill('SIGKILL');
  }
});

describe('npm start with RUSHGATE_PROCESSES=2', () => {
  it('prints one banner naming the processes; two children serve, the primary holds the ledger', async () => {
    expect(out.match(/rushgate listening on/g)).toHaveLength(1);
    expect(out).toContain(`processes: 2 serving HTTP (RUSHGATE_PROCESSES), plus the primary (pid ${primary.pid})`);
    expect(out).toContain('payment worker: in the primary process');
    expect(childrenOf(primary.pid!).map((c) => c.command)).toContain('redis-server');
    expect(gatewayPids()).toHaveLength(2);
    // readiness in a child pings the ledger in the primary
    expect(await (await fetch(`${base}/readyz`)).json()).toEqual({
      status: 'ready',
      checks: { redis: 'ok', ledger: 'ok' },
    });
  });

  it('credits, orders and pays with the wallet through the children; the worker in the primary settles it', async () => {
    const b = await buyer();
    expect(
      (await api('PUT', '/admin/sales/cluster-pay', ADMIN_TOKEN, { stock: 10, price: 38000, currency: 'CNY' })).status,
    ).toBe(201);
    const credit = { amount: 100000, currency: 'CNY', reference: 'topup-1' };
    expect((await api('POST', `/admin/wallets/${b.userId}/credits`, ADMIN_TOKEN, credit)).status).toBe(201);
    // a ledger error crosses IPC with its class: the same 422 as in one process
    const reused = await api('POST', `/admin/wallets/${b.userId}/credits`, ADMIN_TOKEN, { ...credit, amount: 1 });
    expect([reused.status, reused.body.code]).toEqual([422, 'idempotency_key_reused']);
    const order = await api('POST', '/v1/sales/cluster-pay/orders', b.jwt, { quantity: 1 });
    expect(order.status).toBe(201);
    const payment = await api('POST', `/v1/orders/${order.body.orderId}/payments`, b.jwt, {
      paymentToken: order.body.paymentToken,
      method: 'wallet',
    });
    expect(payment.status).toBe(202);
    let status = '';
    for (let i = 0; i < 100 && status !== 'succeeded'; i++) {
      await sleep(100);
      status = (await api('GET', `/v1/payments/${payment.body.paymentId}`, b.jwt)).body.status;
    }
    expect(status).toBe('succeeded');
    expect((await api('GET', '/v1/wallet', b.jwt)).body).toEqual({
      userId: b.userId,
      balances: { CNY: 100000 - 38000 },
    });
  });

  it('never oversells across processes: 400 buyers race for 100 units, exactly 100 are held', async () => {
    expect(
      (await api('PUT', '/admin/sales/cluster-crowd', ADMIN_TOKEN, { stock: 100, price: 100, currency: 'CNY' })).status,
    ).toBe(201);
    const buyers = await Promise.all(Array.from({ length: 400 }, () => buyer()));
    const before = servingPids(await metrics());
    const results = await Promise.all(
      buyers.map((b) => api('POST', '/v1/sales/cluster-crowd/orders', b.jwt, { quantity: 1 })),
    );
    const statuses = results.map((r) => (r.status === 201 ? 'created' : r.body.code));
    expect(statuses.filter((s) => s === 'created')).toHaveLength(100);
    expect(statuses.filter((s) => s === 'sold_out')).toHaveLength(300);
    const sale = await api('GET', '/admin/sales/cluster-crowd', ADMIN_TOKEN);
    expect(sale.body).toMatchObject({ stock: 100, available: 0, held: 100, sold: 0 });

    // both children took part, and /metrics (answered by either) sums every process
    const text = await metrics();
    const after = servingPids(text);
    expect(after.map((p) => p.pid).sort()).toEqual(gatewayPids());
    for (const { pid, served } of after)
      expect(served - (before.find((p) => p.pid === pid)?.served ?? 0)).toBeGreaterThan(0);
    expect(seriesValue(text, 'rushgate_decisions_total{action="order",reason="admitted"}')).toBe(101);
    expect(seriesValue(text, 'rushgate_decisions_total{action="order",reason="sold_out"}')).toBe(300);
    // the payment worker runs in the primary: its outcome is in the sum
    expect(seriesValue(text, 'rushgate_payment_outcomes_total{outcome="succeeded"}')).toBe(1);
    // read from Redis by the answering child, not summed over processes
    expect(seriesValue(text, 'rushgate_sale_units{sale="cluster-crowd",state="held"}')).toBe(100);
    expect(seriesValue(await metrics(), 'rushgate_decisions_total{action="order",reason="admitted"}')).toBe(101);

    // the ops view's tally: every child adds its counts to the sale's hash within a second
    const opsTally = async (saleId: string) =>
      (await api('GET', '/admin/ops', ADMIN_TOKEN)).body.sales.find((s: { saleId: string }) => s.saleId === saleId)
        ?.tally;
    let crowd: unknown;
    for (let i = 0; i < 50; i++) {
      crowd = await opsTally('cluster-crowd');
      if (JSON.stringify(crowd) === JSON.stringify({ order: { admitted: 100, sold_out: 300 } })) break;
      await sleep(100);
    }
    expect(crowd).toEqual({ order: { admitted: 100, sold_out: 300 } });
    // and the primary's worker adds the outcome of the payment settled earlier
    expect(await opsTally('cluster-pay')).toEqual({
      order: { admitted: 1 },
      payment: { admitted: 1 },
      outcome: { succeeded: 1 },
    });
  });

  it('replaces a child that dies, and keeps answering meanwhile', async () => {
    const [victim, survivor] = gatewayPids() as [number, number];
    process.kill(victim, 'SIGKILL');
    await sleep(200);
    const statuses = await Promise.all(Array.from({ length: 20 }, () => freshGet('/healthz')));
    expect(statuses).toEqual(Array(20).fill(200));
    let pids: number[] = [];
    for (let i = 0; i < 200 && pids.length !== 2; i++) {
      await sleep(50);
      pids = gatewayPids().filter((p) => p !== victim);
    }
    expect(pids).toContain(survivor);
    expect(pids).toHaveLength(2);
    const replacement = pids.find((p) => p !== survivor)!;
    // the replacement listens and serves: /metrics shows it once it has answered a request
    let served: number[] = [];
    for (let i = 0; i < 100 && !served.includes(replacement); i++) {
      await freshGet('/healthz');
      served = servingPids(await metrics()).map((p) => p.pid);
      if (!served.includes(replacement)) await sleep(100);
    }
    expect(served.sort()).toEqual([replacement, survivor].sort());
    expect(await freshGet('/readyz')).toBe(200);
  }, 30_000);

  it('stops on SIGTERM with exit 0, leaving no child process behind', async () => {
    const children = childrenOf(primary.pid!).filter((c) => c.command !== 'esbuild');
    expect(children).toHaveLength(3); // two gateways and the embedded redis-server
    const exited = new Promise<number | null>((resolve) => primary.once('exit', resolve));
    primary.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(children.filter((c) => alive(c.pid))).toEqual([]);
  }, 20_000);
});

describe('replacing children', () => {
  it('waits 0.1 s, doubling with each short-lived child in a row, at most 10 s', () => {
    expect([1, 2, 3, 4, 7, 8, 50].map(restartDelayMs)).toEqual([100, 200, 400, 800, 6400, 10_000, 10_000]);
  });
});

describe('RUSHGATE_PROCESSES', () => {
  it('is 1 by default, an integer 1..64, or auto', () => {
    expect(parseConfig({}).RUSHGATE_PROCESSES).toBe(1);
    expect(parseConfig({ RUSHGATE_PROCESSES: '64' }).RUSHGATE_PROCESSES).toBe(64);
    expect(parseConfig({ RUSHGATE_PROCESSES: 'auto' }).RUSHGATE_PROCESSES).toBe('auto');
    for (const bad of ['0', '65', '1.5', 'many', 'AUTO', '-2']) {
      expect(() => parseConfig({ RUSHGATE_PROCESSES: bad })).toThrow(
        'invalid RUSHGATE_PROCESSES: must be auto or an integer from 1 to 64',
      );
    }
  });

  it('stops startup with one clear line on a bad value', () => {
    const res = spawnSync(process.execPath, ['--import', 'tsx', entry], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', RUSHGATE_PROCESSES: 'many', RUSHGATE_DATA_DIR: dataDir },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(res.status).toBe(1);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toMatch(/^rushgate: invalid RUSHGATE_PROCESSES: must be auto or an integer from 1 to 64/);
  });
});
