import { Hono, type Context } from 'hono';
import { docsRoutes } from './api-docs/docs-routes.js';
import { bodyRules } from './http/body.js';
import { adminAuth, buyerAuth, cachedJwtVerifier, webJwtVerifier, type JwtVerifier } from './http/auth.js';
import { webHmacSha256, type HmacSha256 } from './hmac.js';
import { problem, ProblemError } from './http/problem.js';
import { refusalResponse } from './http/refusal-problems.js';
import { Refusal } from './refusal.js';
import { requestIds, type RequestIdEnv } from './http/respond.js';
import type { PaymentChannel } from './channels/channel.js';
import { notificationsRoutes } from './channels/notifications-routes.js';
import type { LedgerView } from './ledger/ledger.js';
import { adminLedgerRoutes } from './ledger/ledger-routes.js';
import { LedgerUnavailableError } from './ledger/sql-port.js';
import { LimitsStore } from './limits/limits-store.js';
import { admission, adminLimitsRoutes } from './limits/limits-routes.js';
import { normalizeAddress } from './limits/address.js';
import { buyerLimiter } from './limits/buyer-limiter.js';
import { SaleWindows } from './limits/sale-windows.js';
import { staticLimits, type LimitsView, type LimitsWatcher } from './limits/limits-watcher.js';
import type { Logger } from './logger.js';
import { healthRoutes, metricsRoutes } from './ops/health-routes.js';
import { metricsMiddleware, noMetrics, type Metrics } from './ops/metrics.js';
import { opsRoutes } from './ops/ops-routes.js';
import type { SaleTally } from './ops/sale-tally.js';
import { shedLoad } from './ops/shed-load.js';
import { InFlight } from './orders/in-flight.js';
import { OrderStore } from './orders/order-store.js';
import { ordersRoutes } from './orders/orders-routes.js';
import { PaymentStore } from './payments/payment-store.js';
import { UnknownPayments } from './payments/unknown-payments.js';
import { PaymentTokens } from './payments/payment-token.js';
import { paymentsRoutes } from './payments/payments-routes.js';
import { RedisUnavailableError, type RedisPort } from './redis/port.js';
import { SaleGate } from './sales/sale-gate.js';
import { saleStatus } from './sales/sale.js';
import { SaleStore } from './sales/sale-store.js';
import { adminSalesRoutes, publicSalesRoutes } from './sales/sales-routes.js';
import { adminWalletsRoutes, walletRoutes } from './wallets/wallets-routes.js';

export interface AppDeps {
  redis: RedisPort;
  log: Logger;
  jwtSecret: string;
  adminToken: string;
  /** Signs payment tokens. */
  tokenSecret: string;
  /** Runtime-specific crypto; Web Crypto when absent. */
  crypto?: {
    hmacSha256?: (secret: string) => HmacSha256;
    jwtVerifier?: (secret: string) => JwtVerifier;
  };
  /** This instance's copy of the rate-limit policies and blocklist (kept fresh by the runtime). */
  limits?: LimitsWatcher;
  /** The caller's network address for per-address limits (the runtime knows the socket). */
  clientAddress?: (c: Context) => string | undefined;
  /** The money truth; the wallet routes and /readyz need it. */
  ledger?: LedgerView;
  /** Payment channels by name: payment methods besides `wallet`, and notification senders. */
  channels?: ReadonlyMap<string, PaymentChannel>;
  /** Where measurements go; nothing is recorded when absent. */
  metrics?: Metrics;
  /** Per-sale decision counts for the ops view (the runtime flushes it); none when absent. */
  tally?: SaleTally;
  /** Buyer requests (/v1/*) worked on at once before 503 `overloaded` (default 4096). */
  maxInFlight?: number;
  /** How long a sold-out or closed sale is refused from memory. */
  saleCacheMs?: number;
  /** Payment methods besides `wallet` where the channels live elsewhere (the edge); the channels' names otherwise. */
  paymentMethods?: readonly string[];
  /** The sale gate, when the runtime drives its checks (`saleGate(…, { deferChecks: true })`). */
  gate?: SaleGate;
  /**
   * Routes another deployment serves (the edge leaves the ledger and /metrics to Node): each
   * path pattern is answered by `answer` before any other route.
   */
  elsewhere?: { paths: readonly string[]; answer: (c: Context) => Response | Promise<Response> };
  /** The API reference page's script (the runtime reads it from its install); /docs/scalar.js is 404 when absent. */
  apiReferenceScript?: () => Promise<string>;
}

/** The sale gate over `redis`: a sale remembered sold out or closed is checked again about once a window. */
export function saleGate(redis: RedisPort, options: { freshMs?: number; deferChecks?: boolean } = {}): SaleGate {
  const sales = new SaleStore(redis);
  return new SaleGate(
    options.freshMs ?? 1000,
    Date.now,
    async (saleId) => {
      const snapshot = await sales.read(saleId);
      const status = snapshot && saleStatus(snapshot.sale, snapshot.nowMs);
      return status === 'sold_out' || status === 'closed' ? status : null;
    },
    { deferChecks: options.deferChecks ?? false },
  );
}

type AppEnv = RequestIdEnv;

/** The gateway: Web-standard, runtime-agnostic; the runtime adapters pass its dependencies in. */
export function createApp(deps: AppDeps) {
  const { redis, log } = deps;
  const sales = new SaleStore(redis);
  // a sale remembered sold out or closed is checked again in the background about once a second
  const gate = deps.gate ?? saleGate(redis, { freshMs: deps.saleCacheMs ?? 1000 });
  const tokens = new PaymentTokens((deps.crypto?.hmacSha256 ?? webHmacSha256)(deps.tokenSecret));
  const auth = buyerAuth({
    verifyJwt: cachedJwtVerifier((deps.crypto?.jwtVerifier ?? webJwtVerifier)(deps.jwtSecret)),
  });

  const app = new Hono<AppEnv>();
  const metrics = deps.metrics ?? noMetrics;
  app.use(metricsMiddleware(metrics, deps.tally));
  app.use(requestIds());
  app.use(bodyRules());
  app.use('/v1/*', shedLoad({ maxInFlight: deps.maxInFlight ?? 4096 }));
  for (const path of deps.elsewhere?.paths ?? []) app.all(path, deps.elsewhere!.answer);

  app.route('/', healthRoutes({ redis, ...(deps.ledger ? { ledger: deps.ledger } : {}) }));
  app.route('/', metricsRoutes({ metrics, sales, redis }));
  app.route('/', docsRoutes({ referenceScript: deps.apiReferenceScript }));
  app.use('/admin/*', adminAuth({ token: deps.adminToken }));
  app.route('/admin/sales', adminSalesRoutes({ sales, gate }));
  app.route('/', opsRoutes({ redis, sales, ...(deps.ledger ? { ledger: deps.ledger } : {}) }));
  const limits: LimitsView = deps.limits ?? staticLimits;
  app.route(
    '/admin',
    adminLimitsRoutes({
      store: deps.limits?.store ?? new LimitsStore(redis),
      refresh: () => deps.limits?.refresh() ?? Promise.resolve(),
    }),
  );
  const others = buyerLimiter(redis, limits);
  const admit = {
    limits,
    windows: new SaleWindows(limits),
    clientAddress: (c: Context) => normalizeAddress(deps.clientAddress?.(c)) ?? undefined,
  };
  app.route(
    '/v1/channels',
    notificationsRoutes({ channels: deps.channels ?? new Map(), unknown: new UnknownPayments(redis) }),
  );
  if (deps.ledger) {
    app.route('/admin/wallets', adminWalletsRoutes({ ledger: deps.ledger }));
    app.route('/admin/sales', adminLedgerRoutes({ ledger: deps.ledger, sales }));
    app.route('/v1', walletRoutes({ ledger: deps.ledger, auth, others }));
  }
  app.route('/v1/sales', publicSalesRoutes({ sales, gate }));
  app.route(
    '/v1',
    ordersRoutes({
      orders: new OrderStore(redis),
      gate,
      tokens,
      inFlight: new InFlight(),
      auth,
      admission: admission('orders', admit),
      limits,
      others,
    }),
  );
  app.route(
    '/v1',
    paymentsRoutes({
      payments: new PaymentStore(redis),
      tokens,
      methods: new Set(['wallet', ...(deps.paymentMethods ?? deps.channels?.keys() ?? [])]),
      auth,
      admission: admission('payments', admit),
      others,
    }),
  );

  app.notFound((c) =>
    problem('not_found', `no route for ${c.req.method} ${c.req.path}`).toResponse(c.req.path, c.get('requestId')),
  );
  app.onError((err, c) => {
    const id = c.get('requestId');
    if (err instanceof Refusal) return refusalResponse(c, err.refused);
    if (err instanceof ProblemError) return err.toResponse(c.req.path, id);
    if (err instanceof RedisUnavailableError || err instanceof LedgerUnavailableError) {
      log.warn({ err: err.message, requestId: c.get('requestId') }, 'store unavailable');
      // a timed-out command may still have been applied: a retry with the same ids (or
      // Idempotency-Key) is answered, not applied twice
      return problem('unavailable', 'the gateway could not reach its store; retry the same request later', {
        retryAfterSeconds: 1,
      }).toResponse(c.req.path, id);
    }
    log.error({ err, requestId: c.get('requestId'), path: c.req.path }, 'unhandled error');
    return problem('internal_error', 'something went wrong on our side; quote the request id', {
      extra: { requestId: c.get('requestId') },
    }).toResponse(c.req.path, id);
  });
  return app;
}
