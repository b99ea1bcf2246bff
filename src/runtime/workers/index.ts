/**
 * rushgate on Cloudflare Workers: the same app as Node (createApp), with what a Worker allows.
 *
 * - Redis over `cloudflare:sockets`, one connection per request (a socket cannot outlive the
 *   request that opened it), found through AsyncLocalStorage by the one port the app holds.
 * - No timers: the background steps run from requests. Buyer requests (/v1/*) refresh the limits
 *   inline when the copy is a second old, in `waitUntil` from 500 ms on, so a change is enforced
 *   within 1 s; the sale tally is flushed (at most once a second) and the sale gate re-checked in
 *   `waitUntil`. No promise is kept across requests. A cron trigger, when configured, sweeps
 *   expired holds (a backstop: the sweep and the payment worker are Node's).
 * - The ledger is Node's: wallet routes, ledger reads, channel notifications and /metrics answer
 *   501 `not_served_here`; /readyz checks Redis only.
 * - The client address is CF-Connecting-IP; the configuration comes from the Worker's `env`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Context } from 'hono';
import { createApp, saleGate } from '../../app.js';
import { ConfigError } from '../../config.js';
import { problem } from '../../http/problem.js';
import { LimitsStore } from '../../limits/limits-store.js';
import { LimitsWatcher } from '../../limits/limits-watcher.js';
import type { Logger } from '../../logger.js';
import { SaleTally } from '../../ops/sale-tally.js';
import { HoldSweeper } from '../../orders/hold-sweeper.js';
import { RedisUnavailableError, type RedisPort } from '../../redis/port.js';
import type { SaleGate } from '../../sales/sale-gate.js';
import { consoleLogger, edgeConfig } from './config.js';
import { redisTarget, RequestRedis, socketPort, type RedisTarget } from './socket-redis.js';

/** Routes the edge leaves to the Node deployment (it has the ledger, the channels, the metrics). */
export const NODE_ONLY_ROUTES = [
  '/metrics',
  '/v1/wallet',
  '/admin/wallets/*',
  '/admin/sales/:saleId/charges',
  '/v1/channels/*',
] as const;

/** Limits older than this are refreshed in the background; older than LIMITS_STALE_MS, before the request. */
const LIMITS_REFRESH_MS = 500;
const LIMITS_STALE_MS = 1000;
const TALLY_FLUSH_MS = 1000;

/** What one isolate keeps between requests: plain memory, never an I/O object or a pending promise. */
interface Edge {
  app: ReturnType<typeof createApp>;
  redis: RedisPort;
  target: RedisTarget;
  log: Logger;
  limits: LimitsWatcher;
  tally: SaleTally;
  gate: SaleGate;
  lastFlushMs: number;
}

const requestRedis = new AsyncLocalStorage<RequestRedis>();

function current(): RequestRedis {
  const redis = requestRedis.getStore();
  if (redis === undefined) throw new RedisUnavailableError('Redis used outside a request');
  return redis;
}

function notServedHere(c: Context): Response {
  return problem(
    'not_served_here',
    `${c.req.method} ${c.req.path} is served by the Node gateway, not at the edge (the ledger, the payment channels and the metrics live there)`,
  ).toResponse(c.req.path, c.get('requestId') as string | undefined);
}

function boot(env: Record<string, unknown>): Edge {
  const { config, redisUrl, secrets } = edgeConfig(env);
  const log = consoleLogger(config.RUSHGATE_LOG_LEVEL);
  const target = redisTarget(redisUrl, {
    timeoutMs: config.RUSHGATE_REDIS_TIMEOUT_MS,
    waitReplicas: config.RUSHGATE_REDIS_WAIT_REPLICAS,
    waitMs: config.RUSHGATE_REDIS_WAIT_MS,
  });
  const redis = socketPort(current);
  const limits = new LimitsWatcher(new LimitsStore(redis), log);
  let lastTallyErrorMs = 0;
  const tally = new SaleTally(redis, {
    onError: (err) => {
      if (Date.now() - lastTallyErrorMs < 10_000) return;
      lastTallyErrorMs = Date.now();
      log.warn({ err: (err as Error).message }, 'cannot write the sale tally; its counts are kept for the next try');
    },
  });
  const gate = saleGate(redis, { deferChecks: true });
  const app = createApp({
    redis,
    log,
    ...secrets,
    limits,
    tally,
    gate,
    clientAddress: (c) => c.req.header('CF-Connecting-IP'),
    // accepted here, charged by the Node payment worker, which has the channels
    paymentMethods: config.RUSHGATE_CHANNELS,
    maxInFlight: config.RUSHGATE_MAX_INFLIGHT,
    elsewhere: { paths: NODE_ONLY_ROUTES, answer: notServedHere },
  });
  return { app, redis, target, log, limits, tally, gate, lastFlushMs: 0 };
}

let isolate: Edge | undefined;

/** The isolate's state, built on its first request (the env is the same for every request). */
function edgeOf(env: Record<string, unknown>): Edge {
  isolate ??= boot(env);
  return isolate;
}

let limitsFailing = false;

/** refreshLimits, when due: before the request once the copy is a second old, else in the background. */
async function freshLimits(edge: Edge, background: Promise<unknown>[]): Promise<void> {
  const refresh = () =>
    edge.limits.refresh().then(
      () => (limitsFailing = false),
      (err: unknown) => {
        if (!limitsFailing)
          edge.log.warn({ err: (err as Error).message }, 'limits refresh failing; keeping the last copy');
        limitsFailing = true;
      },
    );
  const age = edge.limits.ageMs();
  if (age >= LIMITS_STALE_MS) await refresh();
  else if (age >= LIMITS_REFRESH_MS && edge.limits.sinceStartMs() >= LIMITS_REFRESH_MS) background.push(refresh());
}

/** flushTally and checkSaleGate, when due, for the request's waitUntil. */
function afterRequest(edge: Edge, background: Promise<unknown>[]): void {
  if (edge.gate.dueChecks > 0) background.push(edge.gate.checkDue());
  const now = Date.now();
  if (edge.tally.pendingSales > 0 && now - edge.lastFlushMs >= TALLY_FLUSH_MS) {
    edge.lastFlushMs = now;
    background.push(edge.tally.flush());
  }
}

function misconfigured(err: unknown, request: Request): Response {
  const message = err instanceof ConfigError ? err.message : 'the gateway could not start';
  console.error(
    JSON.stringify({
      level: 50,
      service: 'rushgate-edge',
      msg: 'misconfigured',
      err: err instanceof Error ? err.message : String(err),
    }),
  );
  return problem('unavailable', `the edge gateway is misconfigured: ${message}`, { retryAfterSeconds: 60 }).toResponse(
    new URL(request.url).pathname,
    crypto.randomUUID(),
  );
}

export default {
  async fetch(request: Request, env: Record<string, unknown>, ctx: ExecutionContext): Promise<Response> {
    let edge: Edge;
    try {
      edge = edgeOf(env);
    } catch (err) {
      return misconfigured(err, request);
    }
    const redis = new RequestRedis(edge.target);
    return requestRedis.run(redis, async () => {
      const background: Promise<unknown>[] = [];
      try {
        if (new URL(request.url).pathname.startsWith('/v1/')) await freshLimits(edge, background);
        const response = await edge.app.fetch(request, env, ctx);
        afterRequest(edge, background);
        return response;
      } finally {
        // the socket closes once the request's background steps are done, never later
        ctx.waitUntil(Promise.allSettled(background).then(() => redis.close()));
      }
    });
  },

  /** A cron trigger: sweeps expired holds and flushes this isolate's tally (a backstop to Node's sweep). */
  async scheduled(
    _controller: ScheduledController,
    env: Record<string, unknown>,
    ctx: ExecutionContext,
  ): Promise<void> {
    const edge = edgeOf(env);
    const redis = new RequestRedis(edge.target);
    await requestRedis.run(redis, async () => {
      try {
        const expired = await new HoldSweeper(edge.redis, edge.log).sweepOnce();
        if (expired > 0) edge.log.info({ expired }, 'holds expired by the cron sweep');
        await edge.tally.flush();
      } finally {
        ctx.waitUntil(Promise.resolve().then(() => redis.close()));
      }
    });
  },
} satisfies ExportedHandler<Record<string, unknown>>;
