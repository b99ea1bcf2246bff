/**
 * `npm start`: the gateway on Node. Reads the environment (the only place that does), starts a
 * private redis-server when REDIS_URL is unset, serves the app, runs the hold-expiry sweep.
 * With RUSHGATE_PROCESSES > 1 this process is the cluster's primary: it keeps what only one
 * process may do (embedded Redis, the PGlite ledger, the worker, the sweep) and forks children
 * that serve HTTP on the shared socket; each child runs `gatewayChild` below.
 */
import { serve } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import { sign } from 'hono/jwt';
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { createApp } from '../../app.js';
import type { Config } from '../../config.js';
import { configOrExit, failStartup, startTally, workerOptions, startReconciler } from './boot.js';
import type { Logger } from '../../logger.js';
import { LimitsStore } from '../../limits/limits-store.js';
import { LimitsWatcher } from '../../limits/limits-watcher.js';
import { HoldSweeper } from '../../orders/hold-sweeper.js';
import type { Ledger, LedgerView } from '../../ledger/ledger.js';
import { problem } from '../../http/problem.js';
import type { PaymentChannel } from '../../channels/channel.js';
import type { Metrics } from '../../ops/metrics.js';
import type { RedisPort } from '../../redis/port.js';
import { PaymentWorker } from '../../worker/payment-worker.js';
import { simulatedChannels } from './adapters/channels.js';
import { ChildExitedAtStartup, GatewayCluster } from './cluster/primary.js';
import { IpcPeer, ledgerOverIpc, processWire, reviveLedgerError } from './cluster/ipc.js';
import { promMetrics, timedPort } from './adapters/metrics.js';
import { nodeCrypto } from './adapters/crypto.js';
import { embeddedLedgerDir, openLedger } from './adapters/ledger.js';
import { embeddedRedisDir, RedisServerMissing, startEmbeddedRedis, type EmbeddedRedis } from './dev/embedded-redis.js';
import { ioredisPort, replicaWait, type RedisClient } from './adapters/ioredis-port.js';
import { connectRedis, describeTarget, redisTarget, targetEnv, type RedisTarget } from './adapters/redis-client.js';
import { loadSecrets, type Secrets } from './dev/secrets.js';
import { nodeReferenceScript } from './adapters/api-reference.js';

const fail: (message: string) => never = (message) => failStartup('rushgate', message);

/** `value` as one word for a POSIX shell: single-quoted, with each `'` closed, escaped and reopened. */
const shellWord = (value: string) => `'${value.replaceAll("'", `'\\''`)}'`;

/**
 * The banner's walk-through: lines that run as pasted, in order, in a POSIX shell. Ids come back
 * in JSON, so jq lifts them into variables; `<orderId>` placeholders would be shell redirections.
 */
function tryLines(base: string, adminToken: string, demoJwt: string): string[] {
  const json = `-H 'Content-Type: application/json'`;
  return [
    `BASE=${shellWord(base)}`,
    `ADMIN=${shellWord(adminToken)}`,
    `JWT=${shellWord(demoJwt)}`,
    `curl -sS -w '\\n' -X PUT "$BASE/admin/sales/demo" -H "Authorization: Bearer $ADMIN" ${json} -d '{"stock":100,"price":38000,"currency":"CNY"}'`,
    `curl -sS -w '\\n' -X POST "$BASE/admin/wallets/demo/credits" -H "Authorization: Bearer $ADMIN" ${json} -d '{"amount":100000,"currency":"CNY","reference":"topup-1"}'`,
    `ORDER=$(curl -sS -X POST "$BASE/v1/sales/demo/orders" -H "Authorization: Bearer $JWT" ${json} -d '{"quantity":1}'); printf '%s\\n' "$ORDER"`,
    `ORDER_ID=$(printf '%s' "$ORDER" | jq -r .orderId); PAY=$(printf '%s' "$ORDER" | jq -c '{paymentToken, method: "wallet"}')`,
    `PAYMENT=$(curl -sS -X POST "$BASE/v1/orders/$ORDER_ID/payments" -H "Authorization: Bearer $JWT" ${json} -d "$PAY"); printf '%s\\n' "$PAYMENT"`,
    `PAYMENT_ID=$(printf '%s' "$PAYMENT" | jq -r .paymentId)`,
    `curl -sS -w '\\n' "$BASE/v1/payments/$PAYMENT_ID" -H "Authorization: Bearer $JWT"`,
  ];
}

/** A `node -e` line that mints a second buyer's JWT with the gateway's secret, wherever that lives. */
function secondBuyerLine(config: Config, secrets: Secrets): string {
  const secret = secrets.generated.includes('jwtSecret')
    ? `JSON.parse(require("fs").readFileSync(${JSON.stringify(join(config.RUSHGATE_DATA_DIR, 'secrets.json'))},"utf8")).jwtSecret`
    : 'process.env.RUSHGATE_JWT_SECRET';
  const mint = `require("hono/jwt").sign({sub:"buyer2",exp:Math.floor(Date.now()/1000)+3600},${secret}).then(console.log)`;
  return `JWT2=$(node -e ${shellWord(mint)})`;
}

async function banner(
  config: Config,
  secrets: Secrets,
  redisLabel: string,
  embedded: boolean,
  worker: boolean,
  processes: number,
) {
  const base = `http://${config.HOST}:${config.PORT}`;
  const demoJwt = await sign({ sub: 'demo', exp: Math.floor(Date.now() / 1000) + 3600 }, secrets.jwtSecret);
  const indent = (lines: string[]) => lines.map((line) => `  ${line}`);
  const lines = [
    `rushgate listening on ${base}`,
    ...(processes > 1
      ? [
          `processes: ${processes} serving HTTP (RUSHGATE_PROCESSES), plus the primary (pid ${process.pid}) holding the ledger`,
        ]
      : []),
    `redis: ${redisLabel}${embedded ? ` (embedded, AOF in ${embeddedRedisDir(resolve(config.RUSHGATE_DATA_DIR))})` : ''}`,
    `ledger: ${config.DATABASE_URL ? 'Postgres (DATABASE_URL)' : `PGlite in ${embeddedLedgerDir(resolve(config.RUSHGATE_DATA_DIR))}`}; payment worker: ${worker ? (processes > 1 ? 'in the primary process' : 'in this process') : 'off (RUSHGATE_WORKER=off)'}`,
    `payment channels: ${config.RUSHGATE_CHANNELS.length ? `${config.RUSHGATE_CHANNELS.join(', ')} (SIMULATED: no real money)` : 'none (wallet only)'}`,
    `admin token: ${secrets.adminToken}${secrets.generated.includes('adminToken') ? ` (generated, saved in ${config.RUSHGATE_DATA_DIR}/secrets.json)` : ''}`,
    `demo buyer JWT (sub "demo", 1 h): ${demoJwt}`,
    `ops view: open ${base}/admin/ in a browser; any user name, the admin token as password`,
    'try: paste these lines in order into a POSIX shell such as bash (needs curl and jq)',
    ...indent(tryLines(base, secrets.adminToken, demoJwt)),
    `a second buyer's JWT (sub "buyer2", 1 h) into $JWT2, run in the directory npm start runs in${secrets.generated.includes('jwtSecret') ? '' : ' with RUSHGATE_JWT_SECRET exported'}:`,
    ...indent([secondBuyerLine(config, secrets)]),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** What serves HTTP needs, in one process or in each cluster child. */
interface ServingParts {
  redis: RedisPort;
  log: Logger;
  ledger: LedgerView;
  metrics: Metrics;
  secrets: Secrets;
  channels: ReadonlyMap<string, PaymentChannel>;
}

/** Whatever serves HTTP: the app in this process, or the cluster's children. */
interface Gateway {
  /** Stops taking connections and lets the requests in progress finish. */
  stop(): Promise<void>;
}

/** Serves the app on HOST:PORT from this process; resolves once it listens. */
async function serveGateway(
  config: Config,
  { redis, log, ledger, metrics, secrets, channels }: ServingParts,
): Promise<Gateway> {
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
  const server = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST });
  try {
    await new Promise<void>((listening, failed) => {
      server.once('listening', listening);
      server.once('error', (err) =>
        failed(new Error(`cannot listen on ${config.HOST}:${config.PORT}: ${err.message}`)),
      );
    });
  } catch (err) {
    limits.stop();
    await tally.stop();
    throw err;
  }
  return {
    stop: async () => {
      await new Promise((done) => server.close(done));
      limits.stop();
      await tally.stop();
    },
  };
}

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
  const log = pino({ level: config.RUSHGATE_LOG_LEVEL, base: { service: 'rushgate' } });
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
  const redis = timedPort(ioredisPort(client, replicaWait(config)), metrics.redisSeconds);
  let ledger: Ledger;
  try {
    ledger = await openLedger(config, dataDir);
  } catch (err) {
    client.disconnect();
    await embedded?.stop();
    fail(`cannot open the ledger: ${(err as Error).message}`);
  }
  const channels = simulatedChannels(
    config.RUSHGATE_CHANNELS,
    secrets.channelSecret,
    `http://${config.HOST}:${config.PORT}`,
  );
  const sweeper = new HoldSweeper(redis, log, { intervalMs: config.RUSHGATE_SWEEP_INTERVAL_MS });
  sweeper.start();
  // payment outcomes per sale, for the ops view
  const outcomes = config.RUSHGATE_WORKER === 'on' ? startTally(redis, log) : undefined;
  const worker =
    outcomes && new PaymentWorker(redis, ledger, log, { ...workerOptions(config, channels), metrics, tally: outcomes });
  worker?.start();
  // the ledger is the truth: Redis is reconciled to it where the worker runs
  const reconciler = worker && startReconciler(redis, ledger, log, config);

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
    await reconciler?.stop();
    await worker?.stop();
    await outcomes?.stop();
    await sweeper.stop();
    await ledger.close();
    client.disconnect();
    await embedded?.stop();
    // a child that exits with 1 has printed its own line (failStartup): one line is enough
    if (err instanceof ChildExitedAtStartup && err.code === 1) process.exit(1);
    fail((err as Error).message);
  }
  void banner(config, secrets, describeTarget(target), embedded !== undefined, worker !== undefined, processes);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    // the children first: they may still be calling the ledger
    await gateway.stop();
    await reconciler?.stop();
    await worker?.stop();
    await outcomes?.stop();
    await sweeper.stop();
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

/**
 * A cluster child: serves HTTP on the socket it shares with its siblings. The ledger and the
 * metrics of the other processes are the primary's, reached over IPC.
 */
async function gatewayChild(): Promise<void> {
  const config = configOrExit('rushgate');
  const log = pino({ level: config.RUSHGATE_LOG_LEVEL, base: { service: 'rushgate', pid: process.pid } });
  // every secret is in the environment the primary gave: nothing is generated or written here
  const secrets = loadSecrets(config, resolve(config.RUSHGATE_DATA_DIR));
  let client: RedisClient;
  try {
    client = await connectRedis(redisTarget(config)!, config.RUSHGATE_REDIS_TIMEOUT_MS, log);
  } catch (err) {
    fail((err as Error).message);
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
  const redis = timedPort(ioredisPort(client, replicaWait(config)), metrics.redisSeconds);
  const channels = simulatedChannels(
    config.RUSHGATE_CHANNELS,
    secrets.channelSecret,
    `http://${config.HOST}:${config.PORT}`,
  );
  let gateway: Gateway;
  try {
    gateway = await serveGateway(config, { redis, log, ledger: ledgerOverIpc(primary), metrics, secrets, channels });
  } catch (err) {
    client.disconnect();
    fail((err as Error).message);
  }
  // Ctrl-C signals the whole process group: the primary decides, and stops its children with SIGTERM
  process.on('SIGINT', () => {});
  process.once('SIGTERM', async () => {
    await gateway.stop();
    await client.quit().catch(() => client.disconnect());
    process.exit(0);
  });
}

void (cluster.isWorker ? gatewayChild() : main());
