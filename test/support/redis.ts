import { Redis } from 'ioredis';
import { afterAll, inject } from 'vitest';
import { startEmbeddedRedis } from '../../src/runtime/node/embedded-redis.js';

let fileRedisUrl: string | undefined;

/** The Redis this test file works on: its private one if it asked for one, else the run's. */
export const redisUrl = () => fileRedisUrl ?? inject('redisUrl');

/**
 * Gives the calling test file a redis-server of its own. Payment workers read every sale's
 * lanes, so a file that runs workers must not share Redis with files that expect `queued`.
 */
export async function privateRedis(): Promise<string> {
  const server = await startEmbeddedRedis();
  afterAll(() => server.stop());
  fileRedisUrl = server.url;
  return server.url;
}

/** A raw client on the test Redis, for looking at state behind the API. */
export function testRedis(): Redis {
  const client = new Redis(redisUrl());
  afterAll(() => client.quit());
  return client;
}
