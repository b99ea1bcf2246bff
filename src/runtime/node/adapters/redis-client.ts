/**
 * Which Redis a Node process talks to, from the configuration: one Redis (REDIS_URL) or a Redis
 * Cluster (REDIS_CLUSTER_NODES, docs/cluster.md). The gateway, its cluster children and the
 * worker all connect through here, with the same fail-fast settings.
 */
import type { ClusterOptions } from 'ioredis';
import type { ClusterSeeds, Config } from '../../../config.js';
import type { Logger } from '../../../logger.js';
import { Cluster, gatewayRedisOptions, Redis, type RedisClient } from './ioredis-port.js';

export type RedisTarget = { kind: 'single'; url: string } | { kind: 'cluster'; seeds: ClusterSeeds; list: string };

/** The Redis the configuration names; undefined when it names none (npm start embeds one). */
export function redisTarget(
  config: Pick<Config, 'REDIS_URL' | 'REDIS_CLUSTER_NODES'>,
  env: Record<string, string | undefined> = process.env,
): RedisTarget | undefined {
  if (config.REDIS_CLUSTER_NODES)
    return { kind: 'cluster', seeds: config.REDIS_CLUSTER_NODES, list: env.REDIS_CLUSTER_NODES ?? '' };
  if (config.REDIS_URL) return { kind: 'single', url: config.REDIS_URL };
  return undefined;
}

/** The environment that points a child process at the same Redis. */
export const targetEnv = (target: RedisTarget): Record<string, string> =>
  target.kind === 'cluster' ? { REDIS_CLUSTER_NODES: target.list } : { REDIS_URL: target.url };

/** How the banner and logs name the target, credentials left out. */
export const describeTarget = (target: RedisTarget): string =>
  target.kind === 'cluster'
    ? `Redis Cluster (seeds ${target.seeds.nodes.map((n) => `${n.host}:${n.port}`).join(', ')}${target.seeds.tls ? ', TLS' : ''})`
    : target.url.replace(/\/\/[^@/]*@/, '//***@');

/**
 * ioredis Cluster settings matching the one-node ones, but for auto-pipelining per node; no offline
 * queue (a request while the cluster is down or re-mapping slots fails fast: 503), one retry.
 * MOVED and ASK are followed by the client (up to 16 redirections, refreshing its slot map);
 * CLUSTERDOWN and TRYAGAIN are retried after 100 ms, then surface as unavailable. A MOVED that
 * reaches an auto-pipelined command while slots move (ioredis issue 2075) was not applied, and
 * is answered 503 like any other unavailability: the client's retry is safe.
 */
export function clusterOptions(seeds: ClusterSeeds, timeoutMs: number, offlineQueue = false): ClusterOptions {
  const { maxRetriesPerRequest, commandTimeout, connectTimeout } = gatewayRedisOptions(timeoutMs);
  return {
    // kept on a cluster (the one-node client has it off): commands to one node share a write
    enableAutoPipelining: true,
    // an auto-pipeline is routed by its first command's first key; XGROUP's key is its second
    // word, so it would go by the slot of "CREATE" and its MOVED reply would not be followed
    autoPipeliningIgnoredCommands: ['xgroup'],
    enableOfflineQueue: offlineQueue,
    enableReadyCheck: true,
    scaleReads: 'master',
    maxRedirections: 16,
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    slotsRefreshTimeout: timeoutMs,
    clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
    redisOptions: {
      maxRetriesPerRequest,
      commandTimeout,
      connectTimeout,
      ...(seeds.username !== undefined ? { username: seeds.username } : {}),
      ...(seeds.password !== undefined ? { password: seeds.password } : {}),
      ...(seeds.tls ? { tls: {} } : {}),
    },
  };
}

/**
 * A client for the target, not yet waited for. `offlineQueue` (the worker) queues commands while
 * reconnecting instead of failing them: it has no caller waiting on an answer.
 */
export function openRedis(target: RedisTarget, timeoutMs: number, offlineQueue = false): RedisClient {
  if (target.kind === 'cluster')
    return new Cluster(target.seeds.nodes, clusterOptions(target.seeds, timeoutMs, offlineQueue));
  return new Redis(target.url, { ...gatewayRedisOptions(timeoutMs), enableOfflineQueue: offlineQueue });
}

/** Connects and waits until Redis (every slot, on a cluster) answers; errors logged at most every 5 s. */
export async function connectRedis(
  target: RedisTarget,
  timeoutMs: number,
  log: Logger,
  offlineQueue = false,
): Promise<RedisClient> {
  const client = openRedis(target, timeoutMs, offlineQueue);
  let lastErrorMs = 0;
  client.on('error', (err: Error) => {
    if (Date.now() - lastErrorMs > 5_000) log.warn({ err: err.message }, 'redis connection error');
    lastErrorMs = Date.now();
  });
  await new Promise<void>((ok, ko) => {
    const timer = setTimeout(() => {
      client.disconnect();
      ko(new Error(`cannot reach ${target.kind === 'single' ? 'Redis at ' : ''}${describeTarget(target)}`));
    }, 5_000);
    client.once('ready', () => {
      clearTimeout(timer);
      ok();
    });
  });
  return client;
}
