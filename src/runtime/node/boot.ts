import { hostname } from 'node:os';
import type { PaymentChannel } from '../../channels/channel.js';
import { ConfigError, parseConfig, type Config } from '../../config.js';
import type { PaymentWorkerOptions } from '../../worker/payment-worker.js';

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
    channels,
  };
}
