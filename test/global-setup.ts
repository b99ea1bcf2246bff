import type { TestProject } from 'vitest/node';
import { startEmbeddedRedis, type EmbeddedRedis } from '../src/runtime/node/embedded-redis.js';

let redis: EmbeddedRedis | undefined;

/** One private redis-server (no persistence) on a free loopback port for the whole run. */
export async function setup(project: TestProject) {
  redis = await startEmbeddedRedis();
  project.provide('redisUrl', redis.url);
}

export async function teardown() {
  await redis?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}
