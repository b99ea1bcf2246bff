import { hostname } from 'node:os';
import type { PaymentChannel } from '../../channels/channel.js';
import { ConfigError, parseConfig, type Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import { SaleTally } from '../../ops/sale-tally.js';
import type { RedisPort } from '../../redis/port.js';
import type { PaymentWorkerOptions } from '../../worker/payment-worker.js';
import type { LedgerTruth } from '../../ledger/ledger.js';
import { Reconciler } from '../../payments/reconciler.js';

/** Prints one line and exits 1: how every Node entry point refuses to start. */
export function failStartup(program: string, message: string): never {
  process.stderr.write(`${program}: ${message}\n`);
  process.exit(1);
}

/** The configuration from the environment, or one line and exit 1. */
export function configOrExit(program: string): Config {
  try {
    return parseConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) failStartup(program, err.message);
    throw err;
  }
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
