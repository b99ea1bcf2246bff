/**
 * The Node runtime's wiring, in one place: the adapters built from a Config, the app assembled on
 * them (createApp, served by @hono/node-server), and the background steps scheduled on timers.
 * The gateway entry (gateway.ts), each cluster child (cluster/child.ts) and the worker entry
 * (worker.ts) build what they run from here; they keep the process to themselves: the
 * environment, signals, the banner, the exit.
 */
import { serve } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import { hostname } from 'node:os';
import { pino } from 'pino';
import { createApp } from '../../app.js';
import type { PaymentChannel } from '../../channels/channel.js';
import type { Config } from '../../config.js';
import type { Ledger, LedgerTruth, LedgerView } from '../../ledger/ledger.js';
import { LimitsStore } from '../../limits/limits-store.js';
import { LimitsWatcher } from '../../limits/limits-watcher.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../../ops/metrics.js';
import { SaleTally } from '../../ops/sale-tally.js';
import { HoldSweeper } from '../../orders/hold-sweeper.js';
import { Reconciler } from '../../payments/reconciler.js';
import type { RedisPort } from '../../redis/port.js';
import { PaymentWorker, type PaymentWorkerOptions } from '../../worker/payment-worker.js';
import { nodeReferenceScript } from './adapters/api-reference.js';
import { simulatedChannels } from './adapters/channels.js';
import { nodeCrypto } from './adapters/crypto.js';
import { ioredisPort, replicaWait, type RedisClient } from './adapters/ioredis-port.js';
import { timedPort, type PromMetrics } from './adapters/metrics.js';
import type { Secrets } from './dev/secrets.js';

/** The process's logger: JSON lines on stdout at RUSHGATE_LOG_LEVEL, each carrying `base`. */
export function nodeLogger(config: Config, base: Record<string, unknown>): Logger {
  return pino({ level: config.RUSHGATE_LOG_LEVEL, base });
}

/** The RedisPort on a connected client, waiting for replicas as configured; its calls timed into `metrics` when given. */
export function redisPortOn(client: RedisClient, config: Config, metrics?: PromMetrics): RedisPort {
  const port = ioredisPort(client, replicaWait(config));
  return metrics ? timedPort(port, metrics.redisSeconds) : port;
}

/** The configured payment channels; their notifications go to the gateway at HOST:PORT. */
export function nodeChannels(config: Config, channelSecret: string): ReadonlyMap<string, PaymentChannel> {
  return simulatedChannels(config.RUSHGATE_CHANNELS, channelSecret, `http://${config.HOST}:${config.PORT}`);
}

/** The payment worker's settings from the configuration. */
export function workerOptions(config: Config, channels: ReadonlyMap<string, PaymentChannel>): PaymentWorkerOptions {
  return {
    consumer: `${hostname()}-${process.pid}`,
    batchSize: config.RUSHGATE_WORKER_BATCH,
    priorityWeight: config.RUSHGATE_WORKER_PRIORITY_WEIGHT,
    visibilityTimeoutMs: config.RUSHGATE_WORKER_VISIBILITY_MS,
    unknownPolicy: { baseMs: 2000, maxMs: 60_000, reviewAfterMs: config.RUSHGATE_UNKNOWN_REVIEW_MS },
    channels,
  };
}

/** A started per-sale tally for the ops view (flushed every second); a failed flush is logged at most every 10 s. */
export function startTally(redis: RedisPort, log: Logger): SaleTally {
  let lastLogMs = 0;
  const tally = new SaleTally(redis, {
    onError: (err) => {
      if (Date.now() - lastLogMs < 10_000) return;
      lastLogMs = Date.now();
      log.warn({ err: (err as Error).message }, 'cannot write the sale tally; its counts are kept for the next try');
    },
  });
  tally.start();
  return tally;
}

/**
 * The reconciler of the process that runs the payment worker: Redis made to agree with the
 * ledger at start, after a Redis restart, and every RUSHGATE_RECONCILE_INTERVAL_MS. Charges
 * older than the records' TTL are not compared (their Redis records may have expired).
 */
export function startReconciler(redis: RedisPort, ledger: LedgerTruth, log: Logger, config: Config): Reconciler {
  const reconciler = new Reconciler(redis, ledger, log, {
    intervalMs: config.RUSHGATE_RECONCILE_INTERVAL_MS,
    lookbackMs: Math.max(1000, config.RUSHGATE_RECORD_TTL_SECONDS * 1000 - 60_000),
    lostAfterMs: 2 * config.RUSHGATE_WORKER_VISIBILITY_MS,
    recordTtlMs: config.RUSHGATE_RECORD_TTL_SECONDS * 1000,
  });
  reconciler.start();
  return reconciler;
}

/** What a process that owns the payment lanes runs in the background. */
export interface BackgroundParts {
  redis: RedisPort;
  ledger: Ledger;
  log: Logger;
  channels: ReadonlyMap<string, PaymentChannel>;
  /** Where the payment worker's outcomes and lag go; nowhere when absent. */
  metrics?: Metrics;
}

/** The background steps of one process, on timers. */
export interface Background {
  /** The payment worker's consumer name; undefined when the worker is off. */
  readonly consumer: string | undefined;
  /** Clears the timers and waits for the rounds in progress. */
  stop(): Promise<void>;
}

/**
 * Starts the hold sweep and, with `worker`, the payment worker with its per-sale outcome tally
 * and the reconciler: the ledger is the truth, so Redis is reconciled to it where the worker
 * runs. `crashAfterPost` is the redelivery test's fault injection.
 */
export function startBackground(
  config: Config,
  { redis, ledger, log, channels, metrics }: BackgroundParts,
  options: { worker: boolean; crashAfterPost?: () => void },
): Background {
  const sweeper = new HoldSweeper(redis, log, { intervalMs: config.RUSHGATE_SWEEP_INTERVAL_MS });
  sweeper.start();
  if (!options.worker) return { consumer: undefined, stop: () => sweeper.stop() };
  const settings = workerOptions(config, channels);
  // payment outcomes per sale, for the ops view
  const outcomes = startTally(redis, log);
  const worker = new PaymentWorker(redis, ledger, log, {
    ...settings,
    tally: outcomes,
    ...(metrics ? { metrics } : {}),
    ...(options.crashAfterPost ? { crashAfterPost: options.crashAfterPost } : {}),
  });
  worker.start();
  const reconciler = startReconciler(redis, ledger, log, config);
  return {
    consumer: settings.consumer,
    stop: async () => {
      await reconciler.stop();
      await worker.stop();
      await outcomes.stop();
      await sweeper.stop();
    },
  };
}

/** What serves HTTP needs, in one process or in each cluster child. */
export interface ServingParts {
  redis: RedisPort;
  log: Logger;
  ledger: LedgerView;
  metrics: Metrics;
  secrets: Secrets;
  channels: ReadonlyMap<string, PaymentChannel>;
}

/** Whatever serves HTTP: the app in this process, or the cluster's children. */
export interface Gateway {
  /** Stops taking connections and lets the requests in progress finish. */
  stop(): Promise<void>;
}

/**
 * The app on Node: createApp with node:crypto, the socket's address (or, behind a trusted proxy,
 * the hop it appended) and the API reference's script from node_modules; its limits watcher and
 * decision tally started, stopped by `stop()`.
 */
export async function startApp(config: Config, { redis, log, ledger, metrics, secrets, channels }: ServingParts) {
  const limits = new LimitsWatcher(new LimitsStore(redis), log);
  await limits.start();
  // behind a trusted proxy, the hop it appended (the last one): earlier hops are the client's word
  const clientAddress = (c: Context) =>
    (config.RUSHGATE_TRUST_PROXY === 'on' ? c.req.header('X-Forwarded-For')?.split(',').at(-1)?.trim() : undefined) ||
    getConnInfo(c).remote.address;
  // decisions per sale, for the ops view
  const tally = startTally(redis, log);
  const app = createApp({
    redis,
    log,
    ledger,
    limits,
    clientAddress,
    metrics,
    tally,
    ...secrets,
    channels,
    crypto: nodeCrypto,
    maxInFlight: config.RUSHGATE_MAX_INFLIGHT,
    apiReferenceScript: nodeReferenceScript,
  });
  return {
    app,
    stop: async () => {
      await limits.stop();
      await tally.stop();
    },
  };
}

/** Serves the app on HOST:PORT from this process; resolves once it listens. */
export async function serveGateway(config: Config, parts: ServingParts): Promise<Gateway> {
  const { app, stop } = await startApp(config, parts);
  const server = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST });
  try {
    await new Promise<void>((listening, failed) => {
      server.once('listening', listening);
      server.once('error', (err) =>
        failed(new Error(`cannot listen on ${config.HOST}:${config.PORT}: ${err.message}`)),
      );
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    stop: async () => {
      await new Promise((done) => server.close(done));
      await stop();
    },
  };
}
