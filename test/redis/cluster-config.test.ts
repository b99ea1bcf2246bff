/**
 * Cluster mode from configuration. Invariants: REDIS_CLUSTER_NODES is parsed into seeds or stops
 * startup with one line (never half-configured, never both REDIS_URL and it); `npm start`'s entry
 * with REDIS_CLUSTER_NODES and two HTTP children serves orders on a real cluster, with every
 * child on the cluster (no child falls back to an embedded Redis), and stops cleanly.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { parseClusterSeeds, parseConfig } from '../../src/config.js';
import { freePort } from '../../src/runtime/node/dev/embedded-redis.js';
import { ADMIN_TOKEN, buyer, JWT_SECRET } from '../helpers.js';
import { ask, startLocalCluster } from '../redis-cluster.js';

const root = join(import.meta.dirname, '../..');

describe('REDIS_CLUSTER_NODES', () => {
  it('parses host:port seeds and redis(s):// entries; bad lists and both settings at once are refused', () => {
    expect(parseConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7000, 127.0.0.1:7001' }).REDIS_CLUSTER_NODES).toEqual({
      nodes: [
        { host: '127.0.0.1', port: 7000 },
        { host: '127.0.0.1', port: 7001 },
      ],
      tls: false,
    });
    expect(parseClusterSeeds('rediss://app:s%40cret@cache-1:6380,cache-2')).toEqual({
      nodes: [
        { host: 'cache-1', port: 6380 },
        { host: 'cache-2', port: 6379 },
      ],
      username: 'app',
      password: 's@cret',
      tls: true,
    });
    expect(parseConfig({}).REDIS_CLUSTER_NODES).toBeUndefined();
    for (const bad of [',', 'host:99999', 'redis://host:1/2', 'http://host:1', 'a b:1']) {
      expect(() => parseConfig({ REDIS_CLUSTER_NODES: bad }), bad).toThrow(
        /^invalid REDIS_CLUSTER_NODES: must list host:port seeds/,
      );
    }
    expect(() => parseConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7000', REDIS_URL: 'redis://127.0.0.1:6379' })).toThrow(
      /not both/,
    );
  });

  it('npm start with REDIS_CLUSTER_NODES and 2 processes serves orders from the cluster, ready, and stops cleanly', async () => {
    const cluster = await startLocalCluster({ masters: 3 });
    const dataDir = mkdtempSync(join(tmpdir(), 'rushgate-cluster-start-'));
    onTestFinished(async () => {
      await cluster.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });
    const port = await freePort();
    const primary = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/runtime/node/gateway.ts')], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        PORT: String(port),
        REDIS_CLUSTER_NODES: cluster.seeds,
        RUSHGATE_PROCESSES: '2',
        RUSHGATE_DATA_DIR: dataDir,
        RUSHGATE_ADMIN_TOKEN: ADMIN_TOKEN,
        RUSHGATE_JWT_SECRET: JWT_SECRET,
        RUSHGATE_LOG_LEVEL: 'warn',
      },
    });
    let out = '';
    primary.stdout.on('data', (d) => (out += d));
    primary.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => primary.once('exit', (code) => resolve(code)));
    try {
      const base = `http://127.0.0.1:${port}`;
      await expect.poll(() => out, { timeout: 90_000, interval: 100 }).toMatch(/rushgate listening/);
      expect(out).toMatch(/redis: Redis Cluster \(seeds 127\.0\.0\.1:\d+, /);
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(200);
      const put = await fetch(`${base}/admin/sales/tier-a`, {
        method: 'PUT',
        headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ stock: 40, price: 100, currency: 'CNY' }),
      });
      expect(put.status).toBe(201);
      // both children take orders (new connections alternate between them); 40 orders for 40 units
      const orders = await Promise.all(
        Array.from({ length: 40 }, async () => {
          const b = await buyer();
          const res = await fetch(`${base}/v1/sales/tier-a/orders`, {
            method: 'POST',
            headers: { Authorization: `Bearer ${b.jwt}`, 'Content-Type': 'application/json', Connection: 'close' },
            body: '{}',
          });
          return res.status;
        }),
      );
      expect(orders.filter((s) => s === 201)).toHaveLength(40);
      // the sale lives on the cluster node serving its slot
      const held = await Promise.all(
        cluster.nodes.map((n) => ask(n.port, async (c) => c.hget('rg:{s:tier-a}:sale', 'held').catch(() => null))),
      );
      expect(held.filter((h) => h !== null)).toEqual(['40']);
    } finally {
      primary.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
    // no process of its own left behind (it embedded no redis-server)
    expect(spawnSync('ps', ['-o', 'pid=', '--ppid', String(primary.pid)], { encoding: 'utf8' }).stdout.trim()).toBe('');
  }, 150_000);
});
