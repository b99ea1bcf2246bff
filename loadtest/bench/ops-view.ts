/**
 * npm run bench:ops-view — what the ops view costs. In one process, on a private redis-server:
 *
 * 1. Redis round trips per buyer order, with no page open and with a page polling /admin/ops
 *    every second (the view reads aggregates only, so the two must be equal), and the tally
 *    flush's round trips per second (one script call per sale with decisions, any request rate).
 * 2. One poll of /admin/ops: its Redis round trips, response bytes and time, for the page's first
 *    read (the whole history) and for a steady poll (`?since=`), with SALES sales whose history
 *    is full (900 seconds, as a busy sale leaves it).
 *
 *   ORDERS=2000 SALES=1,20 POLLS=20 npm run bench:ops-view
 *
 * Round trips are counted at the Redis port (every command or script call the gateway makes).
 * Times are wall clock on this machine and share its CPU with everything else running.
 */
import { sign } from 'hono/jwt';
import { Redis } from 'ioredis';
import { createApp } from '../../src/app.js';
import { silentLogger } from '../../src/logger.js';
import { latencyField } from '../../src/ops/ops-health.js';
import { SaleTally } from '../../src/ops/sale-tally.js';
import { keys } from '../../src/redis/keys.js';
import type { RedisPort } from '../../src/redis/port.js';
import { startEmbeddedRedis } from '../../src/runtime/node/dev/embedded-redis.js';
import { gatewayRedisOptions, ioredisPort } from '../../src/runtime/node/adapters/ioredis-port.js';

const int = (name: string, fallback: number) => {
  const n = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
  return n;
};
const ORDERS = int('ORDERS', 2000);
const POLLS = int('POLLS', 20);
const SALES = (process.env.SALES ?? '1,20').split(',').map(Number);
const ADMIN_TOKEN = 'bench-admin-token-0123456789';
const JWT_SECRET = 'bench-jwt-secret-0123456789abcdef0123456789';

const server = await startEmbeddedRedis();
const client = new Redis(server.url, { ...gatewayRedisOptions(2000), lazyConnect: true });
await client.connect();
const port = ioredisPort(client);
/** A port that counts its calls: each is one round trip (a script call included). */
function counting(): RedisPort & { trips: number } {
  const counter = { trips: 0 };
  return new Proxy(port, {
    get: (target, name: string) => {
      if (name === 'trips') return counter.trips;
      const value = target[name as keyof RedisPort];
      return typeof value === 'function'
        ? (...args: unknown[]) => {
            counter.trips++;
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          }
        : value;
    },
  }) as RedisPort & { trips: number };
}
// two gateway instances on one Redis, as in a fleet: buyers on one, the ops page on the other
// (the page on the buyers' instance costs it the same: it reads nothing the buyer path writes per request)
const buyerPort = counting();
const viewPort = counting();
const tallyPort = counting();
const tally = new SaleTally(tallyPort);
const secrets = {
  log: silentLogger,
  jwtSecret: JWT_SECRET,
  adminToken: ADMIN_TOKEN,
  tokenSecret: 'bench-token-secret-0123456789abcdef012345',
};
const app = createApp({ redis: buyerPort, tally, ...secrets });
const view = createApp({ redis: viewPort, ...secrets });
const adminHeaders = { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' };

async function createSale(saleId: string, stock: number): Promise<void> {
  const res = await app.request(`/admin/sales/${saleId}`, {
    method: 'PUT',
    headers: adminHeaders,
    body: JSON.stringify({ stock, price: 38000, currency: 'CNY', perUserLimit: 1 }),
  });
  if (res.status !== 201) throw new Error(`cannot create ${saleId}: ${res.status} ${await res.text()}`);
}

const exp = Math.floor(Date.now() / 1000) + 3600;
let buyerN = 0;
async function orders(saleId: string, count: number): Promise<number> {
  const jwts = await Promise.all(
    Array.from({ length: count }, () => sign({ sub: `bench-${buyerN++}`, exp }, JWT_SECRET)),
  );
  const before = buyerPort.trips;
  for (let i = 0; i < count; i += 50) {
    await Promise.all(
      jwts.slice(i, i + 50).map((jwt) =>
        app.request(`/v1/sales/${saleId}/orders`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${jwt}`, 'Content-Type': 'application/json' },
          body: '{}',
        }),
      ),
    );
  }
  return (buyerPort.trips - before) / count;
}

async function poll(query: string): Promise<{ trips: number; bytes: number; ms: number }> {
  const before = viewPort.trips;
  const started = performance.now();
  const res = await view.request(`/admin/ops${query}`, { headers: adminHeaders });
  const body = await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`/admin/ops: ${res.status}`);
  return { trips: viewPort.trips - before, bytes: body.byteLength, ms: performance.now() - started };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const lines: string[] = [];

// ---- 1. per buyer request, without and with a page polling ----
await createSale('bench-quiet', ORDERS * 3);
const quiet = await orders('bench-quiet', ORDERS);
let polling = true;
let polls = 0;
const poller = (async () => {
  while (polling) {
    await poll('');
    polls++;
    await new Promise((r) => setTimeout(r, 1000));
  }
})();
const started = performance.now();
const watched = await orders('bench-quiet', ORDERS);
const seconds = (performance.now() - started) / 1000;
polling = false;
await poller;
await tally.flush(); // the first call of a script may load it (NOSCRIPT): count a steady one
tally.count('bench-quiet', 'order:admitted', ORDERS);
const flushBefore = tallyPort.trips;
await tally.flush();
const flushTrips = tallyPort.trips - flushBefore;
lines.push(`| buyer order, no page open | ${quiet.toFixed(2)} round trips per order |`);
lines.push(
  `| buyer order, a page polling every 1 s (${polls} polls in ${seconds.toFixed(1)} s) | ${watched.toFixed(2)} round trips per order |`,
);
lines.push(
  `| tally flush (any number of requests since the last) | ${flushTrips} round trip(s) per sale with decisions, once a second |`,
);

// ---- 2. one poll, with full histories ----
for (const sales of SALES) {
  await client.flushall();
  const nowSecond = Math.floor((await port.timeMs()) / 1000);
  for (let s = 0; s < sales; s++) {
    const saleId = `bench-sale-${s}`;
    await createSale(saleId, 40_000);
    // 900 seconds of a busy sale: every kind of decision, outcome and latency bucket
    const history: Record<string, string> = { first: String(nowSecond - 899) };
    for (let t = nowSecond - 899; t <= nowSecond; t++) {
      history[t] = JSON.stringify({
        'order:admitted': 40,
        'order:replayed': 3,
        'order:sold_out': 900,
        'order:rate_limited': 12,
        'payment:admitted': 40,
        'payment:replayed': 9,
        'payment:token_invalid': 1,
        'outcome:succeeded': 39,
        'outcome:failed': 1,
        'failure:insufficient_funds': 1,
        'h.http:total': 1005,
        [latencyField('lat', 3)]: 900,
        [latencyField('lat', 20)]: 100,
        [latencyField('lat', 200)]: 5,
        [latencyField('lag', 40)]: 30,
        [latencyField('lag', 300)]: 10,
        'seats:held': 300,
        'seats:sold': 20_000,
      });
    }
    await client.hset(keys.history(saleId), history);
  }
  const first: { trips: number; bytes: number; ms: number }[] = [];
  const steady: { trips: number; bytes: number; ms: number }[] = [];
  for (let i = 0; i < POLLS; i++) {
    first.push(await poll(''));
    steady.push(await poll(`?since=${nowSecond - 3}`));
  }
  lines.push(
    `| first read, ${sales} sale(s), 900 s of history each | ${first[0]!.trips} round trips, ${(median(first.map((p) => p.bytes)) / 1024).toFixed(0)} KiB, ${median(first.map((p) => p.ms)).toFixed(1)} ms (median of ${POLLS}) |`,
  );
  lines.push(
    `| steady poll (?since=), ${sales} sale(s) | ${steady[0]!.trips} round trips, ${(median(steady.map((p) => p.bytes)) / 1024).toFixed(1)} KiB, ${median(steady.map((p) => p.ms)).toFixed(1)} ms (median of ${POLLS}) |`,
  );
}

process.stdout.write(['| what | cost |', '| --- | --- |', ...lines, ''].join('\n'));
client.disconnect();
await server.stop();
