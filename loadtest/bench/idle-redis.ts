/**
 * npx tsx loadtest/bench/idle-redis.ts — what an idle gateway costs Redis. Starts a private
 * redis-server and the gateway (`src/runtime/node/gateway.ts`, payment worker and hold sweeper
 * inside) on free loopback ports, creates SALES finished sales (closed in 2020, nothing held),
 * waits SETTLE_S seconds, then counts Redis commands over WINDOW_S seconds (INFO commandstats
 * after CONFIG RESETSTAT) and prints commands/s, the top commands, and one Markdown row.
 *
 *   SALES=3 npx tsx loadtest/bench/idle-redis.ts
 *   SALES=1000 WINDOW_S=10 npx tsx loadtest/bench/idle-redis.ts
 *   OPEN=1 SALES=3 npx tsx loadtest/bench/idle-redis.ts     open sales nobody buys from
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { freePort, startEmbeddedRedis } from '../../src/runtime/node/dev/embedded-redis.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SALES = Number(process.env.SALES ?? 3);
/** OPEN=1: the sales are open (no orders), not finished: they stay in the worker's walk. */
const OPEN = process.env.OPEN === '1';
const SETTLE_S = Number(process.env.SETTLE_S ?? 8);
const WINDOW_S = Number(process.env.WINDOW_S ?? 10);
const ADMIN = 'idle-bench-admin-token-0123456789';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const redis = await startEmbeddedRedis();
const dataDir = mkdtempSync(join(tmpdir(), 'rushgate-idle-'));
const port = await freePort();
const gateway = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/runtime/node/gateway.ts')], {
  cwd: ROOT,
  env: {
    PATH: process.env.PATH ?? '',
    PORT: String(port),
    REDIS_URL: redis.url,
    RUSHGATE_DATA_DIR: dataDir,
    RUSHGATE_LOG_LEVEL: 'warn',
    RUSHGATE_ADMIN_TOKEN: ADMIN,
    RUSHGATE_JWT_SECRET: 'j'.repeat(40),
    RUSHGATE_TOKEN_SECRET: 't'.repeat(40),
    RUSHGATE_CHANNEL_SECRET: 'c'.repeat(40),
  },
  stdio: ['ignore', 'ignore', 'inherit'],
});
const base = `http://127.0.0.1:${port}`;
const client = new Redis(redis.url);
try {
  for (let i = 0; ; i++) {
    if (
      (await fetch(`${base}/readyz`).then(
        (r) => r.status,
        () => 0,
      )) === 200
    )
      break;
    if (i > 600) throw new Error('the gateway did not become ready');
    await sleep(100);
  }
  for (let i = 0; i < SALES; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, SALES - i) }, (_, j) =>
        fetch(`${base}/admin/sales/idle-${i + j}`, {
          method: 'PUT',
          headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({
            stock: 10,
            price: 100,
            currency: 'CNY',
            ...(OPEN ? {} : { opensAt: '2020-01-01T00:00:00Z', closesAt: '2020-01-02T00:00:00Z' }),
          }),
        }).then((r) => {
          if (r.status !== 201) throw new Error(`PUT sale: ${r.status}`);
        }),
      ),
    );
  }
  await sleep(SETTLE_S * 1000);
  await client.config('RESETSTAT');
  await sleep(WINDOW_S * 1000);
  const stats = await client.info('commandstats');
  const rows = [...stats.matchAll(/^cmdstat_(\S+):calls=(\d+)/gm)].map(
    ([, name, calls]) => [name!, Number(calls)] as const,
  );
  // the bench's own INFO is not the gateway's
  const total = rows.filter(([n]) => n !== 'info').reduce((a, [, c]) => a + c, 0);
  const top = rows
    .filter(([n]) => n !== 'info')
    .sort((a, b) => b[1] - a[1])
    .slice(0, 6)
    .map(([n, c]) => `${n} ${(c / WINDOW_S).toFixed(1)}/s`)
    .join(', ');
  process.stdout.write(
    `| ${SALES} ${OPEN ? 'open (idle)' : 'finished'} sales | ${(total / WINDOW_S).toFixed(1)} commands/s | ${top} |\n`,
  );
} finally {
  client.disconnect();
  gateway.kill('SIGTERM');
  await new Promise((r) => gateway.once('exit', r));
  await redis.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
