/**
 * `npm start`: the gateway on Node. Reads the environment (the only place that does), starts a
 * private redis-server when REDIS_URL is unset, serves the app, runs the hold-expiry sweep.
 */
import { serve } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import { sign } from 'hono/jwt';
import { resolve } from 'node:path';
import { pino } from 'pino';
import { createApp } from '../../app.js';
import type { Config } from '../../config.js';
import { configOrExit, failStartup, workerOptions } from './boot.js';
import type { Logger } from '../../logger.js';
import { LimitsStore } from '../../limits/limits-store.js';
import { LimitsWatcher } from '../../limits/limits-watcher.js';
import { HoldSweeper } from '../../orders/hold-sweeper.js';
import type { Ledger } from '../../ledger/ledger.js';
import { PaymentWorker } from '../../worker/payment-worker.js';
import { simulatedChannels } from './channels.js';
import { promMetrics, timedPort } from './metrics.js';
import { nodeCrypto } from './crypto.js';
import { embeddedLedgerDir, openLedger } from './ledger.js';
import { embeddedRedisDir, RedisServerMissing, startEmbeddedRedis, type EmbeddedRedis } from './embedded-redis.js';
import { gatewayRedisOptions, ioredisPort, Redis } from './ioredis-port.js';
import { loadSecrets, type Secrets } from './secrets.js';

const fail: (message: string) => never = (message) => failStartup('rushgate', message);

/** Connects and waits until Redis answers; connection errors are logged at most every 5 s. */
async function connect(url: string, timeoutMs: number, log: Logger): Promise<Redis> {
  const client = new Redis(url, gatewayRedisOptions(timeoutMs));
  let lastErrorMs = 0;
  client.on('error', (err: Error) => {
    if (Date.now() - lastErrorMs > 5_000) log.warn({ err: err.message }, 'redis connection error');
    lastErrorMs = Date.now();
  });
  await new Promise<void>((ok, ko) => {
    const timer = setTimeout(() => {
      client.disconnect();
      ko(new Error(`cannot reach Redis at ${url}`));
    }, 5_000);
    client.once('ready', () => {
      clearTimeout(timer);
      ok();
    });
  });
  return client;
}

async function banner(config: Config, secrets: Secrets, redisUrl: string, embedded: boolean, worker: boolean) {
  const base = `http://${config.HOST}:${config.PORT}`;
  const demoJwt = await sign({ sub: 'demo', exp: Math.floor(Date.now() / 1000) + 3600 }, secrets.jwtSecret);
  const lines = [
    `rushgate listening on ${base}`,
    `redis: ${redisUrl}${embedded ? ` (embedded, AOF in ${embeddedRedisDir(resolve(config.RUSHGATE_DATA_DIR))})` : ''}`,
    `ledger: ${config.DATABASE_URL ? 'Postgres (DATABASE_URL)' : `PGlite in ${embeddedLedgerDir(resolve(config.RUSHGATE_DATA_DIR))}`}; payment worker: ${worker ? 'in this process' : 'off (RUSHGATE_WORKER=off)'}`,
    `payment channels: ${config.RUSHGATE_CHANNELS.length ? `${config.RUSHGATE_CHANNELS.join(', ')} (SIMULATED: no real money)` : 'none (wallet only)'}`,
    `admin token: ${secrets.adminToken}${secrets.generated.includes('adminToken') ? ` (generated, saved in ${config.RUSHGATE_DATA_DIR}/secrets.json)` : ''}`,
    `demo buyer JWT (sub "demo", 1 h): ${demoJwt}`,
    'try:',
    `  curl -s -X PUT ${base}/admin/sales/demo -H 'Authorization: Bearer ${secrets.adminToken}' -H 'Content-Type: application/json' -d '{"stock":100,"price":38000,"currency":"CNY"}'`,
    `  curl -s -X POST ${base}/admin/wallets/demo/credits -H 'Authorization: Bearer ${secrets.adminToken}' -H 'Content-Type: application/json' -d '{"amount":100000,"currency":"CNY","reference":"topup-1"}'`,
    `  curl -s -X POST ${base}/v1/sales/demo/orders -H 'Authorization: Bearer ${demoJwt}' -H 'Content-Type: application/json' -d '{"quantity":1}'`,
    `  curl -s -X POST ${base}/v1/orders/<orderId>/payments -H 'Authorization: Bearer ${demoJwt}' -H 'Content-Type: application/json' -d '{"paymentToken":"<paymentToken>","method":"wallet"}'`,
    `  curl -s ${base}/v1/payments/<paymentId> -H 'Authorization: Bearer ${demoJwt}'`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(): Promise<void> {
  const config = configOrExit('rushgate');
  const log = pino({ level: config.RUSHGATE_LOG_LEVEL, base: { service: 'rushgate' } });
  const dataDir = resolve(config.RUSHGATE_DATA_DIR);
  const secrets = loadSecrets(config, dataDir);

  let embedded: EmbeddedRedis | undefined;
  if (config.REDIS_URL === undefined) {
    try {
      embedded = await startEmbeddedRedis({ dir: embeddedRedisDir(dataDir) });
    } catch (err) {
      fail(err instanceof RedisServerMissing ? err.message : `cannot start redis-server: ${(err as Error).message}`);
    }
  }
  const redisUrl = config.REDIS_URL ?? embedded!.url;
  let client: Redis;
  try {
    client = await connect(redisUrl, config.RUSHGATE_REDIS_TIMEOUT_MS, log);
  } catch (err) {
    await embedded?.stop();
    fail(`${(err as Error).message}; set REDIS_URL to a reachable Redis, or unset it to run an embedded one`);
  }
  const metrics = promMetrics();
  const redis = timedPort(ioredisPort(client), metrics.redisSeconds);
  let ledger: Ledger;
  try {
    ledger = await openLedger(config, dataDir);
  } catch (err) {
    client.disconnect();
    await embedded?.stop();
    fail(`cannot open the ledger: ${(err as Error).message}`);
  }
  const channels = simulatedChannels(config.RUSHGATE_CHANNELS, secrets.channelSecret, `http://${config.HOST}:${config.PORT}`);
  const limits = new LimitsWatcher(new LimitsStore(redis), log);
  await limits.start();
  // behind a trusted proxy, the hop it appended (the last one): earlier hops are the client's word
  const clientAddress = (c: Context) =>
    (config.RUSHGATE_TRUST_PROXY === 'on' ? c.req.header('X-Forwarded-For')?.split(',').at(-1)?.trim() : undefined) ||
    getConnInfo(c).remote.address;
  const app = createApp({
    redis, log, ledger, limits, clientAddress, metrics, ...secrets, channels, crypto: nodeCrypto,
    maxInFlight: config.RUSHGATE_MAX_INFLIGHT,
  });
  const sweeper = new HoldSweeper(redis, log, { intervalMs: config.RUSHGATE_SWEEP_INTERVAL_MS });
  sweeper.start();
  const worker =
    config.RUSHGATE_WORKER === 'on' ? new PaymentWorker(redis, ledger, log, { ...workerOptions(config, channels), metrics }) : undefined;
  worker?.start();

  const server = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST });
  server.once('error', async (err) => {
    await worker?.stop();
    await sweeper.stop();
    await ledger.close();
    client.disconnect();
    await embedded?.stop();
    fail(`cannot listen on ${config.HOST}:${config.PORT}: ${err.message}`);
  });
  server.once('listening', () => void banner(config, secrets, redisUrl, embedded !== undefined, worker !== undefined));

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await new Promise((done) => server.close(done));
    limits.stop();
    await worker?.stop();
    await sweeper.stop();
    await ledger.close();
    await client.quit().catch(() => client.disconnect());
    await embedded?.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
}

void main();
