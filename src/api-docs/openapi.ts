/**
 * The OpenAPI 3.1 document of the gateway, built from the same zod schemas the routes validate
 * their bodies with (zod's own `z.toJSONSchema`; OpenAPI 3.1 schemas are JSON Schema 2020-12).
 * It is a separate module the routes know nothing of: no middleware, nothing on a request's path
 * but GET /openapi.json itself, which builds it once. The routes' prose contract is docs/api.md;
 * a test checks that this document and the app's routes list the same operations.
 */
import { z } from 'zod';
import { Block, PutLimits, Rollback } from '../limits/limits-routes.js';
import { OrderBody } from '../orders/orders-routes.js';
import { PaymentBody } from '../payments/payments-routes.js';
import { SaleBody } from '../sales/sales-routes.js';
import { CreditBody, CreditsBody } from '../wallets/wallets-routes.js';

type Auth = 'buyer' | 'admin' | 'channel' | 'none';

/** One operation as the document lists it; `path` is in OpenAPI form (`{saleId}`). */
export interface ApiOperation {
  method: 'get' | 'put' | 'post' | 'delete';
  path: string;
  tag: string;
  summary: string;
  description?: string;
  auth: Auth;
  body?: z.ZodType;
  /** The success status and what it answers. */
  ok: { status: number; description: string; type?: string };
  headers?: string[];
}

const idParam = (pattern: string, description: string) => ({ type: 'string', pattern, description });

/** Path parameters by name. */
const PATH_PARAMS: Record<string, object> = {
  saleId: idParam('^[A-Za-z0-9_.:-]{1,64}$', 'the sale, named by ops; malformed is 400'),
  userId: idParam('^[A-Za-z0-9_.:-]{1,64}$', 'the buyer; malformed is 400'),
  orderId: { type: 'string', description: 'minted by the gateway (`ord_…`); malformed names nothing: 404' },
  paymentId: { type: 'string', description: 'minted by the gateway (`pay_…`); malformed names nothing: 404' },
  address: { type: 'string', description: 'an IPv4 or IPv6 address (IPv6 compared by its /64)' },
  channel: { type: 'string', description: 'a configured payment channel (e.g. `alipay`)' },
};

const HEADER_PARAMS: Record<string, object> = {
  'Idempotency-Key': {
    name: 'Idempotency-Key',
    in: 'header',
    required: false,
    description: '1..255 printable ASCII characters; the same key answers the first result again',
    schema: { type: 'string', pattern: '^[\\x20-\\x7e]{1,255}$' },
  },
  'Rushgate-Signature': {
    name: 'Rushgate-Signature',
    in: 'header',
    required: true,
    description: "the channel's HMAC over the body, with a timestamp",
    schema: { type: 'string' },
  },
};

/** Every operation the gateway answers, in the order of docs/api.md. */
export const API_OPERATIONS: readonly ApiOperation[] = [
  // sales
  {
    method: 'put',
    path: '/admin/sales/{saleId}',
    tag: 'Sales',
    summary: 'Create or update a sale',
    description: '201 when created, 200 when updated; `stock_conflict`, `sale_locked`.',
    auth: 'admin',
    body: SaleBody,
    ok: { status: 200, description: 'the sale (201 when it was created)' },
  },
  {
    method: 'get',
    path: '/admin/sales/{saleId}',
    tag: 'Sales',
    summary: "A sale's live counters",
    description: 'Live counters and `queue.depth`, all from one consistent read.',
    auth: 'admin',
    ok: { status: 200, description: 'the sale with counters' },
  },
  {
    method: 'get',
    path: '/v1/sales/{saleId}',
    tag: 'Sales',
    summary: "A sale's public view",
    description: 'No auth; `Cache-Control: public, max-age=1`.',
    auth: 'none',
    ok: { status: 200, description: 'the public view of the sale' },
  },
  // orders
  {
    method: 'post',
    path: '/v1/sales/{saleId}/orders',
    tag: 'Orders',
    summary: 'Hold stock for an order',
    description: '`Idempotency-Key`; `sale_not_open` (with Retry-After), `sale_closed`, `sold_out`, `limit_exceeded`.',
    auth: 'buyer',
    body: OrderBody,
    headers: ['Idempotency-Key'],
    ok: { status: 201, description: 'the held order and its single-use payment token' },
  },
  {
    method: 'get',
    path: '/v1/orders/{orderId}',
    tag: 'Orders',
    summary: 'Read an order',
    description: 'The token is never shown.',
    auth: 'buyer',
    ok: { status: 200, description: 'the order' },
  },
  {
    method: 'delete',
    path: '/v1/orders/{orderId}',
    tag: 'Orders',
    summary: 'Cancel an order',
    description: 'Idempotent; `payment_pending`, `order_paid`.',
    auth: 'buyer',
    ok: { status: 200, description: 'the cancelled order' },
  },
  {
    method: 'post',
    path: '/v1/orders/{orderId}/tokens',
    tag: 'Orders',
    summary: 'Mint a new payment token',
    description: 'Supersedes the previous token; `payment_pending`, `order_paid`, `order_closed`.',
    auth: 'buyer',
    ok: { status: 201, description: 'the new token' },
  },
  // payments
  {
    method: 'post',
    path: '/v1/orders/{orderId}/payments',
    tag: 'Payments',
    summary: 'Pay an order with its token',
    description:
      '202 + `Location`; a replay answers the first result; `token_invalid`, `payment_pending`, `order_paid`, ' +
      '`order_closed`, 422.',
    auth: 'buyer',
    body: PaymentBody,
    ok: { status: 202, description: 'the payment, queued' },
  },
  {
    method: 'get',
    path: '/v1/payments/{paymentId}',
    tag: 'Payments',
    summary: 'Read a payment',
    description: 'The current `position` while `queued`.',
    auth: 'buyer',
    ok: { status: 200, description: 'the payment' },
  },
  // wallets
  {
    method: 'post',
    path: '/admin/wallets/{userId}/credits',
    tag: 'Wallets',
    summary: "Credit a buyer's wallet",
    description:
      '201, then 200 for the same `reference` (credits nothing); the same reference with another amount or ' +
      'currency is 422 `idempotency_key_reused`.',
    auth: 'admin',
    body: CreditBody,
    ok: { status: 201, description: 'the credit (200 for a replay)' },
  },
  {
    method: 'post',
    path: '/admin/wallets/credits',
    tag: 'Wallets',
    summary: 'Credit many wallets at once',
    description:
      'Up to 200 credits in one transaction, each idempotent by `(userId, reference)`; 201 when one was new, ' +
      '200 when all were replays; one reused reference is 422 and credits nothing. For load tests and bulk ' +
      'top-ups: not in API.md.',
    auth: 'admin',
    body: CreditsBody,
    ok: { status: 201, description: 'the credits (200 when all were replays)' },
  },
  {
    method: 'get',
    path: '/admin/sales/{saleId}/charges',
    tag: 'Wallets',
    summary: "The ledger's charges for a sale",
    description:
      "The ledger's charges for a sale, refunds, the amount retained, and the charges kept per order (the load " +
      "tests' double-charge check); not in API.md.",
    auth: 'admin',
    ok: { status: 200, description: 'charges, refunds and the amount retained' },
  },
  {
    method: 'get',
    path: '/v1/wallet',
    tag: 'Wallets',
    summary: "The caller's wallet",
    description: "The caller's balances by currency.",
    auth: 'buyer',
    ok: { status: 200, description: 'balances by currency' },
  },
  // limits and blocklist
  {
    method: 'get',
    path: '/admin/limits',
    tag: 'Limits',
    summary: 'The rate-limit policies',
    description: 'The installed version and policies, with `dryRunRefusals`.',
    auth: 'admin',
    ok: { status: 200, description: 'version, policies and dry-run refusals' },
  },
  {
    method: 'put',
    path: '/admin/limits',
    tag: 'Limits',
    summary: 'Install new policies',
    description:
      'The shape of API.md plus `orders.perAddress`, `orders.perSale`, `payments.perAddress`, `others.perUser`, ' +
      '`autoBlock`, `dryRun` per window. Every instance follows within a second.',
    auth: 'admin',
    body: PutLimits,
    ok: { status: 200, description: 'the installed version' },
  },
  {
    method: 'get',
    path: '/admin/limits/history',
    tag: 'Limits',
    summary: 'Policy history',
    description: 'The last 100 versions with what changed.',
    auth: 'admin',
    ok: { status: 200, description: 'the versions, newest first' },
  },
  {
    method: 'post',
    path: '/admin/limits/rollback',
    tag: 'Limits',
    summary: 'Roll back to an old version',
    description: 'Installs an old version as a new one.',
    auth: 'admin',
    body: Rollback,
    ok: { status: 200, description: 'the installed version and `rolledBackTo`' },
  },
  {
    method: 'put',
    path: '/admin/blocklist/{userId}',
    tag: 'Limits',
    summary: 'Block a buyer',
    description: '403 `blocked` on orders and payments, on every instance within 1 s.',
    auth: 'admin',
    body: Block,
    ok: { status: 200, description: 'the block and when it ends' },
  },
  {
    method: 'delete',
    path: '/admin/blocklist/{userId}',
    tag: 'Limits',
    summary: 'Unblock a buyer',
    auth: 'admin',
    ok: { status: 204, description: 'unblocked (or was not blocked)' },
  },
  {
    method: 'put',
    path: '/admin/blocklist/addresses/{address}',
    tag: 'Limits',
    summary: 'Block a network address',
    description: '403 `blocked` on orders and payments, on every instance within 1 s.',
    auth: 'admin',
    body: Block,
    ok: { status: 200, description: 'the block and when it ends' },
  },
  {
    method: 'delete',
    path: '/admin/blocklist/addresses/{address}',
    tag: 'Limits',
    summary: 'Unblock a network address',
    auth: 'admin',
    ok: { status: 204, description: 'unblocked (or was not blocked)' },
  },
  // channels
  {
    method: 'post',
    path: '/v1/channels/{channel}/notifications',
    tag: 'Channels',
    summary: "A payment channel's notification",
    description: 'Signed by the channel (`Rushgate-Signature`); each event id counts once. Not in API.md.',
    auth: 'channel',
    headers: ['Rushgate-Signature'],
    ok: { status: 200, description: 'noted' },
  },
  // operations
  {
    method: 'get',
    path: '/healthz',
    tag: 'Operations',
    summary: 'Liveness',
    auth: 'none',
    ok: { status: 200, description: '`{ "status": "ok" }`' },
  },
  {
    method: 'get',
    path: '/readyz',
    tag: 'Operations',
    summary: 'Readiness',
    description: '503 `unavailable` when Redis (or the ledger, when the process has one) does not answer.',
    auth: 'none',
    ok: { status: 200, description: '`{ "status": "ready", "checks": … }`' },
  },
  {
    method: 'get',
    path: '/metrics',
    tag: 'Operations',
    summary: 'Prometheus metrics',
    description: 'Prometheus text (prom-client); sale gauges are read from Redis when scraped.',
    auth: 'none',
    ok: { status: 200, description: 'Prometheus text exposition', type: 'text/plain' },
  },
  {
    method: 'get',
    path: '/admin',
    tag: 'Operations',
    summary: 'Redirects to the ops view',
    auth: 'admin',
    ok: { status: 301, description: 'to `/admin/`' },
  },
  {
    method: 'get',
    path: '/admin/',
    tag: 'Operations',
    summary: 'The ops view (a page)',
    auth: 'admin',
    ok: { status: 200, description: 'the ops page', type: 'text/html' },
  },
  {
    method: 'get',
    path: '/admin/ops',
    tag: 'Operations',
    summary: "The ops view's snapshot",
    description: "Every sale's live counters, queue depth per lane and tally, summed over every instance.",
    auth: 'admin',
    ok: { status: 200, description: 'the sales, newest opening first' },
  },
  // this reference
  {
    method: 'get',
    path: '/openapi.json',
    tag: 'Reference',
    summary: 'This document',
    auth: 'none',
    ok: { status: 200, description: 'the OpenAPI 3.1 document' },
  },
  {
    method: 'get',
    path: '/docs',
    tag: 'Reference',
    summary: 'The interactive API reference (a page)',
    auth: 'none',
    ok: { status: 200, description: 'the reference page', type: 'text/html' },
  },
  {
    method: 'get',
    path: '/docs/scalar.js',
    tag: 'Reference',
    summary: "The reference page's script, served by the gateway itself",
    auth: 'none',
    ok: { status: 200, description: 'JavaScript', type: 'text/javascript' },
  },
];

const SECURITY: Record<Auth, object[]> = {
  buyer: [{ buyerJwt: [] }],
  admin: [{ adminToken: [] }, { adminBasic: [] }],
  channel: [],
  none: [],
};

/** RFC 9457, as every refusal is answered. */
const Problem = z.looseObject({
  type: z.string().describe('`urn:rushgate:problem:<code>`'),
  title: z.string(),
  status: z.number().int(),
  code: z.string().describe('the stable, machine-readable name (docs/api.md, Error codes)'),
  detail: z.string(),
  instance: z.string().describe('the request path'),
  errors: z
    .array(z.object({ path: z.string(), message: z.string() }))
    .optional()
    .describe('on a 400 from validation'),
});

/** A request body's schema as JSON Schema 2020-12, as it is sent (before defaults and transforms). */
function bodySchema(schema: z.ZodType): object {
  // a pipe (PUT /admin/limits: a hint for a bare policies object first) is documented by what it ends in
  const sent = schema instanceof z.ZodPipe ? (schema.out as z.ZodType) : schema;
  const { $schema: _, ...json } = z.toJSONSchema(sent, { io: 'input', unrepresentable: 'any' });
  return json;
}

/** `postV1SalesSaleIdOrders`: the method, then the path in camel case (`/admin/` is `getAdminIndex`). */
const operationId = (op: ApiOperation) =>
  op.method +
  op.path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, ch: string | undefined) => (ch ?? '').toUpperCase()) +
  (op.path.length > 1 && op.path.endsWith('/') ? 'Index' : '');

function operationObject(op: ApiOperation): object {
  const params = [...op.path.matchAll(/\{([^}]+)\}/g)].map(([, name]) => ({
    name,
    in: 'path',
    required: true,
    schema: PATH_PARAMS[name!] ?? { type: 'string' },
  }));
  const headers = (op.headers ?? []).map((name) => HEADER_PARAMS[name]);
  const okContent =
    op.ok.status === 204 || op.ok.status === 301
      ? {}
      : { content: { [op.ok.type ?? 'application/json']: { schema: op.ok.type ? { type: 'string' } : {} } } };
  return {
    tags: [op.tag],
    summary: op.summary,
    ...(op.description === undefined ? {} : { description: op.description }),
    operationId: operationId(op),
    security: SECURITY[op.auth],
    ...(params.length + headers.length > 0 ? { parameters: [...params, ...headers] } : {}),
    ...(op.body
      ? { requestBody: { required: false, content: { 'application/json': { schema: bodySchema(op.body) } } } }
      : {}),
    responses: {
      [String(op.ok.status)]: { description: op.ok.description, ...okContent },
      default: {
        description: 'a refusal or a fault, as RFC 9457 problem details (Retry-After on 429 and 503)',
        content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
      },
    },
  };
}

/** Builds the OpenAPI 3.1 document from API_OPERATIONS and the routes' body schemas. */
export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, object>> = {};
  for (const op of API_OPERATIONS) (paths[op.path] ??= {})[op.method] = operationObject(op);
  const { $schema: _, ...problemSchema } = z.toJSONSchema(Problem);
  return {
    openapi: '3.1.0',
    info: {
      title: 'rushgate',
      version: 'v1',
      description:
        'Flash-sale checkout gateway. JSON in and out; errors are RFC 9457 problem details with a stable `code`; ' +
        'every response carries `X-Request-Id`. The contract in prose, with every status and error code, is ' +
        'docs/api.md in the repository.',
    },
    tags: ['Sales', 'Orders', 'Payments', 'Wallets', 'Limits', 'Channels', 'Operations', 'Reference'].map((name) => ({
      name,
    })),
    paths,
    components: {
      schemas: { Problem: problemSchema },
      securitySchemes: {
        buyerJwt: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'HS256, claims sub, exp, tier' },
        adminToken: { type: 'http', scheme: 'bearer', description: 'RUSHGATE_ADMIN_TOKEN' },
        adminBasic: { type: 'http', scheme: 'basic', description: 'the admin token as the password (browsers)' },
      },
    },
  };
}
