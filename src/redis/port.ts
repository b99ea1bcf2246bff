/**
 * The few Redis commands rushgate uses, so any client (ioredis on Node, a REST or socket client
 * on Workers) can stand behind it. Errors: a reply error from Redis is rethrown as it came (its
 * message starts with the Redis error code, e.g. NOSCRIPT); a failure to reach Redis at all is a
 * RedisUnavailableError, which the HTTP layer turns into 503 `unavailable` (fail closed).
 */
export interface RedisPort {
  evalsha(sha: string, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown>;
  eval(source: string, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown>;
  /** Members of a sorted set with score <= maxScore, lowest first. */
  zrangeByScoreUpTo(key: string, maxScore: number, limit: number): Promise<string[]>;
  smembers(key: string): Promise<string[]>;
  sadd(key: string, member: string): Promise<number>;
  /** Redis server time in milliseconds. */
  timeMs(): Promise<number>;
  ping(): Promise<string>;
}

/** Redis could not be reached or did not answer in time. */
export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
