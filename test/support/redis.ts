import { Cluster, Redis } from 'ioredis';
import { inject } from 'vitest';
import { parseClusterSeeds } from '../../src/config.js';
import { startEmbeddedRedis } from '../../src/runtime/node/dev/embedded-redis.js';
import { gatewayRedisOptions } from '../../src/runtime/node/adapters/ioredis-port.js';
import { clusterOptions } from '../../src/runtime/node/adapters/redis-client.js';
import { startLocalCluster } from '../redis-cluster.js';

/** This run's topology: one Redis, or a Redis Cluster (the vitest `cluster` project). */
export const onCluster = () => inject('topology') === 'cluster';

/**
 * Clusters by the URL of their first node, which is what the rest of the support passes around
 * as "the Redis" (a URL): a client opened on such a URL is a cluster client on all its seeds.
 */
const clusters = new Map<string, string>();
const firstNodeUrl = (seeds: string) => `redis://${seeds.split(',')[0]}`;

function seedsOf(url: string): string | undefined {
  if (!onCluster()) return undefined;
  const run = inject('clusterSeeds');
  if (run && !clusters.has(firstNodeUrl(run))) clusters.set(firstNodeUrl(run), run);
  return clusters.get(url);
}

/** The run's Redis (a file with a Redis of its own gets it from the fixtures: usePrivateRedis). */
export const redisUrl = () => inject('redisUrl');

/** The environment that points a child process (the worker, the gateway) at `url` (default the file's Redis). */
export function redisEnv(url = redisUrl()): Record<string, string> {
  const seeds = seedsOf(url);
  return seeds ? { REDIS_CLUSTER_NODES: seeds } : { REDIS_URL: url };
}

/**
 * A redis-server of one's own on a free loopback port, or on the cluster topology a Redis
 * Cluster of one's own (3 masters); `url` names it either way.
 */
export async function startPrivateRedis(): Promise<{ url: string; stop: () => Promise<void> }> {
  if (onCluster()) {
    const cluster = await startLocalCluster({ masters: 3 });
    const url = firstNodeUrl(cluster.seeds);
    clusters.set(url, cluster.seeds);
    return { url, stop: () => cluster.stop() };
  }
  const server = await startEmbeddedRedis();
  return { url: server.url, stop: () => server.stop() };
}

/**
 * A client on the Redis at `url`: a cluster client when `url` names a test cluster. Typed as the
 * one-node client: the cluster client takes the same keyed commands, which is all tests send (a
 * scan goes through scanKeys). `gateway`: the gateway's own settings (timeouts, no offline queue),
 * not yet connected (see connected()).
 */
export function openRedis(url: string, options: { gateway?: boolean } = {}): Redis {
  const seeds = seedsOf(url);
  if (seeds !== undefined) {
    const parsed = parseClusterSeeds(seeds)!;
    return new Cluster(parsed.nodes, options.gateway ? clusterOptions(parsed, 2000) : {}) as unknown as Redis;
  }
  return new Redis(url, options.gateway ? { ...gatewayRedisOptions(2000), lazyConnect: true } : {});
}

/** Waits until the client is ready (connecting a lazy one). */
export async function connected(client: Redis): Promise<Redis> {
  if (client.status === 'ready') return client;
  if (client.status === 'wait') {
    await client.connect();
    return client;
  }
  await new Promise<void>((ok, ko) => {
    client.once('ready', ok);
    client.once('end', () => ko(new Error('the test Redis closed the connection')));
  });
  return client;
}

/**
 * Closes a client after a file's tests. A QUIT that the closing socket cuts off (the file's
 * private redis-server already stopping, a reply lost as the connection ends) rejects with
 * "Connection is closed.": the client is closed all the same, so that is not a failure of the file.
 */
export async function closeClient(client: Redis): Promise<void> {
  await client.quit().catch((err: unknown) => {
    if (!(err instanceof Error && err.message === 'Connection is closed.')) throw err;
    client.disconnect();
  });
}

/** Keys matching `pattern`, on one Redis or on every master of the cluster. */
export async function* scanKeys(client: Redis, pattern: string): AsyncGenerator<string[]> {
  // a cluster client knows its masters once its slot map is read
  await connected(client);
  const nodes = client instanceof Cluster ? (client as Cluster).nodes('master') : [client];
  for (const node of nodes)
    for await (const found of node.scanStream({ match: pattern, count: 1000 })) yield found as string[];
}
