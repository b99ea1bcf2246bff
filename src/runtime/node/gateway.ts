/**
 * `npm start`: the gateway on Node. Reads the environment (the only place that does), starts a
 * private redis-server when REDIS_URL is unset, serves the app, runs the hold-expiry sweep.
 * With RUSHGATE_PROCESSES > 1 this process is the cluster's primary: it keeps what only one
 * process may do (embedded Redis, the PGlite ledger, the worker, the sweep) and forks children
 * that serve HTTP on the shared socket; each child runs cluster/child.ts. What runs is built in
 * wiring.ts; this file keeps the process: startup failures, signals, the fork and the banner.
 */
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import type { Config } from '../../config.js';
import type { Ledger } from '../../ledger/ledger.js';
import { openLedger } from './adapters/ledger.js';
import { promMetrics } from './adapters/metrics.js';
import type { RedisClient } from './adapters/ioredis-port.js';
import { connectRedis, describeTarget, redisTarget, targetEnv, type RedisTarget } from './adapters/redis-client.js';
import { banner } from './banner.js';
import { runGatewayChild } from './cluster/child.js';
import { ChildExitedAtStartup, GatewayCluster } from './cluster/primary.js';
import { embeddedRedisDir, RedisServerMissing, startEmbeddedRedis, type EmbeddedRedis } from './dev/embedded-redis.js';
import { loadSecrets, type Secrets } from './dev/secrets.js';
import { configOrExit, failStartup } from './startup.js';
import { nodeChannels, nodeLogger, redisPortOn, serveGateway, startBackground, type Gateway } from './wiring.js';

const fail: (message: string) => never = (message) => failStartup('rushgate', message);

/** RUSHGATE_PROCESSES, with `auto` made one per core. */
const processCount = (config: Config) =>
  config.RUSHGATE_PROCESSES === 'auto' ? Math.min(availableParallelism(), 64) : config.RUSHGATE_PROCESSES;

/**
 * A child's environment on top of the primary's: the Redis the primary uses (its embedded one,
 * if so), no worker, and the secrets, so that no child writes secrets.json while another reads it.
 */
const childEnv = (target: RedisTarget, s: Secrets): Record<string, string> => ({
  ...targetEnv(target),
  RUSHGATE_WORKER: 'off',
  RUSHGATE_JWT_SECRET: s.jwtSecret,
  RUSHGATE_ADMIN_TOKEN: s.adminToken,
  RUSHGATE_TOKEN_SECRET: s.tokenSecret,
  RUSHGATE_CHANNEL_SECRET: s.channelSecret,
});

async function main(): Promise<void> {
  const config = configOrExit('rushgate');
  const log = nodeLogger(config, { service: 'rushgate' });
  const dataDir = resolve(config.RUSHGATE_DATA_DIR);
  const secrets = loadSecrets(config, dataDir);
  const processes = processCount(config);

  let embedded: EmbeddedRedis | undefined;
  let embeddedStarting: Promise<EmbeddedRedis> | undefined;
  // a signal while starting (a slow ledger, children still starting) must not orphan the
  // embedded redis-server or the children: stop them and exit; the full shutdown takes over once
  // the gateway serves
  let stoppingEarly = false;
  const duringStartup = (signal: NodeJS.Signals) =>
    void (async () => {
      // a second signal must not fall back to Node's default (which would orphan redis-server)
      if (stoppingEarly) return;
      stoppingEarly = true;
      log.info({ signal }, 'stopped during startup');
      for (const child of Object.values(cluster.workers ?? {})) child?.process.kill('SIGTERM');
      await (embedded ?? (await embeddedStarting?.catch(() => undefined)))?.stop();
      process.exit(0);
    })();
  process.on('SIGINT', duringStartup);
  process.on('SIGTERM', duringStartup);
  const configured = redisTarget(config);
  if (configured === undefined) {
    try {
      embeddedStarting = startEmbeddedRedis({ dir: embeddedRedisDir(dataDir), fsync: config.RUSHGATE_REDIS_FSYNC });
      embedded = await embeddedStarting;
    } catch (err) {
      fail(err instanceof RedisServerMissing ? err.message : `cannot start redis-server: ${(err as Error).message}`);
    }
  }
  const target: RedisTarget = configured ?? { kind: 'single', url: embedded!.url };
  let client: RedisClient;
  try {
    client = await connectRedis(target, config.RUSHGATE_REDIS_TIMEOUT_MS, log);
  } catch (err) {
    await embedded?.stop();
    fail(
      `${(err as Error).message}; set REDIS_URL (or REDIS_CLUSTER_NODES) to a reachable Redis, or unset it to run an embedded one`,
    );
  }
  const metrics = promMetrics();
  const redis = redisPortOn(client, config, metrics);
  let ledger: Ledger;
  try {
    ledger = await openLedger(config, dataDir);
  } catch (err) {
    client.disconnect();
    await embedded?.stop();
    fail(`cannot open the ledger: ${(err as Error).message}`);
  }
  const channels = nodeChannels(config, secrets.channelSecret);
  // the sweep and the worker run here, never in a cluster child
  const background = startBackground(
    config,
    { redis, ledger, log, channels, metrics },
    { worker: config.RUSHGATE_WORKER === 'on' },
  );

  let gateway: Gateway;
  try {
    if (processes > 1) {
      const children = new GatewayCluster({
        processes,
        env: childEnv(target, secrets),
        ledger,
        registry: metrics.registry,
        log,
      });
      gateway = children;
      await children.start().catch(async (err) => {
        await children.stop();
        throw err;
      });
    } else {
      gateway = await serveGateway(config, { redis, log, ledger, metrics, secrets, channels });
    }
  } catch (err) {
    // stopped by a signal meanwhile (children killed, say): that handler exits
    if (stoppingEarly) return;
    await background.stop();
    await ledger.close();
    client.disconnect();
    await embedded?.stop();
    // a child that exits with 1 has printed its own line (failStartup): one line is enough
    if (err instanceof ChildExitedAtStartup && err.code === 1) process.exit(1);
    fail((err as Error).message);
  }
  void banner(
    config,
    secrets,
    describeTarget(target),
    embedded !== undefined,
    background.consumer !== undefined,
    processes,
  );

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    // the children first: they may still be calling the ledger
    await gateway.stop();
    await background.stop();
    await ledger.close();
    await client.quit().catch(() => client.disconnect());
    await embedded?.stop();
    process.exit(0);
  };
  if (stoppingEarly) return;
  process.off('SIGINT', duringStartup);
  process.off('SIGTERM', duringStartup);
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
}

void (cluster.isWorker ? runGatewayChild() : main());
