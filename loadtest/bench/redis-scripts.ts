/**
 * npm run bench:redis — Redis CPU per script call, with no HTTP in between: rushgate's order and
 * payment scripts against the nginx peer's token and pay scripts, on one private redis-server (no
 * persistence, as the peer's), with the same client (ioredis, auto-pipelined, C calls in flight).
 * It isolates what the scripts' bodies cost, which `npm run bench` can only show mixed with the
 * cost of reading and answering commands.
 *
 * It also answers the hot-path issue's batching question (item 5) with an upper bound: createOrder's
 * body run for B orders in one script call (B = 4, 8, 16), so the per-call cost (command parsing,
 * script lookup, the KEYS and ARGV tables, the reply) is paid once per B orders. The prototype
 * batch script exists only here.
 *
 * With PARTS=1 it also runs variants of the two scripts, each with one part removed or written
 * another way (the order as one string, or as one field of a per-sale hash: the compact records
 * the hot-path issue asked about), so what each part costs is a difference of two measurements.
 * The variants exist only here.
 *
 *   RUNS=3 N=30000 C=64 npm run bench:redis
 *   PARTS=1 RUNS=3 N=60000 npm run bench:redis
 *   PEER_DIR=path/to/nginx-lua  (default: ../shared/peers/nginx-lua beside the project)
 *
 * CPU is read from /proc/<pid>/stat (user + system, 10 ms ticks: N calls make it precise enough),
 * per measurement; the figures are medians over RUNS rounds, each round running every case in turn.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { scripts } from '../../src/redis/scripts.generated.js';
import { freePort } from '../../src/runtime/node/dev/embedded-redis.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const int = (name: string, fallback: number) => {
  const n = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
  return n;
};
const RUNS = int('RUNS', 3);
const N = int('N', 30000);
const C = int('C', 64);
const PARTS = process.env.PARTS === '1';
const PEER_DIR = process.env.PEER_DIR ?? join(HERE, '../../../shared/peers/nginx-lua');
const TICK_US = 1e6 / 100; // USER_HZ

const port = await freePort();
const server = spawn(
  'redis-server',
  ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'],
  { stdio: ['ignore', 'ignore', 'inherit'] },
);
const redis = new Redis({
  port,
  enableAutoPipelining: true,
  lazyConnect: true,
  retryStrategy: (n) => (n < 50 ? 100 : null),
});
// redis-server may not listen yet: the first connect can be refused, and ioredis's connect()
// rejects then rather than waiting for its retries
for (let attempt = 1; ; attempt++) {
  try {
    await redis.connect();
    break;
  } catch (err) {
    if (attempt >= 50) throw err;
    redis.disconnect();
    await new Promise((r) => setTimeout(r, 100));
  }
}
const cpuUs = () => {
  const fields = readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_US;
};

// --- the cases -------------------------------------------------------------------------------
const tag = 'rg:{s:bench}';
const buyer = (i: number) => `u${i % 4000}`;
const orderKeys = (i: number) => [
  `${tag}:sale`,
  `${tag}:users`,
  `${tag}:holds`,
  `${tag}:o:o${i}`,
  `${tag}:idem:-`,
  `${tag}:admission`,
  `${tag}:rl:orders.perUser:w10:${buyer(i)}`,
  `${tag}:rl:orders.perAddress:w10:-`,
];
// as the gateway calls it under `npm run bench`: no Idempotency-Key, a buyer window, no address one
const orderArgs = (i: number): (string | number)[] => [
  ...[`o${i}`, buyer(i), 1, `n${i}`, '', 90_000_000, '', '0', 'dry:v1:orders'],
  ...[1e9, 10_000, '0', '', 10_000, '0'],
];
const payKeys = (i: number) => [
  `${tag}:o:o${i}`,
  `${tag}:holds`,
  `${tag}:p:p${i}`,
  `${tag}:lanes`,
  `${tag}:lane:standard`,
  `${tag}:admission`,
  `${tag}:rl:payments.perUser:w10:${buyer(i)}`,
  `${tag}:rl:payments.perAddress:w10:-`,
];
const payArgs = (i: number): (string | number)[] => [
  ...[`o${i}`, buyer(i), `n${i}`, 'wallet', 'standard', `p${i}`, 'dry:v1:payments'],
  ...[1e9, 10_000, '0', '', 10_000, '0'],
];

/** createOrder's body as a function, run once per order of the call (the batching prototype). */
function batchSource(): string {
  const body = scripts.createOrder.source.replace(/^--\[\[[\s\S]*?\]\]\n/, '');
  const nk = scripts.createOrder.keys.length;
  const na = scripts.createOrder.args.length;
  return `local function one(KEYS, ARGV)\n${body}\nend
local out = {}
for i = 1, #KEYS / ${nk} do
  local k, a = {}, {}
  for j = 1, ${nk} do k[j] = KEYS[(i - 1) * ${nk} + j] end
  for j = 1, ${na} do a[j] = ARGV[(i - 1) * ${na} + j] end
  out[i] = one(k, a)
end
return out`;
}

/** A script reply array must carry code 0 (a batch: each of its replies); a peer's integer, >= 0. */
const ok = (reply: unknown) => {
  const first = Array.isArray(reply) ? reply[0] : reply;
  const code = Array.isArray(first) ? first[0] : first;
  if (Array.isArray(reply) ? code !== 0 : Number(code) < 0)
    throw new Error(`unexpected reply ${JSON.stringify(reply)}`);
};

for (const s of [scripts.createOrder, scripts.acceptPayment]) await redis.script('LOAD', s.source);
const tokenSrc = join(PEER_DIR, 'redis/token.lua');
const paySrc = join(PEER_DIR, 'redis/pay.lua');
const peer = existsSync(tokenSrc) && existsSync(paySrc);
const tokenSha = peer ? String(await redis.script('LOAD', readFileSync(tokenSrc, 'utf8'))) : '';
const paySha = peer ? String(await redis.script('LOAD', readFileSync(paySrc, 'utf8'))) : '';
const batchSha = String(await redis.script('LOAD', batchSource()));
await redis.hset(`${tag}:sale`, {
  stock: 1e12,
  held: 0,
  sold: 0,
  orders: 0,
  price: 100,
  currency: 'CNY',
  perUserLimit: 1e12,
  holdSeconds: 900,
  opensAt: 0,
});
await redis.set('stock:bench', 1e12);

let nextId = 0;
/** Redis CPU µs per unit (an order, a payment) for `units` units in calls of `perCall`. */
async function measure(units: number, perCall: number, call: (first: number) => Promise<unknown>): Promise<number> {
  const calls = Math.ceil(units / perCall);
  const first = nextId;
  nextId += calls * perCall;
  let next = 0;
  const before = cpuUs();
  await Promise.all(
    Array.from({ length: Math.max(1, Math.floor(C / perCall)) }, async () => {
      while (next < calls) ok(await call(first + next++ * perCall));
    }),
  );
  return (cpuUs() - before) / (calls * perCall);
}

interface Case {
  name: string;
  run: () => Promise<number>;
}
const evalsha = (sha: string, keys: unknown[], args: unknown[]) =>
  redis.evalsha(sha, keys.length, ...(keys as string[]), ...(args as string[]));
// the payments of a round pay the orders that round created
let paidFrom = 0;
const cases: Case[] = [
  ...(peer
    ? [
        {
          name: 'peer token.lua',
          run: () =>
            measure(N, 1, (i) =>
              evalsha(
                tokenSha,
                [`rl:bench:${buyer(i)}:${Math.floor(Date.now() / 1000)}`, 'stock:bench', `tok:t${i}`],
                [1e9, 900, `${buyer(i)}|bench`],
              ),
            ),
        },
        {
          name: 'peer pay.lua',
          run: () =>
            measure(N, 1, (i) =>
              evalsha(paySha, [`tok:t${i - N}`, `pending:o${i}`, 'queue:bench'], [`o${i}`, 900, '1700000000']),
            ),
        },
      ]
    : []),
  {
    name: 'createOrder',
    run: () => {
      paidFrom = nextId;
      return measure(N, 1, (i) => evalsha(scripts.createOrder.sha, orderKeys(i), orderArgs(i)));
    },
  },
  {
    name: 'acceptPayment',
    run: () => {
      const offset = nextId - paidFrom;
      return measure(N, 1, (i) => evalsha(scripts.acceptPayment.sha, payKeys(i - offset), payArgs(i - offset)));
    },
  },
  ...[4, 8, 16].map((b) => ({
    name: `createOrder x${b} per call`,
    run: () =>
      measure(N, b, (first) => {
        const ids = Array.from({ length: b }, (_, j) => first + j);
        return evalsha(batchSha, ids.flatMap(orderKeys), ids.flatMap(orderArgs));
      }),
  })),
];

// --- PARTS=1: the scripts with one part removed or written another way ------------------------
/**
 * `source` with the statement that starts with `start` (up to the first `)` that ends a line)
 * replaced: throws when the statement is gone, so the variants follow the scripts.
 */
function replaceStatement(source: string, start: string, replacement: string): string {
  const from = source.indexOf(start);
  const to = source.indexOf(')\n', from);
  if (from < 0 || to < 0) throw new Error(`bench:redis PARTS: no statement starting ${start}`);
  return source.slice(0, from) + replacement + source.slice(to + 1);
}
/** The script answering at once, after its contract header: what the call itself costs. */
function answeringAtOnce(source: string, reply: string): string {
  if (!source.includes(']]\n')) throw new Error('bench:redis PARTS: a script without its contract header');
  return source.replace(']]\n', `]]\nif true then return ${reply} end\n`);
}
// the order's nine fields, in one string
const packed =
  "'held|' .. expiresAt .. '|' .. nonce .. '|' .. userId .. '|' .. quantity .. '|' .. amount .. '|' .. currency .. '|' .. nowMs .. '|' .. nonce";
const orderWrite = "rcall('HSET', orderKey, 'userId'";
const orderVariants: Record<string, string> = {
  'createOrder: order as a string': replaceStatement(
    scripts.createOrder.source,
    orderWrite,
    `rcall('SET', orderKey, ${packed})`,
  ),
  // a key the script does not declare: fine on one node, and it exists only in this bench
  'createOrder: order in a sale hash': replaceStatement(
    scripts.createOrder.source,
    orderWrite,
    `rcall('HSET', '${tag}:orders', orderId, ${packed})`,
  ),
  'createOrder: no order write': replaceStatement(scripts.createOrder.source, orderWrite, ''),
  'createOrder: no resend check': replaceStatement(
    scripts.createOrder.source,
    "local existing = rcall('HMGET', orderKey",
    'local existing = {}',
  ),
  'createOrder: the call only': answeringAtOnce(scripts.createOrder.source, "{ 0, 100, 'CNY', 1, 1, 'n' }"),
};
const paymentVariants: Record<string, string> = {
  'acceptPayment: no payment hash': replaceStatement(scripts.acceptPayment.source, "rcall('HSET', paymentKey", ''),
  'acceptPayment: no order write': replaceStatement(scripts.acceptPayment.source, "rcall('HSET', orderKey", ''),
  'acceptPayment: the call only': answeringAtOnce(
    scripts.acceptPayment.source,
    "{ 0, 'p', 1, 100, 'CNY', 'standard' }",
  ),
};
if (PARTS) {
  for (const [name, source] of Object.entries(orderVariants)) {
    const sha = String(await redis.script('LOAD', source));
    cases.push({ name, run: () => measure(N, 1, (i) => evalsha(sha, orderKeys(i), orderArgs(i))) });
  }
  for (const [name, source] of Object.entries(paymentVariants)) {
    const sha = String(await redis.script('LOAD', source));
    cases.push({
      name,
      // its orders are created first, by the real createOrder, outside the measurement
      run: async () => {
        const first = nextId;
        await measure(N, 1, (i) => evalsha(scripts.createOrder.sha, orderKeys(i), orderArgs(i)));
        const offset = nextId - first;
        return measure(N, 1, (i) => evalsha(sha, payKeys(i - offset), payArgs(i - offset)));
      },
    });
  }
}

// a warm-up round first (not counted: a fresh server's first keys and pages cost more); then each
// round runs every case, starting one case later than the round before, so no case always runs
// first or last. The peer's pay must follow its token round, and acceptPayment its createOrder:
// they move as pairs.
const pairs: Case[][] = [];
for (let i = 0; i < cases.length; i++) {
  const pay = cases[i + 1];
  if (pay && (pay.name === 'peer pay.lua' || pay.name === 'acceptPayment')) pairs.push([cases[i]!, cases[++i]!]);
  else pairs.push([cases[i]!]);
}
const results = new Map<string, number[]>();
for (let round = 0; round <= RUNS; round++) {
  const line: string[] = [];
  for (let p = 0; p < pairs.length; p++) {
    for (const c of pairs[(p + round) % pairs.length]!) {
      const us = await c.run();
      if (round === 0) continue;
      results.set(c.name, [...(results.get(c.name) ?? []), us]);
      line.push(`${c.name} ${us.toFixed(1)}`);
    }
  }
  if (round > 0) console.error(`round ${round}: ${line.join(', ')} (µs per unit)`);
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const m = (name: string) => median(results.get(name) ?? [Number.NaN]);
console.log(
  `\nRedis CPU per call, medians of ${RUNS} rounds of ${N} calls, ${C} in flight (redis-server, no persistence):`,
);
const width = Math.max(...cases.map((c) => c.name.length));
for (const c of cases) {
  // a PARTS variant: its difference from the whole script ("createOrder: ..." against createOrder)
  const whole = c.name.includes(':') ? c.name.split(':')[0]! : '';
  const d = whole ? m(c.name) - m(whole) : 0;
  const diff = whole ? ` (${d >= 0 ? '+' : ''}${d.toFixed(1)} µs against the whole script)` : '';
  console.log(`  ${c.name.padEnd(width)} ${m(c.name).toFixed(1).padStart(6)} µs${diff}`);
}
const ours = m('createOrder') + m('acceptPayment');
if (peer) {
  const theirs = m('peer token.lua') + m('peer pay.lua');
  console.log(
    `checkout (order + pay): rushgate ${ours.toFixed(1)} µs, peer ${theirs.toFixed(1)} µs (${(ours / theirs).toFixed(2)}x)`,
  );
} else {
  console.log(`checkout (order + pay): rushgate ${ours.toFixed(1)} µs (peer scripts not found in ${PEER_DIR})`);
}
for (const b of [4, 8, 16]) {
  const saved = 1 - m(`createOrder x${b} per call`) / m('createOrder');
  const change = `${Math.abs(100 * saved).toFixed(0)}% ${saved >= 0 ? 'less' : 'more'}`;
  console.log(`batching ${b} orders per call: ${change} Redis CPU per order (the most batching could save)`);
}
redis.disconnect();
server.kill('SIGKILL');
