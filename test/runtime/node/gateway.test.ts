/**
 * The README's start command, as a real process: `node src/runtime/node/gateway.ts` through tsx
 * (npm start runs the same file compiled).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../src/runtime/node/dev/embedded-redis.js';
import { waitFor } from '../../support/wait.js';

const root = join(import.meta.dirname, '../../..');
const entry = join(root, 'src/runtime/node/gateway.ts');
const hasJq = spawnSync('jq', ['--version']).status === 0;
const dataDir = mkdtempSync(join(tmpdir(), 'rushgate-main-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function run(env: Record<string, string>) {
  return spawnSync(process.execPath, ['--import', 'tsx', entry], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
}

describe('npm start (node runtime)', () => {
  it('starts on embedded defaults: a private redis-server, generated secrets, a banner; stops cleanly', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', entry], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', PORT: String(port), RUSHGATE_DATA_DIR: dataDir, RUSHGATE_LOG_LEVEL: 'warn' },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    // PGlite and tsx on a loaded machine can take well over 10 s to reach the banner
    for (let i = 0; i < 600 && !out.includes('try:'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(out).toContain(`rushgate listening on http://127.0.0.1:${port}`);
    expect(out).toMatch(/redis: redis:\/\/127\.0\.0\.1:\d+ \(embedded/);
    const adminToken = /admin token: (\S+)/.exec(out)![1]!;
    const jwt = /demo buyer JWT \(sub "demo", 1 h\): (\S+)/.exec(out)![1]!;
    expect(JSON.parse(readFileSync(join(dataDir, 'secrets.json'), 'utf8')).adminToken).toBe(adminToken);

    const base = `http://127.0.0.1:${port}`;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const sale = await fetch(`${base}/admin/sales/demo`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ stock: 100, price: 38000, currency: 'CNY' }),
    });
    expect(sale.status).toBe(201);
    const credit = await fetch(`${base}/admin/wallets/demo/credits`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ amount: 100000, currency: 'CNY', reference: 'topup-1' }),
    });
    expect(credit.status).toBe(201);
    const order = await fetch(`${base}/v1/sales/demo/orders`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${jwt}`, 'Content-Type': 'application/json' },
      body: '{"quantity":1}',
    });
    expect(order.status).toBe(201);
    const { orderId, paymentToken } = (await order.json()) as { orderId: string; paymentToken: string };
    const payment = await fetch(`${base}/v1/orders/${orderId}/payments`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${jwt}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ paymentToken, method: 'wallet' }),
    });
    expect(payment.status).toBe(202);
    const { paymentId } = (await payment.json()) as { paymentId: string };
    // the in-process worker charges the wallet through the embedded ledger
    let status = '';
    for (let i = 0; i < 100 && status !== 'succeeded'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (
        (await (
          await fetch(`${base}/v1/payments/${paymentId}`, { headers: { Authorization: `Bearer ${jwt}` } })
        ).json()) as { status: string }
      ).status;
    }
    expect(status).toBe('succeeded');
    const wallet = await fetch(`${base}/v1/wallet`, { headers: { Authorization: `Bearer ${jwt}` } });
    expect(await wallet.json()).toEqual({ userId: 'demo', balances: { CNY: 100000 - 38000 } });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^rushgate_decisions_total\{action="order",reason="admitted"\} 1$/m);
    expect(metrics).toMatch(/^rushgate_payment_outcomes_total\{outcome="succeeded"\} 1$/m);
    expect(metrics).toMatch(/^rushgate_sale_units\{sale="demo",state="sold"\} 1$/m);

    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    // the embedded Redis persisted with AOF into the data directory
    expect(spawnSync('ls', [join(dataDir, 'redis')], { encoding: 'utf8' }).stdout).toContain('appendonlydir');
  });

  const tryTest = it.skipIf(!hasJq && !process.env.CI);
  tryTest('prints try-lines that run as pasted in bash, up to the payment poll', { timeout: 60_000 }, async () => {
    expect(hasJq, 'no jq: .ci/run installs it').toBe(true);
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'rushgate-try-'));
    const child = spawn(process.execPath, ['--import', 'tsx', entry], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', PORT: String(port), RUSHGATE_DATA_DIR: dir, RUSHGATE_LOG_LEVEL: 'warn' },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    try {
      // the banner is one write; a loaded machine can take a while to get there
      for (let i = 0; i < 600 && !out.includes('JWT2='); i++) await new Promise((r) => setTimeout(r, 50));
      // the indented lines under each heading, as a user would copy them
      const block = (heading: RegExp) => {
        const lines = out.split('\n');
        const from = lines.findIndex((l) => heading.test(l)) + 1;
        expect(from, `no "${heading.source}" in the banner`).toBeGreaterThan(0);
        const end = lines.findIndex((l, i) => i >= from && !l.startsWith('  '));
        return lines.slice(from, end === -1 ? undefined : end).map((l) => l.slice(2));
      };
      const tryLines = block(/^try: .*needs curl and jq/);
      const secondBuyer = block(/^a second buyer's JWT/);
      const script = [
        ...tryLines,
        'echo ---',
        ...secondBuyer,
        'curl -sS "$BASE/v1/wallet" -H "Authorization: Bearer $JWT2"',
      ].join('\n');
      const res = spawnSync('bash', ['--noprofile', '--norc'], {
        cwd: root,
        input: script,
        env: { PATH: process.env.PATH ?? '' },
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(res.stderr).toBe('');
      const [walkthrough, minted] = res.stdout.split('---\n') as [string, string];
      const printed = walkthrough.trim().split('\n');
      const order = JSON.parse(printed.find((l) => l.includes('"paymentToken"')) ?? '{}');
      expect(order).toMatchObject({ orderId: expect.any(String), status: 'held' });
      const poll = JSON.parse(printed.at(-1)!);
      expect(poll).toMatchObject({ paymentId: expect.any(String), orderId: order.orderId });
      expect(['queued', 'processing', 'succeeded']).toContain(poll.status);
      // the minted JWT is a buyer the gateway accepts
      expect(JSON.parse(minted)).toEqual({ userId: 'buyer2', balances: {} });
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops its embedded redis-server when signalled during startup', async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'rushgate-early-'));
    const child = spawn(process.execPath, ['--import', 'tsx', entry], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', PORT: String(port), RUSHGATE_DATA_DIR: dir, RUSHGATE_LOG_LEVEL: 'warn' },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const redisChild = () =>
      spawnSync('ps', ['-o', 'pid=,comm=', '--ppid', String(child.pid)], { encoding: 'utf8' })
        .stdout.split('\n')
        .map((l) => l.trim().split(/\s+/))
        .find(([, comm]) => comm === 'redis-server')?.[0];
    let redisPid: string | undefined;
    for (let i = 0; i < 400 && !redisPid; i++) {
      redisPid = redisChild();
      if (!redisPid) await new Promise((r) => setTimeout(r, 10));
    }
    expect(redisPid).toBeDefined();
    // the ledger is still opening: no banner yet
    expect(out).not.toContain('try:');
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    // the gateway stops its embedded redis-server on the way out
    await waitFor(() => spawnSync('kill', ['-0', redisPid!]).status !== 0, {
      what: 'the embedded redis-server to stop',
      timeoutMs: 5000,
    });
    rmSync(dir, { recursive: true, force: true });
  });

  it('npm start says it is compiling before the silent build', async () => {
    // its own process group, so the build (npm, sh, tsc) stops with it
    const child = spawn('npm', ['start'], {
      cwd: root,
      detached: true,
      env: { PATH: process.env.PATH ?? '', PORT: String(await freePort()), RUSHGATE_DATA_DIR: dataDir },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    // at the start of a line: npm echoes the script itself first
    const said = /^rushgate: compiling TypeScript/m;
    for (let i = 0; i < 100 && !said.test(out); i++) await new Promise((r) => setTimeout(r, 50));
    process.kill(-child.pid!, 'SIGTERM');
    await exited;
    expect(out).toMatch(said);
    expect(out).not.toContain('rushgate listening');
  });

  it('stops with one clear line on an invalid setting', () => {
    const res = run({ PORT: 'eighty', RUSHGATE_DATA_DIR: dataDir });
    expect(res.status).toBe(1);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toMatch(/^rushgate: invalid PORT: /);
    const short = run({ RUSHGATE_JWT_SECRET: 'short', RUSHGATE_DATA_DIR: dataDir });
    expect(short.stderr).toMatch(/^rushgate: invalid RUSHGATE_JWT_SECRET: must be at least 32 characters/);
  });

  it('says how to install redis-server when it is missing and REDIS_URL is unset', () => {
    // a PATH holding node alone (on Debian, node and redis-server share /usr/bin)
    const bin = mkdtempSync(join(tmpdir(), 'rushgate-bin-'));
    symlinkSync(process.execPath, join(bin, 'node'));
    const res = run({ PATH: bin, RUSHGATE_DATA_DIR: dataDir });
    rmSync(bin, { recursive: true, force: true });
    expect(res.status).toBe(1);
    expect(res.stderr).toMatch(
      /redis-server is not installed.*apt-get install redis-server.*brew install redis.*REDIS_URL/,
    );
  });

  it('says so in one line when REDIS_URL cannot be reached', async () => {
    const res = run({ REDIS_URL: `redis://127.0.0.1:${await freePort()}`, RUSHGATE_DATA_DIR: dataDir });
    expect(res.status).toBe(1);
    expect(res.stderr).toMatch(/^rushgate: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+; set REDIS_URL/);
  });
});
