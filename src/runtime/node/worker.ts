/**
 * `npm run worker`: a payment worker process. It needs REDIS_URL, and DATABASE_URL unless it is
 * the only process opening the data directory's PGlite ledger (`npm start` runs its own worker).
 */
import { resolve } from 'node:path';
import { pino } from 'pino';
import { configOrExit, failStartup, startReconciler, startTally, workerOptions } from './boot.js';
import { HoldSweeper } from '../../orders/hold-sweeper.js';
import { PaymentWorker } from '../../worker/payment-worker.js';
import { ioredisPort, replicaWait } from './adapters/ioredis-port.js';
import { openRedis, redisTarget } from './adapters/redis-client.js';
import { simulatedChannels } from './adapters/channels.js';
import { openLedger } from './adapters/ledger.js';
import { loadSecrets } from './dev/secrets.js';

async function main(): Promise<void> {
  const config = configOrExit('rushgate worker');
  const target = redisTarget(config);
  if (!target)
    failStartup(
      'rushgate worker',
      'set REDIS_URL or REDIS_CLUSTER_NODES (npm start runs its own worker on embedded defaults)',
    );
  const log = pino({ level: config.RUSHGATE_LOG_LEVEL, base: { service: 'rushgate-worker' } });
  // it queues commands while reconnecting: no caller waits on its answers
  const client = openRedis(target, config.RUSHGATE_REDIS_TIMEOUT_MS, true);
  client.on('error', () => {});
  const redis = ioredisPort(client, replicaWait(config));
  const dataDir = resolve(config.RUSHGATE_DATA_DIR);
  const ledger = await openLedger(config, dataDir);
  // its simulated channels notify the gateway at HOST:PORT
  const channels = simulatedChannels(
    config.RUSHGATE_CHANNELS,
    loadSecrets(config, dataDir).channelSecret,
    `http://${config.HOST}:${config.PORT}`,
  );
  const options = workerOptions(config, channels);
  // payment outcomes per sale, for the ops view
  const tally = startTally(redis, log);
  const worker = new PaymentWorker(redis, ledger, log, {
    ...options,
    tally,
    // fault injection for the redelivery test: die between the ledger commit and the Redis write
    ...(process.env.RUSHGATE_TEST_CRASH_AFTER_POST === '1'
      ? { crashAfterPost: () => process.kill(process.pid, 'SIGKILL') }
      : {}),
  });
  const sweeper = new HoldSweeper(redis, log, { intervalMs: config.RUSHGATE_SWEEP_INTERVAL_MS });
  worker.start();
  sweeper.start();
  const reconciler = startReconciler(redis, ledger, log, config);
  log.info({ consumer: options.consumer }, 'payment worker started');
  process.stdout.write('rushgate worker started\n');

  const shutdown = async () => {
    await reconciler.stop();
    await worker.stop();
    await sweeper.stop();
    await tally.stop();
    await ledger.close();
    client.disconnect();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
}

void main();
