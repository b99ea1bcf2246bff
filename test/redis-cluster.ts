/**
 * A private Redis Cluster for tests: `redis-server --cluster-enabled yes` on free loopback ports,
 * joined with `redis-cli --cluster create`, nothing persisted. Used by the global setup (the
 * cluster topology's shared cluster), by startPrivateRedis() (usePrivateRedis) in that topology,
 * and by the failover test.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../src/runtime/node/dev/embedded-redis.js';

export interface ClusterNode {
  port: number;
  child: ChildProcess;
  args: string[];
}

export interface LocalCluster {
  /** Every node, masters first (as created: the first `masters` ports are the masters). */
  readonly nodes: ClusterNode[];
  /** REDIS_CLUSTER_NODES for these nodes. */
  readonly seeds: string;
  /** Starts a stopped node again with its config file: it rejoins the cluster. */
  restart(port: number): void;
  stop(): Promise<void>;
}

const node = (port: number) => `127.0.0.1:${port}`;

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Asks one node a question on a short-lived connection. */
export async function ask<T>(port: number, question: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis(port, '127.0.0.1', {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return await question(client);
  } finally {
    client.disconnect();
  }
}

/** True once the node reports `cluster_state:ok` and knows `size` nodes. */
export const clusterOk = (port: number, size: number) =>
  ask(port, async (c) => {
    const info = String(await c.cluster('INFO'));
    return /cluster_state:ok/.test(info) && new RegExp(`cluster_known_nodes:${size}\\b`).test(info);
  });

/**
 * Starts `masters` masters and `replicas` replicas per master, and waits until every node says
 * the cluster is ok. A short node timeout (1 s) makes a failover quick.
 */
export async function startLocalCluster(options: { masters?: number; replicas?: number } = {}): Promise<LocalCluster> {
  const masters = options.masters ?? 3;
  const replicas = options.replicas ?? 0;
  const size = masters * (1 + replicas);
  const dir = mkdtempSync(join(tmpdir(), 'rushgate-cluster-'));
  const nodes: ClusterNode[] = [];
  const stop = async () => {
    await Promise.all(
      nodes.map(
        ({ child }) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < size; i++) {
      const port = await freePort();
      const args = [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
        '--loglevel',
        'warning',
        '--dir',
        dir,
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
        '--cluster-node-timeout',
        '1000',
      ];
      nodes.push({ port, args, child: spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'inherit'] }) });
    }
    await Promise.all(
      nodes.map(({ port }) =>
        until(`node ${port} answers`, () => ask(port, (c) => c.ping()).then((r) => r === 'PONG')),
      ),
    );
    const created = spawnSync(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...nodes.map((n) => node(n.port)),
        '--cluster-replicas',
        String(replicas),
        '--cluster-yes',
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    await Promise.all(nodes.map(({ port }) => until(`node ${port} sees the cluster ok`, () => clusterOk(port, size))));
    if (replicas > 0) {
      // a replica counts once its link to the master is up
      await until('every replica is in sync', async () => {
        const roles = await Promise.all(nodes.map(({ port }) => ask(port, (c) => c.info('replication'))));
        return (
          roles.filter((r) => /role:slave/.test(r) && /master_link_status:up/.test(r)).length === masters * replicas
        );
      });
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const restart = (port: number) => {
    const n = nodes.find((x) => x.port === port)!;
    n.child = spawn('redis-server', n.args, { stdio: ['ignore', 'ignore', 'inherit'] });
  };
  return { nodes, seeds: nodes.map((n) => node(n.port)).join(','), restart, stop };
}
