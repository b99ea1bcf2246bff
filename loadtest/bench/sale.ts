/**
 * npm run bench:sale — the sale replay. SEATS seats, BUYERS buyers; every buyer orders once,
 * every holder pays with the wallet. Reports the seconds from the first request until the sale
 * is sold out (`available` 0: every seat held or sold) and until every accepted payment is in the
 * ledger (the sale's `sold` equals the payments accepted, and the ledger holds that many charges),
 * and the checks: oversold 0, double charges 0, 5xx 0.
 *
 *   BUYERS=200000 SEATS=39000 CONNS=64 THREADS=2 RUNS=1 npm run bench:sale
 *   DATABASE_URL=postgres://…   the ledger on Postgres instead of PGlite in a temp dir
 *   RUSHGATE_PROCESSES=…        passed through to the gateway, like any RUSHGATE_* setting
 *
 * It builds the gateway, starts a private redis-server (AOF everysec, as `npm start` does) and
 * the gateway (`node dist/runtime/node/gateway.js`, payment worker inside) on free loopback
 * ports, and drives it with wrk + Lua (wrk/sale.lua) and pre-minted HS256 JWTs. Wallets are
 * funded before the gateway opens the ledger (setup, not timed). The table goes to stdout and
 * to loadtest/bench/results/sale-<time>.md; the exit code is 1 when a check fails.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHmac, createSecretKey, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { connect, createServer } from 'node:net';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { creditTransfer, fundingAccount, Ledger, walletAccount } from '../../src/ledger/ledger.js';
import type { SqlPort } from '../../src/ledger/sql-port.js';
import { pgliteSql, postgresSql } from '../../src/runtime/node/adapters/sql.js';

// ---------------------------------------------------------------------------------- settings

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');

const int = (name: string, fallback: number, min = 0): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw.replace(/[_,]/g, ''));
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`bench:sale: ${name} must be an integer >= ${min}, not ${JSON.stringify(raw)}\n`);
    process.exit(2);
  }
  return n;
};

const BUYERS = int('BUYERS', 200_000, 1);
const SEATS = int('SEATS', 39_000, 1);
const THREADS = int('THREADS', 2, 1);
const CONNS = Math.max(int('CONNS', 64, 1), THREADS);
const RUNS = int('RUNS', 1, 1);
const PRICE = int('PRICE', 38_000, 1);
const CURRENCY = 'CNY';
/** Untimed warm-up: this many buyers order (and pay) in a small sale of their own first. */
const WARMUP = Math.min(int('WARMUP', 10_000), BUYERS);
/** `ledger` (default): wallets are credited in the ledger's database before the gateway starts; `http`: one admin call each. */
const FUND = process.env.FUND || 'ledger';
if (FUND !== 'ledger' && FUND !== 'http') {
  process.stderr.write(`bench:sale: FUND must be ledger or http, not ${JSON.stringify(FUND)}\n`);
  process.exit(2);
}
/** Admin credit calls timed to report the HTTP funding rate (`FUND=ledger`). */
const PROBE = int('PROBE', 2000);
const POLL_MS = int('POLL_MS', 50, 10);
/** Seconds to wait, after the last buyer's answer, for the payments to reach the ledger. */
const LEDGER_WAIT_S = int('LEDGER_WAIT', 120, 1);
/** wrk's duration: a bound only; the run ends when every buyer has ordered. */
const LOAD_BOUND_S = int('MAX_SECONDS', Math.max(300, Math.ceil(BUYERS / 1000)), 10);
const DATABASE_URL = process.env.DATABASE_URL || undefined;
const KEEP = process.env.KEEP === '1';

const JWT_SECRET = randomBytes(32).toString('base64url');
const ADMIN_TOKEN = randomBytes(24).toString('base64url');
const TOKEN_SECRET = randomBytes(32).toString('base64url');
const STAMP = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
/** Buyers are `<prefix>-<i>`: unique per invocation, so a reused Postgres ledger has no clash. */
const PREFIX = `r${Date.now().toString(36)}`;
const buyerId = (i: number) => `${PREFIX}-${i}`;

const log = (message: string) => process.stderr.write(`[bench:sale] ${message}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number) => n.toLocaleString('en-US');
const secs = (ms: number | undefined) => (ms === undefined ? '-' : (ms / 1000).toFixed(2));

// --------------------------------------------------------------------------------- processes

const children = new Set<ChildProcess>();

function start(
  name: string,
  cmd: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; logFile?: string; stdout?: 'pipe' },
): ChildProcess {
  const out = options.logFile ? openSync(options.logFile, 'a') : 'ignore';
  const child = spawn(cmd, args, {
    cwd: ROOT,
    env: options.env ?? process.env,
    stdio: ['ignore', options.stdout ?? out, out],
  });
  if (typeof out === 'number') closeSync(out);
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.once('error', (err) => log(`${name}: ${err.message}`));
  return child;
}

const alive = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

/** Sends `signal`, waits up to `graceMs`, then SIGKILLs it and every descendant seen before. */
async function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 20_000): Promise<void> {
  if (child.pid === undefined) return;
  const family = descendants(child.pid, procTable());
  if (alive(child)) {
    child.kill(signal);
    const deadline = Date.now() + graceMs;
    while (alive(child) && Date.now() < deadline) await sleep(50);
    if (alive(child)) child.kill('SIGKILL');
  }
  while (alive(child)) await sleep(20);
  // its children (a multi-process gateway's workers) get the rest of the grace period to finish
  const running = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const others = family.filter((pid) => pid !== child.pid);
  const deadline = Date.now() + graceMs;
  while (others.some(running) && Date.now() < deadline) await sleep(50);
  for (const pid of others.filter(running)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

let tmp: string | undefined;
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await Promise.all([...children].map((c) => stop(c, 'SIGTERM', 15_000)));
    for (let attempt = 1; tmp && !KEEP && existsSync(tmp); attempt++) {
      try {
        rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
      } catch (err) {
        if (attempt >= 5) log(`could not remove ${tmp}: ${(err as Error).message}`);
        if (attempt >= 5) break;
        await sleep(200);
      }
    }
  })();
  return cleaning;
}
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    interrupted = true;
    log(`${signal}: stopping everything this benchmark started`);
    void cleanup().finally(() => process.exit(130));
  });
}
process.once('exit', () => {
  for (const child of children) if (alive(child)) child.kill('SIGKILL');
});

// ----------------------------------------------------------------------------------- CPU use

const HZ = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

interface Proc {
  ppid: number;
  ticks: number;
}

/** Every process's parent and CPU ticks (user + system), from /proc. */
function procTable(): Map<number, Proc> {
  const table = new Map<number, Proc>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return table;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // fields[0] is state (field 3): ppid is field 4, utime 14, stime 15
      table.set(Number(entry), { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // gone meanwhile
    }
  }
  return table;
}

function descendants(root: number, table: Map<number, Proc>): number[] {
  const found = [root];
  for (let i = 0; i < found.length; i++)
    for (const [pid, p] of table) if (p.ppid === found[i] && !found.includes(pid)) found.push(pid);
  return found.filter((pid) => table.has(pid));
}

/** CPU seconds of `root` and all its living descendants; how many processes that is. */
function treeCpu(root: number | undefined, table = procTable()): { seconds: number; processes: number } {
  if (root === undefined) return { seconds: 0, processes: 0 };
  const pids = descendants(root, table);
  return { seconds: pids.reduce((sum, pid) => sum + table.get(pid)!.ticks, 0) / HZ, processes: pids.length };
}

// ----------------------------------------------------------------------------------- helpers

async function freePort(): Promise<number> {
  return new Promise((ok, ko) => {
    const server = createServer();
    server.once('error', ko);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? ok(address.port) : ko(new Error('no port'))));
    });
  });
}

async function redisPing(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const socket = connect(port, '127.0.0.1');
    const done = (v: boolean) => {
      socket.destroy();
      ok(v);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

let BASE = '';

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${BASE}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${ADMIN_TOKEN}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any = text;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, json };
}

async function mustCall(method: string, path: string, body?: unknown): Promise<any> {
  const { status, json } = await call(method, path, body);
  if (status >= 300) throw new Error(`${method} ${path}: ${status} ${JSON.stringify(json)}`);
  return json;
}

const b64url = (s: string | Buffer) => Buffer.from(s).toString('base64url');

/** One JWT per buyer (HS256, like mint-jwts.mjs), THREADS files: thread t's slice of buyers. */
function mintJwts(dir: string): string {
  const prefix = join(dir, 'jwts-');
  const key = createSecretKey(Buffer.from(JWT_SECRET, 'utf8'));
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const exp = Math.floor(Date.now() / 1000) + 6 * 3600;
  for (let t = 0; t < THREADS; t++) {
    const fd = openSync(`${prefix}${t}.txt`, 'w');
    const hi = Math.floor(((t + 1) * BUYERS) / THREADS);
    let lines: string[] = [];
    for (let i = Math.floor((t * BUYERS) / THREADS); i < hi; i++) {
      const unsigned = `${header}.${b64url(JSON.stringify({ sub: buyerId(i), exp }))}`;
      lines.push(`${unsigned}.${createHmac('sha256', key).update(unsigned).digest('base64url')}`);
      if (lines.length === 20_000) {
        writeSync(fd, `${lines.join('\n')}\n`);
        lines = [];
      }
    }
    if (lines.length > 0) writeSync(fd, `${lines.join('\n')}\n`);
    closeSync(fd);
  }
  return prefix;
}

/**
 * Credits every buyer's wallet in the ledger's database: the rows Ledger.credit writes (the
 * wallet account, a credit transfer from the funding account, both balances; ids from the
 * ledger's own helpers), in transactions of 20,000 wallets. Money stays balanced: funding goes
 * negative by the total.
 */
async function fundInLedger(sql: SqlPort, amount: number): Promise<void> {
  await (await Ledger.open(sql)).ping(); // applies the migrations
  const funding = fundingAccount(CURRENCY);
  await sql.query(
    `insert into ledger_accounts (id, kind, owner, currency) values ($1, 'funding', $2, $2) on conflict (id) do nothing`,
    [funding, CURRENCY],
  );
  for (let lo = 0; lo < BUYERS; lo += 20_000) {
    const users = Array.from({ length: Math.min(20_000, BUYERS - lo) }, (_, k) => buyerId(lo + k));
    await sql.transaction(async (tx) => {
      await tx.query(
        `insert into ledger_accounts (id, kind, owner, currency, balance)
         select w, 'wallet', u, $3, $4::bigint from unnest($1::text[], $2::text[]) as x(u, w)`,
        [users, users.map((u) => walletAccount(u, CURRENCY)), CURRENCY, amount],
      );
      await tx.query(
        `insert into ledger_transfers (id, kind, debit_account, credit_account, amount, currency)
         select t, 'credit', $3, w, $4::bigint, $5 from unnest($1::text[], $2::text[]) as x(t, w)`,
        [
          users.map((u) => creditTransfer(u, 'sale-replay')),
          users.map((u) => walletAccount(u, CURRENCY)),
          funding,
          amount,
          CURRENCY,
        ],
      );
      await tx.query(`update ledger_accounts set balance = balance - $2::bigint where id = $1`, [
        funding,
        amount * users.length,
      ]);
    });
  }
}

/** `count` admin credits, `concurrency` at a time; answers credits per second. */
async function creditOverHttp(
  users: (i: number) => string,
  count: number,
  amount: number,
  concurrency = 64,
): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        await mustCall('POST', `/admin/wallets/${users(i)}/credits`, {
          amount,
          currency: CURRENCY,
          reference: 'sale-replay',
        });
      }
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

const openSql = async (dataDir: string): Promise<SqlPort> =>
  DATABASE_URL ? postgresSql(DATABASE_URL, { max: 2 }) : pgliteSql(join(dataDir, 'ledger'));

// ------------------------------------------------------------------------------------- a run

type Counts = Record<string, number>;

function parseCounts(words: string[]): Counts {
  const counts: Counts = {};
  for (const w of words) {
    const [k, v] = w.split('=');
    if (k && v !== undefined && /^-?[\d.]+$/.test(v)) counts[k] = Number(v);
  }
  return counts;
}

const sumCounts = (all: Counts[]): Counts => {
  const total: Counts = {};
  for (const c of all) for (const [k, v] of Object.entries(c)) total[k] = (total[k] ?? 0) + v;
  return total;
};

interface Sample {
  t: number;
  available: number;
  held: number;
  sold: number;
  depth: number;
}

interface LoadResult {
  t0: number;
  firstSeenAt: number;
  lastDoneAt: number | undefined;
  counts: Counts;
  summary: Counts;
  complete: boolean;
  wrkCpu: number;
  wrkCpuTotal: number;
  cpuAtT0: { gateway: number; redis: number; bench: number };
}

interface RunResult {
  saleId: string;
  load: LoadResult;
  soldOutMs: number | undefined;
  ledgerMs: number | undefined;
  loadMs: number | undefined;
  accepted: number;
  final: { stock: number; available: number; held: number; sold: number };
  cpu: { gateway: number; redis: number; wrk: number; bench: number; wallMs: number; gatewayProcesses: number };
  samples: Sample[];
}

let gateway: ChildProcess | undefined;
let redis: ChildProcess | undefined;

const benchCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/**
 * Runs wrk with sale.lua against `saleId` until every thread has walked its buyers. `onStart`
 * is called at the first request, `onDone` when the last thread is finished.
 */
async function runWrk(
  dir: string,
  jwtPrefix: string,
  saleId: string,
  buyerLimit: number | undefined,
  hooks: { onStart?: (t0: number) => void; onDone?: (counts: Counts) => void } = {},
): Promise<LoadResult> {
  const goFile = join(dir, `go-${saleId}`);
  const env = {
    ...process.env,
    JWT_PREFIX: jwtPrefix,
    SALE: saleId,
    GO_FILE: goFile,
    ...(buyerLimit ? { BUYER_LIMIT: String(buyerLimit) } : {}),
  };
  const wrk = start(
    'wrk',
    'wrk',
    [`-t${THREADS}`, `-c${CONNS}`, `-d${LOAD_BOUND_S}s`, '--timeout', '30s', '-s', join(HERE, 'wrk', 'sale.lua'), BASE],
    {
      env,
      stdout: 'pipe',
      logFile: join(dir, `wrk-${saleId}.err`),
    },
  );
  const raw: string[] = [];
  let ready = 0;
  let t0: number | undefined;
  let firstSeenAt = 0;
  let lastDoneAt: number | undefined;
  const done: Counts[] = [];
  let summary: Counts = {};
  let wrkCpu = 0;
  let wrkCpuAtT0 = 0;
  let wrkCpuTotal = 0;
  let cpuAtT0 = { gateway: 0, redis: 0, bench: 0 };
  const exited = new Promise<void>((ok) => wrk.once('exit', () => ok()));
  const lines = createInterface({ input: wrk.stdout! });
  lines.on('line', (line) => {
    raw.push(line);
    const [word, ...rest] = line.trim().split(/\s+/);
    if (word === 'READY' && ++ready === THREADS) writeFileSync(goFile, '');
    else if (word === 'FIRST') {
      const at = Number(rest[1]) > 0 ? Number(rest[1]) : Date.now();
      if (t0 === undefined) {
        firstSeenAt = Date.now();
        const table = procTable();
        cpuAtT0 = {
          gateway: treeCpu(gateway?.pid, table).seconds,
          redis: treeCpu(redis?.pid, table).seconds,
          bench: benchCpu(),
        };
        wrkCpuAtT0 = treeCpu(wrk.pid, table).seconds;
        t0 = at;
        hooks.onStart?.(at);
      }
      t0 = Math.min(t0, at);
    } else if (word === 'DONE') {
      const at = Number(rest[1]) > 0 ? Number(rest[1]) : Date.now();
      lastDoneAt = Math.max(lastDoneAt ?? 0, at);
      done.push(parseCounts(rest.slice(2)));
      if (done.length === THREADS) {
        wrkCpuTotal = treeCpu(wrk.pid).seconds;
        wrkCpu = wrkCpuTotal - wrkCpuAtT0;
        hooks.onDone?.(sumCounts(done));
        wrk.kill('SIGINT'); // wrk sleeps out its duration otherwise; SIGINT makes it report now
      }
    } else if (word === 'SUMMARY') summary = parseCounts(rest);
  });
  const timer = setTimeout(
    () => {
      log(`wrk still running after ${LOAD_BOUND_S + 30} s: stopping it`);
      wrk.kill('SIGINT');
    },
    (LOAD_BOUND_S + 30) * 1000,
  );
  let died: string | undefined;
  const watchdog = setInterval(() => {
    for (const [name, child] of [
      ['the gateway', gateway],
      ['redis-server', redis],
    ] as const) {
      if (child && !alive(child) && died === undefined) {
        died = name;
        log(`${name} exited during the run: stopping wrk`);
        wrk.kill('SIGINT');
      }
    }
  }, 200);
  await exited;
  clearTimeout(timer);
  clearInterval(watchdog);
  lines.close();
  if (interrupted) throw new Error('interrupted');
  writeFileSync(join(dir, `wrk-${saleId}.out`), `${raw.join('\n')}\n`);
  if (died) throw new Error(`${died} exited during the run`);
  if (t0 === undefined) {
    const err = existsSync(join(dir, `wrk-${saleId}.err`)) ? readFileSync(join(dir, `wrk-${saleId}.err`), 'utf8') : '';
    throw new Error(`wrk sent nothing:\n${raw.join('\n')}\n${err}`);
  }
  const complete = done.length === THREADS;
  if (!complete) {
    // a thread never finished (lost answers): take what its done() counted
    log(`only ${done.length} of ${THREADS} wrk threads finished`);
  }
  return {
    t0,
    firstSeenAt,
    lastDoneAt,
    counts: complete ? sumCounts(done) : summary,
    summary,
    complete,
    wrkCpu,
    wrkCpuTotal,
    cpuAtT0,
  };
}

async function readSale(saleId: string) {
  const s = await mustCall('GET', `/admin/sales/${saleId}`);
  return {
    stock: Number(s.stock),
    available: Number(s.available),
    held: Number(s.held),
    sold: Number(s.sold),
    depth: Number(s.queue?.depth ?? 0),
  };
}

async function replay(dir: string, jwtPrefix: string, run: number): Promise<RunResult> {
  const saleId = `replay-${STAMP}-${run}`;
  await mustCall('PUT', `/admin/sales/${saleId}`, {
    name: `sale replay ${run}`,
    stock: SEATS,
    price: PRICE,
    currency: CURRENCY,
    perUserLimit: 1,
    holdSeconds: 900,
  });
  const samples: Sample[] = [];
  let polling = true;
  let started: number | undefined;
  let accepted: number | undefined; // payments accepted (202), known once every thread is done
  let soldOutAt: number | undefined;
  let ledgerAt: number | undefined;
  let ledgerDeadline = Number.POSITIVE_INFINITY;
  let pollFailLoggedAt = 0;
  let end = { gateway: 0, redis: 0, bench: 0, at: 0, gatewayProcesses: 0 };
  const snapEnd = () => {
    const table = procTable();
    const g = treeCpu(gateway?.pid, table);
    end = {
      gateway: g.seconds,
      redis: treeCpu(redis?.pid, table).seconds,
      bench: benchCpu(),
      at: Date.now(),
      gatewayProcesses: g.processes,
    };
  };

  const poller = (async () => {
    while (started === undefined && polling) await sleep(5);
    while (polling && !interrupted) {
      let s: Awaited<ReturnType<typeof readSale>>;
      try {
        s = await readSale(saleId);
      } catch (err) {
        if (Date.now() - pollFailLoggedAt > 5000) log(`poll failed: ${(err as Error).message}`);
        pollFailLoggedAt = Date.now();
        if (Date.now() > ledgerDeadline) break;
        await sleep(POLL_MS);
        continue;
      }
      const t = Date.now();
      samples.push({ t, ...s });
      if (soldOutAt === undefined && s.available === 0) soldOutAt = t;
      if (accepted !== undefined && s.sold >= accepted) {
        // sold only grows: the first sample that reached it (perhaps before the last answer)
        ledgerAt = samples.find((x) => x.sold >= accepted!)!.t;
        snapEnd();
        polling = false;
        break;
      }
      if (t > ledgerDeadline) {
        log(
          `payments not all in the ledger ${LEDGER_WAIT_S} s after the last answer: sold ${s.sold} of ${accepted} accepted`,
        );
        snapEnd();
        polling = false;
        break;
      }
      await sleep(POLL_MS);
    }
  })();

  let load: LoadResult;
  try {
    load = await runWrk(dir, jwtPrefix, saleId, undefined, {
      onStart: (t0) => {
        started = t0;
      },
      onDone: (counts) => {
        accepted = counts.p202 ?? 0;
        ledgerDeadline = Date.now() + LEDGER_WAIT_S * 1000;
      },
    });
  } catch (err) {
    polling = false;
    await poller;
    throw err;
  }
  if (accepted === undefined) {
    accepted = load.counts.p202 ?? 0;
    ledgerDeadline = Date.now() + LEDGER_WAIT_S * 1000;
  }
  await poller;
  if (end.at === 0) snapEnd();
  const final = await readSale(saleId);
  const wallMs = end.at - load.firstSeenAt;
  return {
    saleId,
    load,
    soldOutMs: soldOutAt === undefined ? undefined : soldOutAt - load.t0,
    ledgerMs: ledgerAt === undefined ? undefined : ledgerAt - load.t0,
    loadMs: load.lastDoneAt === undefined ? undefined : load.lastDoneAt - load.t0,
    accepted,
    final,
    cpu: {
      gateway: end.gateway - load.cpuAtT0.gateway,
      redis: end.redis - load.cpuAtT0.redis,
      bench: end.bench - load.cpuAtT0.bench,
      wrk: load.wrkCpu,
      wallMs,
      gatewayProcesses: end.gatewayProcesses,
    },
    samples,
  };
}

// -------------------------------------------------------------------------------------- main

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function commandLine(): string {
  const names = [
    'BUYERS',
    'SEATS',
    'CONNS',
    'THREADS',
    'RUNS',
    'PRICE',
    'WARMUP',
    'FUND',
    'PROBE',
    'POLL_MS',
    'LEDGER_WAIT',
    'MAX_SECONDS',
    'RUSHGATE_PROCESSES',
  ];
  const set = names
    .filter((n) => process.env[n] !== undefined && process.env[n] !== '')
    .map((n) => `${n}=${process.env[n]}`);
  if (DATABASE_URL) set.push('DATABASE_URL=…');
  return [...set, 'npm run bench:sale'].join(' ');
}

function version(cmd: string, args: string[], pattern: RegExp): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.match(pattern)?.[1] ?? '?';
}

async function main(): Promise<number> {
  for (const tool of ['wrk', 'redis-server']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
      log(`missing: ${tool} (apt-get install wrk redis-server)`);
      return 2;
    }
  }
  const startedAt = Date.now();
  log('building the gateway (npm run build)');
  const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('npm run build failed');

  tmp = mkdtempSync(join(tmpdir(), 'rushgate-sale-'));
  const dataDir = join(tmp, 'data');
  mkdirSync(join(tmp, 'redis'), { recursive: true });
  mkdirSync(dataDir, { recursive: true });

  let t = performance.now();
  const jwtPrefix = mintJwts(tmp);
  log(`minted ${fmt(BUYERS)} buyer JWTs in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  // every buyer pays once per run, and once more when it takes part in the warm-up
  const walletAmount = PRICE * (RUNS + (WARMUP > 0 ? 1 : 0));
  const funding: string[] = [];
  if (FUND === 'ledger') {
    t = performance.now();
    const sql = await openSql(dataDir);
    try {
      await fundInLedger(sql, walletAmount);
    } finally {
      await sql.close();
    }
    const s = (performance.now() - t) / 1000;
    funding.push(
      `${fmt(BUYERS)} wallets credited ${fmt(walletAmount)} ${CURRENCY} each in the ledger's database before the gateway opened it ` +
        `(the rows Ledger.credit writes, 20,000 per transaction): ${s.toFixed(1)} s, untimed setup`,
    );
    log(funding[0]!);
  }

  const redisPort = await freePort();
  redis = start(
    'redis-server',
    'redis-server',
    [
      '--port',
      String(redisPort),
      '--bind',
      '127.0.0.1',
      '--dir',
      join(tmp, 'redis'),
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
      '--daemonize',
      'no',
      '--loglevel',
      'warning',
    ],
    { logFile: join(tmp, 'redis.log') },
  );
  for (let i = 0; i < 100 && !(await redisPing(redisPort)); i++) await sleep(50);
  if (!(await redisPing(redisPort)))
    throw new Error(`redis-server did not start: ${readFileSync(join(tmp, 'redis.log'), 'utf8')}`);

  const port = await freePort();
  BASE = `http://127.0.0.1:${port}`;
  const gatewayLog = join(tmp, 'gateway.log');
  gateway = start('gateway', process.execPath, [join(ROOT, 'dist', 'runtime', 'node', 'gateway.js')], {
    logFile: gatewayLog,
    env: {
      ...process.env, // RUSHGATE_PROCESSES and any other RUSHGATE_* setting pass through
      PORT: String(port),
      HOST: '127.0.0.1',
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      ...(DATABASE_URL ? { DATABASE_URL } : {}),
      RUSHGATE_DATA_DIR: dataDir,
      RUSHGATE_JWT_SECRET: JWT_SECRET,
      RUSHGATE_ADMIN_TOKEN: ADMIN_TOKEN,
      RUSHGATE_TOKEN_SECRET: TOKEN_SECRET,
      RUSHGATE_CHANNEL_SECRET: randomBytes(32).toString('base64url'),
      RUSHGATE_LOG_LEVEL: process.env.RUSHGATE_LOG_LEVEL ?? 'warn',
      RUSHGATE_MAX_INFLIGHT: process.env.RUSHGATE_MAX_INFLIGHT ?? '100000',
    },
  });
  for (let i = 0; ; i++) {
    if (!alive(gateway))
      throw new Error(`the gateway exited at startup:\n${readFileSync(gatewayLog, 'utf8').slice(-3000)}`);
    const ok = await fetch(`${BASE}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (i > 600) throw new Error('the gateway is not ready after 60 s');
    await sleep(100);
  }
  log(
    `gateway on ${BASE}, redis on 127.0.0.1:${redisPort}, ledger ${DATABASE_URL ? 'Postgres (DATABASE_URL)' : 'PGlite (temp dir)'}`,
  );

  // the limiter must refuse nobody: a replay measures admission, not the limits
  await mustCall('PUT', '/admin/limits', {
    policies: {
      orders: { perUser: { limit: 1_000_000, windowSeconds: 1 } },
      payments: { perUser: { limit: 1_000_000, windowSeconds: 1 } },
    },
  });
  await sleep(1200); // every instance applies a change within 1 s

  if (FUND === 'http') {
    t = performance.now();
    const rate = await creditOverHttp(buyerId, BUYERS, walletAmount);
    funding.push(
      `${fmt(BUYERS)} wallets credited over HTTP (POST /admin/wallets/…/credits, 64 at a time): ${((performance.now() - t) / 1000).toFixed(1)} s, ${rate.toFixed(0)} credits/s, untimed setup`,
    );
    log(funding[0]!);
  } else if (PROBE > 0) {
    const rate = await creditOverHttp((i) => `${PREFIX}-probe-${i}`, PROBE, 1);
    funding.push(
      `for comparison, ${fmt(PROBE)} admin credits over HTTP (64 at a time) ran at ${rate.toFixed(0)}/s: ` +
        `funding ${fmt(BUYERS)} buyers that way would take ${(BUYERS / rate).toFixed(0)} s (FUND=http does it)`,
    );
    log(funding[1]!);
  }

  if (WARMUP > 0) {
    const warmSale = `warmup-${STAMP}`;
    await mustCall('PUT', `/admin/sales/${warmSale}`, {
      stock: Math.max(1, Math.floor(WARMUP / 5)),
      price: PRICE,
      currency: CURRENCY,
      perUserLimit: 1,
    });
    const w = await runWrk(tmp, jwtPrefix, warmSale, Math.ceil(WARMUP / THREADS));
    log(
      `warm-up: ${fmt(w.counts.orders ?? 0)} orders and ${fmt(w.counts.pays ?? 0)} payments on sale ${warmSale} (untimed)`,
    );
    await sleep(1000);
  }

  const runs: RunResult[] = [];
  for (let r = 1; r <= RUNS; r++) {
    log(`run ${r}/${RUNS}: ${fmt(BUYERS)} buyers, ${fmt(SEATS)} seats, wrk -t${THREADS} -c${CONNS}`);
    const res = await replay(tmp, jwtPrefix, r);
    runs.push(res);
    log(
      `run ${r}: sold out ${secs(res.soldOutMs)} s, every payment in the ledger ${secs(res.ledgerMs)} s, ` +
        `last buyer answered ${secs(res.loadMs)} s; orders ${fmt(res.load.counts.orders ?? 0)}, payments accepted ${fmt(res.accepted)}, 5xx ${res.load.counts.s5xx ?? 0}; ` +
        `CPU per request: gateway ${perRequestUs(res, res.cpu.gateway).toFixed(1)} µs, wrk ${perRequestUs(res, res.cpu.wrk).toFixed(1)} µs`,
    );
  }

  // Redis memory now and MEMORY_WAIT_S later (the record TTLs, RUSHGATE_RECORD_TTL_SECONDS, run meanwhile)
  const memory = () => {
    const info = spawnSync('redis-cli', ['-p', String(redisPort), 'INFO', 'memory'], { encoding: 'utf8' }).stdout ?? '';
    const keys = spawnSync('redis-cli', ['-p', String(redisPort), 'DBSIZE'], { encoding: 'utf8' }).stdout?.trim();
    return `used_memory ${/used_memory_human:(\S+)/.exec(info)?.[1] ?? '?'} (${/used_memory:(\d+)/.exec(info)?.[1] ?? '?'} bytes), ${keys} keys`;
  };
  log(`redis after the sale: ${memory()}`);
  const memoryWaitS = int('MEMORY_WAIT_S', 0);
  if (memoryWaitS > 0) {
    await sleep(memoryWaitS * 1000);
    log(`redis ${memoryWaitS} s later: ${memory()}`);
  }

  // stop the gateway (PGlite closes its files), then read the ledger
  log('stopping the gateway; auditing the ledger');
  if (gateway) await stop(gateway, 'SIGTERM', 30_000);
  const sql = await openSql(dataDir);
  let audit: Awaited<ReturnType<Ledger['audit']>>;
  const charges = new Map<string, { retained: number; all: number; refunds: number }>();
  try {
    const ledger = await Ledger.open(sql);
    audit = await ledger.audit();
    for (const r of runs) {
      const merchant = `merchant:${r.saleId}:${CURRENCY}`;
      const [row] = await sql.query<{ retained: string | number; all: string | number }>(
        `select count(*) filter (where retained) as retained, count(*) as all from ledger_transfers where kind = 'charge' and credit_account = $1`,
        [merchant],
      );
      const [refunds] = await sql.query<{ n: string | number }>(
        `select count(*) as n from ledger_transfers where kind = 'refund' and debit_account = $1`,
        [merchant],
      );
      charges.set(r.saleId, {
        retained: Number(row?.retained ?? 0),
        all: Number(row?.all ?? 0),
        refunds: Number(refunds?.n ?? 0),
      });
    }
  } finally {
    await sql.close();
  }
  if (redis) await stop(redis);

  return report(runs, audit, charges, funding, Date.now() - startedAt);
}

// ------------------------------------------------------------------------------------ report

function report(
  runs: RunResult[],
  audit: Awaited<ReturnType<Ledger['audit']>>,
  charges: Map<string, { retained: number; all: number; refunds: number }>,
  funding: string[],
  totalMs: number,
): number {
  const checks: { name: string; ok: boolean; detail: string }[] = [];
  const check = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });
  const all = (f: (r: RunResult) => boolean) => runs.every(f);
  const list = (f: (r: RunResult) => string | number) => runs.map(f).join(', ');

  check(
    'oversold 0',
    all((r) => {
      const c = charges.get(r.saleId)!;
      const f = r.final;
      return (
        f.sold <= SEATS &&
        f.stock === SEATS &&
        f.available + f.held + f.sold === SEATS &&
        (r.load.counts.o201 ?? 0) <= SEATS &&
        c.retained <= SEATS
      );
    }),
    `stock ${fmt(SEATS)}; sold ${list((r) => fmt(r.final.sold))}; held ${list((r) => r.final.held)}; available ${list((r) => r.final.available)}; ` +
      `orders held (201) ${list((r) => fmt(r.load.counts.o201 ?? 0))}; ledger charges kept ${list((r) => fmt(charges.get(r.saleId)!.retained))}`,
  );
  check(
    'double charges 0',
    audit.ordersChargedTwice.length === 0 && all((r) => charges.get(r.saleId)!.refunds === 0),
    `ledger audit: ${audit.ordersChargedTwice.length} orders charged twice, ${audit.negativeWallets.length} negative wallets, ` +
      `${audit.unbalancedCurrencies.length} unbalanced currencies; refunds on the replay sales: ${list((r) => charges.get(r.saleId)!.refunds)}`,
  );
  check(
    '5xx 0',
    all((r) => (r.load.counts.s5xx ?? 0) === 0),
    `5xx answers: ${list((r) => r.load.counts.s5xx ?? 0)}`,
  );
  check(
    'every buyer ordered once',
    all((r) => r.load.complete && (r.load.counts.orders ?? 0) === BUYERS && ordersAnswered(r.load.counts) === BUYERS),
    `orders sent ${list((r) => fmt(r.load.counts.orders ?? 0))}, answered ${list((r) => fmt(ordersAnswered(r.load.counts)))} of ${fmt(BUYERS)}; ` +
      `socket errors ${list((r) => r.load.summary.sockerr ?? 0)}`,
  );
  check(
    'every holder paid, every payment in the ledger',
    all(
      (r) =>
        r.accepted === (r.load.counts.o201 ?? 0) &&
        r.ledgerMs !== undefined &&
        r.final.sold === r.accepted &&
        charges.get(r.saleId)!.retained === r.accepted &&
        audit.negativeWallets.length === 0,
    ),
    `payments accepted (202) ${list((r) => fmt(r.accepted))}; sold ${list((r) => fmt(r.final.sold))}; ledger charges ${list((r) => fmt(charges.get(r.saleId)!.all))}`,
  );
  check(
    'load generator CPU < gateway CPU',
    all((r) => r.cpu.wrk < r.cpu.gateway),
    `wrk ${list((r) => r.cpu.wrk.toFixed(1))} CPU s vs gateway ${list((r) => r.cpu.gateway.toFixed(1))} CPU s; ` +
      `per request: wrk ${list((r) => perRequestUs(r, r.cpu.wrk).toFixed(1))} µs vs gateway ${list((r) => perRequestUs(r, r.cpu.gateway).toFixed(1))} µs`,
  );

  const cores = availableParallelism();
  const model = cpus()[0]?.model ?? '?';
  const lines: string[] = [];
  const out = (s = '') => lines.push(s);
  const m = (f: (r: RunResult) => number | undefined) => {
    const xs = runs.map(f).filter((x): x is number => x !== undefined);
    return xs.length === runs.length ? median(xs) : undefined;
  };
  const finished = (r: RunResult) =>
    r.ledgerMs === undefined || r.loadMs === undefined ? undefined : Math.max(r.ledgerMs, r.loadMs);
  const requests = (r: RunResult) => (r.load.counts.orders ?? 0) + (r.load.counts.pays ?? 0);
  const rps = (r: RunResult) => (r.loadMs ? requests(r) / (r.loadMs / 1000) : 0);
  const procs = process.env.RUSHGATE_PROCESSES;

  out(`# Sale replay — ${new Date().toISOString()}`);
  out();
  out(`- command: \`${commandLine()}\``);
  out(
    `- machine: ${cores} cores (nproc), ${model}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}, redis ${version('redis-server', ['--version'], /v=(\S+)/)}, wrk ${version('wrk', ['-v'], /wrk (\S+)/)}`,
  );
  out(
    `- gateway: \`node dist/runtime/node/gateway.js\`, ${runs[0]?.cpu.gatewayProcesses ?? '?'} process(es) (RUSHGATE_PROCESSES${procs ? `=${procs}` : ' unset'}), ` +
      `payment worker inside the gateway, ledger ${DATABASE_URL ? 'Postgres (DATABASE_URL)' : 'PGlite (fresh temp dir)'}, own redis-server (AOF everysec), limits set to refuse nobody, RUSHGATE_MAX_INFLIGHT ${process.env.RUSHGATE_MAX_INFLIGHT ?? '100000'}`,
  );
  out(
    `- load generator: wrk with Lua (loadtest/bench/wrk/sale.lua), ${THREADS} threads, ${CONNS} connections, one pre-minted HS256 JWT per buyer; ` +
      `each buyer orders once (quantity 1), each 201 is paid at once with the wallet; sale: ${fmt(SEATS)} seats at ${fmt(PRICE)} ${CURRENCY}, perUserLimit 1`,
  );
  for (const f of funding) out(`- wallets: ${f}`);
  out(
    `- warm-up: ${WARMUP > 0 ? `${fmt(WARMUP)} buyers on a sale of their own before the timed run(s) (untimed)` : 'none'}`,
  );
  out(
    `- t0 = the first request; sold out = \`available\` 0 in GET /admin/sales (polled every ${POLL_MS} ms); every payment in the ledger = \`sold\` equals the payments accepted (202), confirmed by the ledger's charges after the run`,
  );
  out();
  out(
    `| run | buyers | seats | sold out (s) | every payment in ledger (s) | last buyer answered (s) | finished (s) | requests | req/s | held (201) | sold_out (409) | other answers | payments accepted |`,
  );
  out(`| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |`);
  for (const [i, r] of runs.entries()) {
    const c = r.load.counts;
    const others = Object.entries(c)
      .filter(([k]) => /^[op]\d+/.test(k) && !['o201', 'o409', 'p202'].includes(k))
      .map(([k, v]) => `${k}:${v}`)
      .join(' ');
    out(
      `| ${i + 1} | ${fmt(BUYERS)} | ${fmt(SEATS)} | ${secs(r.soldOutMs)} | ${secs(r.ledgerMs)} | ${secs(r.loadMs)} | ${secs(finished(r))} | ${fmt(requests(r))} | ` +
        `${fmt(Math.round(rps(r)))} | ${fmt(c.o201 ?? 0)} | ${fmt(c.o409 ?? 0)} | ${others || '-'} | ${fmt(r.accepted)} |`,
    );
  }
  if (runs.length > 1) {
    out(
      `| **median** | | | **${secs(m((r) => r.soldOutMs))}** | **${secs(m((r) => r.ledgerMs))}** | ${secs(m((r) => r.loadMs))} | **${secs(m(finished))}** | | ${fmt(Math.round(m(rps) ?? 0))} | | | | |`,
    );
  }
  out();
  out('| check | result | detail |');
  out('| --- | --- | --- |');
  for (const c of checks) out(`| ${c.name} | ${c.ok ? 'ok' : '**FAIL**'} | ${c.detail} |`);
  out();
  out(
    `CPU from the first request until every payment was in the ledger (wrk: until its last answer)${runs.length > 1 ? ', medians' : ''}:`,
  );
  out(
    `µs/request is the process's CPU time divided by the requests answered (orders + payments); the gateway's includes its payment worker.`,
  );
  out();
  out('| process | CPU s | cores | share | µs/request |');
  out('| --- | ---: | ---: | ---: | ---: |');
  const cpuRows: [string, (r: RunResult) => number][] = [
    [`gateway (node, ${runs[0]?.cpu.gatewayProcesses ?? '?'} process(es))`, (r) => r.cpu.gateway],
    ['redis-server', (r) => r.cpu.redis],
    ['wrk (load generator)', (r) => r.cpu.wrk],
    ['this script (polling)', (r) => r.cpu.bench],
  ];
  const total = (r: RunResult) => r.cpu.gateway + r.cpu.redis + r.cpu.wrk + r.cpu.bench;
  for (const [name, f] of cpuRows) {
    out(
      `| ${name} | ${(m(f) ?? 0).toFixed(1)} | ${(m((r) => f(r) / (r.cpu.wallMs / 1000)) ?? 0).toFixed(2)} | ${(100 * (m((r) => f(r) / total(r)) ?? 0)).toFixed(1)}% | ` +
        `${(m((r) => perRequestUs(r, f(r))) ?? 0).toFixed(1)} |`,
    );
  }
  if (DATABASE_URL) out('| Postgres server | not counted | | | |');
  out(
    `| all (of ${cores} cores over ${secs(m((r) => r.cpu.wallMs))} s) | ${(m(total) ?? 0).toFixed(1)} | ${(m((r) => total(r) / (r.cpu.wallMs / 1000)) ?? 0).toFixed(2)} | 100% | ` +
      `${(m((r) => perRequestUs(r, total(r))) ?? 0).toFixed(1)} |`,
  );
  out();
  out(
    `wrk's CPU including loading the JWTs before the run: ${list((r) => r.load.wrkCpuTotal.toFixed(1))} s. Whole benchmark (build, minting, funding, runs, audit): ${(totalMs / 1000).toFixed(0)} s.`,
  );
  const ok = checks.every((c) => c.ok);
  out();
  out(
    ok
      ? 'All checks passed.'
      : `FAILED: ${checks
          .filter((c) => !c.ok)
          .map((c) => c.name)
          .join(', ')}`,
  );

  const text = `${lines.join('\n')}\n`;
  process.stdout.write(`\n${text}`);
  const resultsDir = join(HERE, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `sale-${STAMP}.md`);
  writeFileSync(file, text);
  // the polled counters, for a curve of the sale: ms since t0, available, held, sold, queue depth
  for (const [i, r] of runs.entries()) {
    const csv = [
      'ms,available,held,sold,queue_depth',
      ...r.samples.map((x) => `${x.t - r.load.t0},${x.available},${x.held},${x.sold},${x.depth}`),
    ];
    writeFileSync(join(resultsDir, `sale-${STAMP}-run${i + 1}.csv`), `${csv.join('\n')}\n`);
  }
  log(`written to ${relative(process.cwd(), file)} (and the polled counters to sale-${STAMP}-run<N>.csv)`);
  return ok ? 0 : 1;
}

/** CPU microseconds per request answered (orders + payments) in run `r`. */
const perRequestUs = (r: RunResult, cpuSeconds: number) => {
  const requests = (r.load.counts.orders ?? 0) + (r.load.counts.pays ?? 0);
  return requests > 0 ? (1e6 * cpuSeconds) / requests : 0;
};

const ordersAnswered = (c: Counts) =>
  Object.entries(c)
    .filter(([k]) => /^o\d+$/.test(k))
    .reduce((sum, [, v]) => sum + v, 0);

let code = 1;
try {
  code = await main();
} catch (err) {
  if (interrupted) {
    await cleanup();
    process.exit(130);
  }
  log(`failed: ${(err as Error).stack ?? String(err)}`);
  if (tmp && existsSync(join(tmp, 'gateway.log')))
    log(`gateway log (last lines):\n${readFileSync(join(tmp, 'gateway.log'), 'utf8').slice(-3000)}`);
  code = 1;
}
await cleanup();
process.exit(code);
