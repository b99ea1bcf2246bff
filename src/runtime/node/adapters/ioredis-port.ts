import { Cluster, Redis, ReplyError, type RedisOptions } from 'ioredis';
import type { Config } from '../../../config.js';
import { RedisUnavailableError, type RedisPort, type StreamEntry } from '../../../redis/port.js';

/**
 * ioredis settings for the gateway: no auto-pipelining (see below), and
 * fail fast instead of queueing while disconnected, so order and payment routes fail closed (503)
 * rather than hang. Commands already sent when a connection drops are resent after reconnecting;
 * every mutating script is idempotent by its request's ids, so a resend cannot apply twice.
 */
export function gatewayRedisOptions(timeoutMs: number): RedisOptions {
  return {
    // each request reaches Redis in its own event-loop turn, so an auto-pipeline carried about one
    // command and cost a Pipeline object per command. Off, in four interleaved on/off pairs of
    // `npm run bench` (docs/benchmarks.md): orders 15% more req/s at 11% less gateway CPU each, the
    // flow 10% more req/s, Redis CPU per request 6-7% lower
    enableAutoPipelining: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: timeoutMs,
    connectTimeout: timeoutMs,
    retryStrategy: (times) => Math.min(50 * times, 1000),
  };
}

// replies that mean "this Redis cannot serve now" (failover, loading, busy script, full memory);
// MOVED and ASK reach here from a one-node client pointed at a Redis Cluster node, or from a
// cluster client past its redirections: the slot is served elsewhere, not a bug of the request
const UNAVAILABLE_REPLY = /^(READONLY|LOADING|BUSY|MASTERDOWN|OOM|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|MOVED|ASK)\b/;

/** A one-node client or a Redis Cluster client (docs/cluster.md). */
export type RedisClient = Redis | Cluster;

async function guard<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    // any other reply error (NOSCRIPT, a script bug) is not an availability problem
    if (err instanceof ReplyError && !UNAVAILABLE_REPLY.test((err as Error).message)) throw err;
    throw new RedisUnavailableError(err instanceof Error ? err.message : String(err), { cause: err });
  }
}

function toEntry([id, flat]: [string, string[]]): StreamEntry {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
  return { id, fields };
}

/** How many replicas must hold a write before it is acknowledged (0: the primary alone). */
export interface ReplicaWait {
  replicas: number;
  timeoutMs: number;
}

/**
 * Sends `call` and, for a write with replicas to wait for, `WAIT replicas timeout` right behind
 * it on the same connection, so durability costs no extra round trip. Fewer
 * replicas than asked is unavailable (503): the script did run on the primary, and the client's
 * retry (same ids, token or Idempotency-Key) is answered from it, never applied twice.
 */
async function withWait(
  client: RedisClient,
  call: Promise<unknown>,
  wait: ReplicaWait | undefined,
  writes: boolean,
): Promise<unknown> {
  if (!wait || wait.replicas === 0 || !writes) return call;
  const [reply, acked] = await Promise.all([call, client.wait(wait.replicas, wait.timeoutMs)]);
  return replicated(reply, acked, wait);
}

const waits = (wait: ReplicaWait | undefined, writes: boolean) => !!wait && wait.replicas > 0 && writes;

function replicated(reply: unknown, acked: number, wait: ReplicaWait): unknown {
  if (acked < wait.replicas) {
    throw new RedisUnavailableError(
      `the write reached ${acked} of ${wait.replicas} replicas within ${wait.timeoutMs} ms`,
    );
  }
  return reply;
}

/**
 * A script on a Redis Cluster, followed by WAIT when it writes and replicas are asked for. WAIT
 * names no key, so on its own it would go to any node: a pipeline sends it on the connection of
 * the script's slot, right behind the script (ioredis routes a pipeline by its keyed commands).
 * Without WAIT a script goes alone, so auto-pipelining still batches concurrent requests.
 *
 * ioredis follows a pipeline's MOVED only when every command of it failed alike, and WAIT does
 * not fail: so a script sent to a node that lost its slots (a failover) comes back MOVED, and
 * nothing refreshes the client's slot map. Every later call for those slots would go to the old
 * node and answer 503 until something else refreshed it. Here a MOVED refreshes the map and the
 * call is sent once more (a MOVED script did not run), so the buyer is answered, not refused.
 */
async function clusterScript(
  client: Cluster,
  run: (p: ReturnType<Cluster['pipeline']>) => unknown,
  wait: ReplicaWait | undefined,
  writes: boolean,
  redirected = false,
): Promise<unknown> {
  const pipeline = client.pipeline();
  run(pipeline);
  if (waits(wait, writes)) pipeline.wait(wait!.replicas, wait!.timeoutMs);
  const results = (await pipeline.exec()) ?? [];
  const [err, reply] = results[0] ?? [new Error('the pipeline returned nothing')];
  if (err && !redirected && err.message.startsWith('MOVED ')) {
    await new Promise<void>((done) => client.refreshSlotsCache(() => done()));
    return clusterScript(client, run, wait, writes, true);
  }
  if (err) throw err;
  if (!waits(wait, writes)) return reply;
  const [waitErr, acked] = results[1]!;
  if (waitErr) throw waitErr;
  return replicated(reply, Number(acked), wait!);
}

/**
 * A cluster's readiness: the node asked reports `cluster_state:ok` with every slot assigned and
 * none failing, and every master in the client's slot map answers. The slots a process needs
 * are any sale's (a sale's slot is its id's hash) and the fixed keys' ({limits}, {block}, the
 * sale index): so all of them.
 */
async function clusterPing(client: Cluster): Promise<string> {
  const info = String(await client.cluster('INFO'));
  const field = (name: string) => new RegExp(`^${name}:(\\S+)`, 'm').exec(info)?.[1];
  if (field('cluster_state') !== 'ok')
    throw new RedisUnavailableError(`cluster_state is ${field('cluster_state') ?? 'unknown'}`);
  if (field('cluster_slots_ok') !== '16384')
    throw new RedisUnavailableError(`${field('cluster_slots_ok') ?? 0} of 16384 slots are served`);
  const masters = client.nodes('master');
  if (masters.length === 0) throw new RedisUnavailableError('no master is known');
  await Promise.all(masters.map((node) => node.ping()));
  return 'PONG';
}

/** The replica wait the configuration asks for (RUSHGATE_REDIS_WAIT_REPLICAS, _WAIT_MS). */
export const replicaWait = (
  config: Pick<Config, 'RUSHGATE_REDIS_WAIT_REPLICAS' | 'RUSHGATE_REDIS_WAIT_MS'>,
): ReplicaWait => ({
  replicas: config.RUSHGATE_REDIS_WAIT_REPLICAS,
  timeoutMs: config.RUSHGATE_REDIS_WAIT_MS,
});

/**
 * The RedisPort over one ioredis client or a Redis Cluster client; with `wait`, writes are
 * acknowledged by replicas.
 */
export function ioredisPort(client: RedisClient, wait?: ReplicaWait): RedisPort {
  const cluster = client instanceof Cluster ? client : undefined;
  return {
    evalsha: (sha, keys, args, writes = true) =>
      guard(() =>
        cluster && waits(wait, writes)
          ? clusterScript(cluster, (p) => p.evalsha(sha, keys.length, ...keys, ...args), wait, writes)
          : withWait(client, client.evalsha(sha, keys.length, ...keys, ...args), wait, writes),
      ),
    eval: (source, keys, args, writes = true) =>
      guard(() =>
        cluster && waits(wait, writes)
          ? clusterScript(cluster, (p) => p.eval(source, keys.length, ...keys, ...args), wait, writes)
          : withWait(client, client.eval(source, keys.length, ...keys, ...args), wait, writes),
      ),
    hgetall: (key) => guard(() => client.hgetall(key)),
    smembers: (key) => guard(() => client.smembers(key)),
    lrange: (key, start, stop) => guard(() => client.lrange(key, start, stop)),
    zrangeByScoreUpTo: (key, maxScore, limit) =>
      guard(() => client.zrangebyscore(key, '-inf', maxScore, 'LIMIT', 0, limit)),
    zrangeWithScoresFrom: (key, minScore) =>
      guard(async () => {
        const flat = await client.zrangebyscore(key, minScore, '+inf', 'WITHSCORES');
        const out: [string, number][] = [];
        for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, Number(flat[i + 1])]);
        return out;
      }),
    xgroupCreate: (stream, group) =>
      guard(async () => {
        try {
          await client.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
          return true;
        } catch (err) {
          if (err instanceof Error && err.message.startsWith('BUSYGROUP')) return false;
          throw err;
        }
      }),
    xreadgroup: (group, consumer, streams, count) =>
      guard(async () => {
        const reply = (await client.xreadgroup(
          'GROUP',
          group,
          consumer,
          'COUNT',
          count,
          'STREAMS',
          ...streams,
          ...streams.map(() => '>'),
        )) as [string, [string, string[]][]][] | null;
        return (reply ?? []).map(([stream, entries]) => ({ stream, entries: entries.map(toEntry) }));
      }),
    xautoclaim: (stream, group, consumer, minIdleMs, count) =>
      guard(async () => {
        const reply = (await client.xautoclaim(stream, group, consumer, minIdleMs, '0-0', 'COUNT', count)) as [
          string,
          [string, string[] | null][],
        ];
        // entries deleted meanwhile come back as nulls
        return reply[1].filter((e): e is [string, string[]] => Array.isArray(e[1])).map(toEntry);
      }),
    xack: (stream, group, ids) =>
      guard(() => (ids.length === 0 ? Promise.resolve(0) : client.xack(stream, group, ...ids))),
    timeMs: () =>
      guard(async () => {
        const [seconds, micros] = await client.time();
        return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      }),
    ping: () => guard(() => (cluster ? clusterPing(cluster) : client.ping())),
  };
}

export { Cluster, Redis };
