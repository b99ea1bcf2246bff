/**
 * `npm run worker`: a payment worker process. It needs REDIS_URL, and DATABASE_URL unless it is
 * the only process opening the data directory's PGlite ledger (`npm start` runs its own worker).
 * What runs is built in wiring.ts; this file keeps the process: startup failures and signals.
 */
import { resolve } from 'node:path';
import { openLedger } from './adapters/ledger.js';
import { openRedis, redisTarget } from './adapters/redis-client.js';
import { loadSecrets } from './dev/secrets.js';
import { configOrExit, failStartup } from './startup.js';
import { nodeChannels, nodeLogger, redisPortOn, startBackground } from './wiring.js';

async function main(): Promise<void> {
  const config = configOrExit('rushgate worker');
  const target = redisTarget(config);
  if (!target)
    failStartup(
      'rushgate worker',
      'set REDIS_URL or REDIS_CLUSTER_NODES (npm start runs its own worker on embedded defaults)',
    );
  const log = nodeLogger(config, { service: 'rushgate-worker' });
  // it queues commands while reconnecting: no caller waits on its answers
  const client = openRedis(target, config.RUSHGATE_REDIS_TIMEOUT_MS, true);
  client.on('error', () => {});
  const redis = redisPortOn(client, config);
  const dataDir = resolve(config.RUSHGATE_DATA_DIR);
  const ledger = await openLedger(config, dataDir);
  // its simulated channels notify the gateway at HOST:PORT
  const channels = nodeChannels(config, loadSecrets(config, dataDir).channelSecret);
  const background = startBackground(
    config,
    { redis, ledger, log, channels },
    {
      worker: true,
      // fault injection for the redelivery test: die between the ledger commit and the Redis write
      ...(process.env.RUSHGATE_TEST_CRASH_AFTER_POST === '1'
        ? { crashAfterPost: () => process.kill(process.pid, 'SIGKILL') }
        : {}),
    },
  );
  log.info({ consumer: background.consumer }, 'payment worker started');
  process.stdout.write('rushgate worker started\n');

  const shutdown = async () => {
    await background.stop();
    await ledger.close();
    client.disconnect();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
}

void main();
