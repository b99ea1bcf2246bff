/**
 * npx tsx loadtest/bench/concert.ts — a concert of TIERS price tiers (one sale per tier) on one
 * Redis and on a 3-master Redis Cluster, in the same sitting. For each topology it starts the
 * gateway (`src/runtime/node/gateway.ts`, worker off: order admission only) on free loopback ports,
 * creates the tiers, drives orders with wrk (wrk/concert.lua, round robin over the tiers) for
 * DURATION, and reports orders/s, Redis CPU per node (INFO cpu before and after), the Redis CPU
 * per order, and the single-slot ceiling that implies for one sale (one slot is one Redis core):
 * from 1 s / Redis CPU per order at this load (syscalls included, which pipelining shrinks under
 * heavier load) up to 1 s / the scripts' own run time per order (INFO commandstats).
 *
 *   DURATION=10s CONNS=32 THREADS=1 TIERS=4 npx tsx loadtest/bench/concert.ts
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { freePort, startEmbeddedRedis } from '../../src/runtime/node/dev/embedded-redis.js';
import { startLocalCluster } from '../../test/redis-cluster.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const DURATION = process.env.DURATION ?? '10s';
const CONNS = process.env.CONNS ?? '32';
const THREADS = process.env.THREADS ?? '1';
const TIERS = Number(process.env.TIERS ?? 4);
const BUYERS = Number(process.env.BUYERS ?? 20_000);
const ADMIN = 'concert-bench-admin-token-0123456789';
const JWT_SECRET = 'concert-bench-jwt-secret-0123456789abcdef';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const work = mkdtempSync(join(tmpdir(), 'rushgate-concert-'));
const jwtFile = join(work, 'jwts.txt');
const minted = spawnSync(process.execPath, [join(HERE, 'mint-jwts.mjs'), JWT_SECRET, String(BUYERS)], {
  cwd: ROOT,
  encoding: 'utf8',
  maxBuffer: 1 << 28,
});
if (minted.status !== 0) throw new Error(`mint-jwts: ${minted.stderr}`);
writeFileSync(jwtFile, minted.stdout);

/** EVALSHA calls and µs per call (the scripts' own run time) summed over the nodes, since the last reset. */
async function scriptTime(ports: number[], reset: boolean): Promise<{ calls: number; usec: number }> {
  let calls = 0;
  let usec = 0;
  for (const port of ports) {
    const c = new Redis(port, '127.0.0.1');
    try {
      if (reset) await c.config('RESETSTAT');
      const m = /^cmdstat_evalsha:calls=(\d+),usec=(\d+)/m.exec(await c.info('commandstats'));
      calls += Number(m?.[1] ?? 0);
      usec += Number(m?.[2] ?? 0);
    } finally {
      c.disconnect();
    }
  }
  return { calls, usec };
}

/** used_cpu_sys + used_cpu_user of each node, in seconds. */
async function cpu(ports: number[]): Promise<number[]> {
  return Promise.all(
    ports.map(async (port) => {
      const c = new Redis(port, '127.0.0.1');
      try {
        const info = await c.info('cpu');
        const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
        return field('used_cpu_sys') + field('used_cpu_user');
      } finally {
        c.disconnect();
      }
    }),
  );
}

async function run(name: string, env: Record<string, string>, ports: number[]): Promise<string> {
  const port = await freePort();
  const dataDir = join(work, name.replace(/\W+/g, '-'));
  mkdirSync(dataDir, { recursive: true });
  const gateway = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/runtime/node/gateway.ts')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      PORT: String(port),
      RUSHGATE_DATA_DIR: dataDir,
      RUSHGATE_LOG_LEVEL: 'warn',
      RUSHGATE_WORKER: 'off',
      RUSHGATE_ADMIN_TOKEN: ADMIN,
      RUSHGATE_JWT_SECRET: JWT_SECRET,
      RUSHGATE_TOKEN_SECRET: 't'.repeat(40),
      RUSHGATE_CHANNEL_SECRET: 'c'.repeat(40),
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  const adminCall = async (path: string, body: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (res.status >= 300) throw new Error(`PUT ${path}: ${res.status} ${await res.text()}`);
  };
  try {
    for (let i = 0; ; i++) {
      if (
        (await fetch(`${base}/readyz`).then(
          (r) => r.status,
          () => 0,
        )) === 200
      )
        break;
      if (i > 600) throw new Error(`${name}: the gateway did not become ready`);
      await sleep(100);
    }
    await adminCall('/admin/limits', {
      policies: {
        orders: { perUser: { limit: 1_000_000, windowSeconds: 1 } },
        payments: { perUser: { limit: 1_000_000, windowSeconds: 1 } },
      },
    });
    for (let t = 1; t <= TIERS; t++)
      await adminCall(`/admin/sales/tier-${t}`, {
        stock: 100_000_000,
        price: 1000 * t,
        currency: 'CNY',
        perUserLimit: 1000,
      });
    // the limits reach the gateway within 1 s; a short warm-up
    await sleep(1500);
    spawnSync('wrk', ['-t', THREADS, '-c', CONNS, '-d', '2s', '-s', join(HERE, 'wrk/concert.lua'), base], {
      env: { ...process.env, JWT_FILE: jwtFile, TIERS: String(TIERS) },
    });
    await scriptTime(ports, true);
    const before = await cpu(ports);
    const out = spawnSync(
      'wrk',
      ['-t', THREADS, '-c', CONNS, '-d', DURATION, '-s', join(HERE, 'wrk/concert.lua'), base],
      {
        env: { ...process.env, JWT_FILE: jwtFile, TIERS: String(TIERS) },
        encoding: 'utf8',
      },
    );
    const after = await cpu(ports);
    const scripts = await scriptTime(ports, false);
    const result = /RESULT rps=([\d.]+) .*codes=(\S+)/.exec(out.stdout);
    if (!result) throw new Error(`${name}: no RESULT from wrk: ${out.stdout}${out.stderr}`);
    const seconds = Number(/(\d+)s$/.exec(DURATION)?.[1] ?? 10);
    const orders = Number(/201:(\d+)/.exec(result[2]!)?.[1] ?? 0);
    const perNode = after.map((a, i) => a - before[i]!);
    const redisCpu = perNode.reduce((a, b) => a + b, 0);
    const usPerOrder = orders > 0 ? (redisCpu * 1e6) / orders : NaN;
    const scriptUs = scripts.usec / Math.max(1, orders);
    return `| ${name} | ${(orders / seconds).toFixed(0)} | ${result[2]} | ${perNode.map((s) => `${((s / seconds) * 100).toFixed(1)}%`).join(' / ')} | ${usPerOrder.toFixed(1)} µs | ${scriptUs.toFixed(1)} µs | ${Math.min(1e6 / usPerOrder, 1e6 / scriptUs).toFixed(0)}–${Math.max(1e6 / usPerOrder, 1e6 / scriptUs).toFixed(0)}/s |`;
  } finally {
    if (gateway.exitCode === null && gateway.signalCode === null) {
      gateway.kill('SIGTERM');
      await new Promise((r) => gateway.once('exit', r));
    }
  }
}

const single = await startEmbeddedRedis();
const cluster = await startLocalCluster({ masters: 3 });
try {
  const rows = [
    "| topology | orders/s | answers | Redis CPU per node (% of a core) | Redis CPU per order | scripts' own time per order | one slot's ceiling |",
    '|---|---|---|---|---|---|---|',
    await run('one Redis', { REDIS_URL: single.url }, [Number(new URL(single.url).port)]),
    await run(
      '3-master cluster',
      { REDIS_CLUSTER_NODES: cluster.seeds },
      cluster.nodes.map((n) => n.port),
    ),
  ];
  process.stdout.write(`${TIERS} tiers, wrk -t${THREADS} -c${CONNS} -d${DURATION}\n${rows.join('\n')}\n`);
} finally {
  await single.stop();
  await cluster.stop();
  rmSync(work, { recursive: true, force: true });
}
