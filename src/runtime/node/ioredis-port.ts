import { Redis, ReplyError, type RedisOptions } from 'ioredis';
import type { Config } from '../../config.js';
import { RedisUnavailableError, type RedisPort, type StreamEntry } from '../../redis/port.js';

/**
 * ioredis settings for the gateway: auto-pipelining (concurrent requests share one write), and
 * fail fast instead of queueing while disconnected, so order and payment routes fail closed (503)
 * rather than hang. Commands already sent when a connection drops are resent after reconnecting;
 * every mutating script is idempotent by its request's ids, so a resend cannot apply twice.
 */
export function gatewayRedisOptions(timeoutMs: number): RedisOptions {
  return {
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: timeoutMs,
    connectTimeout: timeoutMs,
    retryStrategy: (times) => Math.min(50 * times, 1000),
  };
}

// replies that mean "this Redis cannot serve now" (failover, loading, busy script, full memory)
const UNAVAILABLE_REPLY = /^(READONLY|LOADING|BUSY|MASTERDOWN|OOM|CLUSTERDOWN|TRYAGAIN|NOREPLICAS)/;

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
 * Sends `call` and, for a write with replicas to wait for, `WAIT replicas timeout` in the same
 * tick: auto-pipelining puts both in one write, so durability costs no extra round trip. Fewer
 * replicas than asked is unavailable (503): the script did run on the primary, and the client's
 * retry (same ids, token or Idempotency-Key) is answered from it, never applied twice.
 */
async function withWait(client: Redis, call: Promise<unknown>, wait: ReplicaWait | undefined, writes: boolean): Promise<unknown> {
  if (!wait || wait.replicas === 0 || !writes) return call;
  const [reply, acked] = await Promise.all([call, client.wait(wait.replicas, wait.timeoutMs)]);
  if (acked < wait.replicas) {
    throw new RedisUnavailableError(`the write reached ${acked} of ${wait.replicas} replicas within ${wait.timeoutMs} ms`);
  }
  return reply;
}

/** The replica wait the configuration asks for (RUSHGATE_REDIS_WAIT_REPLICAS, _WAIT_MS). */
export const replicaWait = (config: Pick<Config, 'RUSHGATE_REDIS_WAIT_REPLICAS' | 'RUSHGATE_REDIS_WAIT_MS'>): ReplicaWait => ({
  replicas: config.RUSHGATE_REDIS_WAIT_REPLICAS,
  timeoutMs: config.RUSHGATE_REDIS_WAIT_MS,
});

/** The RedisPort over one ioredis client; with `wait`, writes are acknowledged by replicas. */
export function ioredisPort(client: Redis, wait?: ReplicaWait): RedisPort {
  return {
    evalsha: (sha, keys, args, writes = true) =>
      guard(() => withWait(client, client.evalsha(sha, keys.length, ...keys, ...args), wait, writes)),
    eval: (source, keys, args, writes = true) =>
      guard(() => withWait(client, client.eval(source, keys.length, ...keys, ...args), wait, writes)),
    zrangeByScoreUpTo: (key, maxScore, limit) =>
      guard(() => client.zrangebyscore(key, '-inf', maxScore, 'LIMIT', 0, limit)),
    smembers: (key) => guard(() => client.smembers(key)),
    hgetall: (key) => guard(() => client.hgetall(key)),
    zadd: (key, score, member) => guard(async () => Number(await client.zadd(key, score, member))),
    zrem: (key, member) => guard(() => client.zrem(key, member)),
    zremrangeByScoreUpTo: (key, maxScore) => guard(() => client.zremrangebyscore(key, '-inf', maxScore)),
    zrangeWithScoresFrom: (key, minScore) =>
      guard(async () => {
        const flat = await client.zrangebyscore(key, minScore, '+inf', 'WITHSCORES');
        const out: [string, number][] = [];
        for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, Number(flat[i + 1])]);
        return out;
      }),
    hset: (key, field, value) => guard(() => client.hset(key, field, value)),
    hdel: (key, field) => guard(() => client.hdel(key, field)),
    hincrby: (key, field, by) => guard(() => client.hincrby(key, field, by)),
    lrange: (key, start, stop) => guard(() => client.lrange(key, start, stop)),
    sadd: (key, member) => guard(() => client.sadd(key, member)),
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
        const reply = (await client.xreadgroup('GROUP', group, consumer, 'COUNT', count, 'STREAMS', ...streams, ...streams.map(() => '>'))) as
          | [string, [string, string[]][]][]
          | null;
        return (reply ?? []).map(([stream, entries]) => ({ stream, entries: entries.map(toEntry) }));
      }),
    xautoclaim: (stream, group, consumer, minIdleMs, count) =>
      guard(async () => {
        const reply = (await client.xautoclaim(stream, group, consumer, minIdleMs, '0-0', 'COUNT', count)) as [string, [string, string[] | null][]];
        // entries deleted meanwhile come back as nulls
        return reply[1].filter((e): e is [string, string[]] => Array.isArray(e[1])).map(toEntry);
      }),
    xack: (stream, group, ids) => guard(() => (ids.length === 0 ? Promise.resolve(0) : client.xack(stream, group, ...ids))),
    timeMs: () =>
      guard(async () => {
        const [seconds, micros] = await client.time();
        return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      }),
    ping: () => guard(() => client.ping()),
  };
}

export { Redis };
