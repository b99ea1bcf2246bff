/**
 * The few Redis commands rushgate's core uses, so any client (ioredis on Node, the socket client
 * on Workers, a REST client) can stand behind it: script calls, which make every write to
 * rushgate's data; a handful of reads; the payment worker's consumer-group commands (its stream
 * bookkeeping: creating the group, claiming and acknowledging entries); the server's time and a
 * ping. A write that is one script is atomic, and where replicas are asked for it is waited on.
 *
 * Errors: a reply error from Redis is rethrown as it came (its message starts with the Redis
 * error code, e.g. NOSCRIPT); a failure to reach Redis at all is a RedisUnavailableError, which
 * the HTTP layer turns into 503 `unavailable` (fail closed).
 */
export interface RedisPort {
  /**
   * Runs a script. `writes` (default true) says it may change data: where the port is set to
   * wait for replicas, such a call is acknowledged only once they have it (WAIT).
   */
  evalsha(sha: string, keys: readonly string[], args: readonly (string | number)[], writes?: boolean): Promise<unknown>;
  eval(source: string, keys: readonly string[], args: readonly (string | number)[], writes?: boolean): Promise<unknown>;

  // reads, of one key each
  hgetall(key: string): Promise<Record<string, string>>;
  smembers(key: string): Promise<string[]>;
  lrange(key: string, start: number, stop: number): Promise<string[]>;
  /** Members of a sorted set with score <= maxScore, lowest first. */
  zrangeByScoreUpTo(key: string, maxScore: number, limit: number): Promise<string[]>;
  /** Members with score >= minScore, with their scores. */
  zrangeWithScoresFrom(key: string, minScore: number): Promise<[string, number][]>;

  // the payment worker's lanes: one consumer group over each lane's stream
  /** XGROUP CREATE … MKSTREAM; false when the group exists already. */
  xgroupCreate(stream: string, group: string): Promise<boolean>;
  /** XREADGROUP of new entries (`>`) from several streams, without blocking. */
  xreadgroup(group: string, consumer: string, streams: readonly string[], count: number): Promise<StreamBatch[]>;
  /** XAUTOCLAIM: entries pending longer than minIdleMs, taken over by `consumer`. */
  xautoclaim(stream: string, group: string, consumer: string, minIdleMs: number, count: number): Promise<StreamEntry[]>;
  xack(stream: string, group: string, ids: readonly string[]): Promise<number>;

  /** Redis server time in milliseconds. */
  timeMs(): Promise<number>;
  ping(): Promise<string>;
}

export interface StreamEntry {
  id: string;
  fields: Record<string, string>;
}

export interface StreamBatch {
  stream: string;
  entries: StreamEntry[];
}

/** Redis could not be reached or did not answer in time. */
export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
