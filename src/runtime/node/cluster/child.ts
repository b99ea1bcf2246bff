/**
 * Multi-process mode, a child's side: serves HTTP on the socket it shares with its siblings. The
 * ledger and the metrics of the other processes are the primary's, reached over IPC; everything
 * else is wired as in one process (../wiring.ts).
 */
import { resolve } from 'node:path';
import { problem } from '../../../http/problem.js';
import { promMetrics } from '../adapters/metrics.js';
import { connectRedis, redisTarget } from '../adapters/redis-client.js';
import type { RedisClient } from '../adapters/ioredis-port.js';
import { loadSecrets } from '../dev/secrets.js';
import { configOrExit, failStartup } from '../startup.js';
import { nodeChannels, nodeLogger, redisPortOn, serveGateway, type Gateway } from '../wiring.js';
import { IpcPeer, ledgerOverIpc, processWire, reviveLedgerError } from './ipc.js';

/** Runs this process as a cluster child until the primary stops it with SIGTERM. */
export async function runGatewayChild(): Promise<void> {
  const config = configOrExit('rushgate');
  const log = nodeLogger(config, { service: 'rushgate', pid: process.pid });
  // every secret is in the environment the primary gave: nothing is generated or written here
  const secrets = loadSecrets(config, resolve(config.RUSHGATE_DATA_DIR));
  let client: RedisClient;
  try {
    client = await connectRedis(redisTarget(config)!, config.RUSHGATE_REDIS_TIMEOUT_MS, log);
  } catch (err) {
    failStartup('rushgate', (err as Error).message);
  }
  const metrics = promMetrics({
    cluster: {
      allProcesses: async () => {
        try {
          return (await primary.call('metrics.cluster')) as string;
        } catch (err) {
          throw problem(
            'unavailable',
            `the metrics of every process could not be gathered: ${(err as Error).message}`,
            { retryAfterSeconds: 1 },
          );
        }
      },
    },
  });
  const primary = new IpcPeer(processWire(), {
    handlers: { 'metrics.own': () => metrics.registry.getMetricsAsJSON() },
    revive: reviveLedgerError,
  });
  const redis = redisPortOn(client, config, metrics);
  const channels = nodeChannels(config, secrets.channelSecret);
  let gateway: Gateway;
  try {
    gateway = await serveGateway(config, { redis, log, ledger: ledgerOverIpc(primary), metrics, secrets, channels });
  } catch (err) {
    client.disconnect();
    failStartup('rushgate', (err as Error).message);
  }
  // Ctrl-C signals the whole process group: the primary decides, and stops its children with SIGTERM
  process.on('SIGINT', () => {});
  process.once('SIGTERM', async () => {
    await gateway.stop();
    await client.quit().catch(() => client.disconnect());
    process.exit(0);
  });
}
