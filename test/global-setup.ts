import type { TestProject } from 'vitest/node';
import { startEmbeddedRedis, type EmbeddedRedis } from '../src/runtime/node/dev/embedded-redis.js';
import { startLocalCluster, type LocalCluster } from './redis-cluster.js';

let redis: EmbeddedRedis | undefined;
let cluster: LocalCluster | undefined;

/**
 * Per test project: one private redis-server (no persistence) on a free loopback port, or, for
 * the `cluster` project (vitest.config.ts), a 3-master Redis Cluster of its own.
 */
export async function setup(project: TestProject) {
  const topology = project.config.provide?.topology ?? 'single';
  project.provide('topology', topology);
  if (topology === 'cluster') {
    cluster = await startLocalCluster({ masters: 3 });
    project.provide('redisUrl', `redis://${cluster.seeds.split(',')[0]}`);
    project.provide('clusterSeeds', cluster.seeds);
  } else {
    redis = await startEmbeddedRedis();
    project.provide('redisUrl', redis.url);
    project.provide('clusterSeeds', '');
  }
}

export async function teardown() {
  await redis?.stop();
  await cluster?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    /** `cluster`: the Redis behind the tests is a Redis Cluster (REDIS_CLUSTER_NODES = clusterSeeds). */
    topology: 'single' | 'cluster';
    clusterSeeds: string;
  }
}
