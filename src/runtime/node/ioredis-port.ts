import { Redis, ReplyError, type RedisOptions } from 'ioredis';
import { RedisUnavailableError, type RedisPort } from '../../redis/port.js';

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

async function guard<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    // Redis answered with an error (NOSCRIPT, a script bug): not an availability problem
    if (err instanceof ReplyError) throw err;
    throw new RedisUnavailableError(err instanceof Error ? err.message : String(err), { cause: err });
  }
}

/** The RedisPort over one ioredis client. */
export function ioredisPort(client: Redis): RedisPort {
  return {
    evalsha: (sha, keys, args) => guard(() => client.evalsha(sha, keys.length, ...keys, ...args)),
    eval: (source, keys, args) => guard(() => client.eval(source, keys.length, ...keys, ...args)),
    zrangeByScoreUpTo: (key, maxScore, limit) =>
      guard(() => client.zrangebyscore(key, '-inf', maxScore, 'LIMIT', 0, limit)),
    smembers: (key) => guard(() => client.smembers(key)),
    sadd: (key, member) => guard(() => client.sadd(key, member)),
    timeMs: () =>
      guard(async () => {
        const [seconds, micros] = await client.time();
        return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      }),
    ping: () => guard(() => client.ping()),
  };
}

export { Redis };
