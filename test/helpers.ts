import { serve, type ServerType } from '@hono/node-server';
import { sign } from 'hono/jwt';
import { Redis } from 'ioredis';
import type { AddressInfo } from 'node:net';
import { afterAll, expect, inject } from 'vitest';
import { createApp, type AppDeps } from '../src/app.js';
import { LimitsStore } from '../src/limits/limits-store.js';
import { LimitsWatcher } from '../src/limits/limits-watcher.js';
import type { Policies } from '../src/limits/policies.js';
import { silentLogger } from '../src/logger.js';
import { SimulatedChannel } from '../src/channels/simulated-channel.js';
import { nodeCrypto, nodeHmacSha256 } from '../src/runtime/node/crypto.js';
import { startEmbeddedRedis } from '../src/runtime/node/embedded-redis.js';
import { gatewayRedisOptions, ioredisPort } from '../src/runtime/node/ioredis-port.js';

export const JWT_SECRET = 'test-jwt-secret-0123456789abcdef0123456789';
export const ADMIN_TOKEN = 'test-admin-token-0123456789';
export const TOKEN_SECRET = 'test-token-secret-0123456789abcdef012345';
export const CHANNEL_SECRET = 'test-channel-secret-0123456789abcdef0123';

let counter = 0;
/** A name unique to this test run, so tests never share a sale or a buyer. */
export const unique = (prefix: string) =>
  `${prefix}-${process.pid}-${Date.now().toString(36)}-${(counter++).toString(36)}`;

let fileRedisUrl: string | undefined;
const redisUrl = () => fileRedisUrl ?? inject('redisUrl');

/**
 * Gives the calling test file a redis-server of its own. Payment workers read every sale's
 * lanes, so a file that runs workers must not share Redis with files that expect `queued`.
 */
export async function privateRedis(): Promise<string> {
  const server = await startEmbeddedRedis();
  afterAll(() => server.stop());
  fileRedisUrl = server.url;
  return server.url;
}

/** Points the calling test file at a Redis it runs itself (a fault test that kills and restarts it). */
export function useRedis(url: string): void {
  fileRedisUrl = url;
}

/** A raw client on the test Redis, for looking at state behind the API. */
export function testRedis(): Redis {
  const client = new Redis(redisUrl());
  afterAll(() => client.quit());
  return client;
}

/**
 * Until a test sets policies, limits high enough that no test is refused by them (the shared
 * Redis never gets policies set; test/limits has a Redis of its own).
 */
export const PERMISSIVE_POLICIES: Policies = {
  orders: { perUser: { limit: 1_000_000, windowSeconds: 1, dryRun: false } },
  payments: { perUser: { limit: 1_000_000, windowSeconds: 1, dryRun: false } },
};

/** The gateway on the test Redis, connected; closed after the file's tests. */
export async function testApp(overrides: Partial<AppDeps> = {}, defaults: Policies = PERMISSIVE_POLICIES) {
  const client = new Redis(redisUrl(), { ...gatewayRedisOptions(2000), lazyConnect: true });
  await client.connect();
  afterAll(() => client.quit());
  const redis = ioredisPort(client);
  const limits = new LimitsWatcher(new LimitsStore(redis, defaults), silentLogger, { intervalMs: 200 });
  await limits.start();
  afterAll(() => limits.stop());
  const app = createApp({
    limits,
    redis,
    log: silentLogger,
    jwtSecret: JWT_SECRET,
    adminToken: ADMIN_TOKEN,
    tokenSecret: TOKEN_SECRET,
    channels: new Map([['alipay', new SimulatedChannel('alipay', nodeHmacSha256(CHANNEL_SECRET), async () => {})]]),
    crypto: nodeCrypto,
    clientAddress: (c) => c.req.header('X-Test-Address'),
    ...overrides,
  });
  return { app, redis, client, limits };
}

export type App = Awaited<ReturnType<typeof testApp>>['app'];

/** A buyer JWT (HS256) for `userId`, valid for an hour unless claims say otherwise. */
export function buyerJwt(userId: string, claims: Record<string, unknown> = {}): Promise<string> {
  return sign({ sub: userId, exp: Math.floor(Date.now() / 1000) + 3600, ...claims }, JWT_SECRET);
}

export interface CallOptions {
  body?: unknown;
  rawBody?: string;
  token?: string;
  headers?: Record<string, string>;
}

/** One request through app.request(); returns status, headers and parsed JSON body. */
export async function call(app: App, method: string, path: string, options: CallOptions = {}) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['Content-Type'] ??= 'application/json';
  }
  const res = await app.request(path, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

export const admin = (app: App, method: string, path: string, body?: unknown) =>
  call(app, method, path, { token: ADMIN_TOKEN, ...(body === undefined ? {} : { body }) });

/** Creates an open sale (201) and returns its id. */
export async function createSale(app: App, fields: Record<string, unknown> = {}): Promise<string> {
  const saleId = unique('sale');
  const res = await admin(app, 'PUT', `/admin/sales/${saleId}`, { stock: 10, price: 38000, currency: 'CNY', ...fields });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return saleId;
}

/** A buyer: its userId and JWT. */
export async function buyer(claims: Record<string, unknown> = {}) {
  const userId = unique('u');
  return { userId, jwt: await buyerJwt(userId, claims) };
}

/** Places an order (expects 201) and returns its body. */
export async function placeOrder(app: App, saleId: string, jwt: string, quantity = 1) {
  const res = await call(app, 'POST', `/v1/sales/${saleId}/orders`, { token: jwt, body: { quantity } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { orderId: string; paymentToken: string; expiresAt: string; amount: number };
}

/** Pays an order with its token. */
export const pay = (app: App, orderId: string, jwt: string, paymentToken: string, method = 'wallet') =>
  call(app, 'POST', `/v1/orders/${orderId}/payments`, { token: jwt, body: { paymentToken, method } });

/** Asserts an RFC 9457 problem with the API's code. */
export function expectProblem(res: { status: number; headers: Headers; body: any }, status: number, code: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status, code, type: expect.any(String), title: expect.any(String), detail: expect.any(String) });
  expect(res.headers.get('x-request-id')).toBeTruthy();
}

let inspector: Redis | undefined;

/**
 * Reads the admin view of a sale and checks its counters against the orders themselves, read
 * straight from Redis: held = units of held and paying orders, sold = units of paid orders, and
 * each buyer's units = their held + paying + paid. Call it when no request is in flight.
 */
export async function saleCounters(app: App, saleId: string) {
  const res = await admin(app, 'GET', `/admin/sales/${saleId}`);
  expect(res.status).toBe(200);
  const s = res.body;
  expect(s.available + s.held + s.sold).toBe(s.stock);
  expect(s.available).toBeGreaterThanOrEqual(0);
  if (!inspector) {
    const client = new Redis(redisUrl());
    inspector = client;
    afterAll(() => client.quit());
  }
  let held = 0;
  let sold = 0;
  const units = new Map<string, number>();
  for await (const found of inspector.scanStream({ match: `rg:{s:${saleId}}:o:*`, count: 1000 })) {
    for (const key of found as string[]) {
      const [status, quantity, userId] = await inspector.hmget(key, 'status', 'quantity', 'userId');
      const q = Number(quantity);
      if (status === 'held' || status === 'paying') held += q;
      if (status === 'paid') sold += q;
      if (status === 'held' || status === 'paying' || status === 'paid') units.set(userId!, (units.get(userId!) ?? 0) + q);
    }
  }
  expect({ held: s.held, sold: s.sold }).toEqual({ held, sold });
  const stored = await inspector.hgetall(`rg:{s:${saleId}}:users`);
  for (const userId of new Set([...Object.keys(stored), ...units.keys()])) {
    expect(Number(stored[userId] ?? 0), `units of ${userId}`).toBe(units.get(userId) ?? 0);
  }
  return s as { stock: number; available: number; held: number; sold: number; status: string; queue: { depth: number } };
}

/** The gateway served over real HTTP on a free loopback port, for parallel-request tests. */
export async function listen(app: App): Promise<string> {
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  afterAll(() => new Promise<void>((done) => server.close(() => done())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Runs `count` tasks with at most `concurrency` in flight at once. */
export async function parallel<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}
