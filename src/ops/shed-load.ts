import type { MiddlewareHandler } from 'hono';
import { problem } from '../http/problem.js';

/**
 * Load shedding: at most `maxInFlight` buyer requests are worked on at once by this instance;
 * the next is answered 503 `overloaded` at once (with Retry-After), before it costs a JWT check
 * or a Redis round trip, instead of queueing until every request is late.
 */
export function shedLoad(options: { maxInFlight: number; retryAfterSeconds?: number }): MiddlewareHandler {
  let inFlight = 0;
  return async function shedLoad(_c, next) {
    if (inFlight >= options.maxInFlight) {
      throw problem('overloaded', 'the gateway is at capacity; retry shortly', {
        retryAfterSeconds: options.retryAfterSeconds ?? 1,
      });
    }
    inFlight++;
    try {
      await next();
    } finally {
      inFlight--;
    }
  };
}
