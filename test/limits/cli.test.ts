/** The ops CLI (npx rushgate) against a real gateway over HTTP. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, test, usePrivateRedis } from '../fixtures.js';
import { ADMIN_TOKEN, buyer, call, createSale } from '../helpers.js';

// policies are global to a Redis: this file has one of its own
usePrivateRedis();
const cli = join(import.meta.dirname, '../../src/cli/rushgate.mjs');

function rushgate(base: string, ...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], {
      env: { PATH: process.env.PATH ?? '', RUSHGATE_URL: base, RUSHGATE_ADMIN_TOKEN: ADMIN_TOKEN },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.once('exit', (code) => resolve({ code, out, err }));
  });
}

describe('npx rushgate', () => {
  test('sets, shows, lists and rolls back limits; refuses bad policies with a non-zero exit', async ({ origin }) => {
    // this file's Redis is its own, and nothing has set limits yet: no history, not a blank line
    const empty = await rushgate(origin, 'limits', 'history');
    expect(empty).toMatchObject({ code: 0, err: '' });
    expect(empty.out).toBe('no limits history yet: version 0 (the defaults) is in force\n');
    const policies = {
      orders: { perUser: { limit: 3, windowSeconds: 10 } },
      payments: { perUser: { limit: 3, windowSeconds: 10 } },
    };
    const set = await rushgate(origin, 'limits', 'set', JSON.stringify(policies));
    expect(set).toMatchObject({ code: 0 });
    expect(set.out).toMatch(/^limits version 1 in force/);
    expect(JSON.parse((await rushgate(origin, 'limits', 'get')).out)).toMatchObject({
      version: 1,
      policies: { orders: { perUser: { limit: 3 } } },
    });
    const bad = await rushgate(
      origin,
      'limits',
      'set',
      JSON.stringify({ orders: { perUser: { limit: -1, windowSeconds: 10 } }, payments: policies.payments }),
    );
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/400 invalid_request/);
    await rushgate(
      origin,
      'limits',
      'set',
      JSON.stringify({ policies: { ...policies, orders: { perUser: { limit: 9, windowSeconds: 10 } } } }),
    );
    const history = await rushgate(origin, 'limits', 'history');
    expect(history.out.split('\n')[0]).toMatch(/^v2 .* orders\.perUser\.limit: 3 -> 9/);
    const back = await rushgate(origin, 'limits', 'rollback', '1');
    expect(back).toMatchObject({ code: 0 });
    expect(back.out).toMatch(/as version 3/);
    expect((await rushgate(origin, 'limits', 'rollback', '99')).code).toBe(1);
  });

  test('prints each error of a refused policy once', async ({ origin }) => {
    const bad = await rushgate(
      origin,
      'limits',
      'set',
      JSON.stringify({ orders: { perUser: { limit: -1, windowSeconds: 0 } } }),
    );
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/^rushgate: 400 invalid_request: /);
    const errorPaths = bad.err.match(/orders\.perUser\.\w+(?=: )/g) ?? [];
    expect(errorPaths.sort()).toEqual(['orders.perUser.limit', 'orders.perUser.windowSeconds']);
  });

  test('blocks and unblocks a buyer', async ({ app, origin, gateway }) => {
    const saleId = await createSale(app);
    const b = await buyer();
    const blocked = await rushgate(origin, 'block', b.userId, '--ttl', '120', '--reason', 'scalper');
    expect(blocked).toMatchObject({ code: 0 });
    await gateway.limits.refresh();
    expect((await call(app, 'POST', `/v1/sales/${saleId}/orders`, { token: b.jwt, body: {} })).body.code).toBe(
      'blocked',
    );
    expect((await rushgate(origin, 'unblock', b.userId)).code).toBe(0);
    await gateway.limits.refresh();
    expect((await call(app, 'POST', `/v1/sales/${saleId}/orders`, { token: b.jwt, body: {} })).status).toBe(201);
  });

  test('prints usage (exit 2) for an unknown command, and a clear line when the gateway is unreachable', async ({
    origin,
  }) => {
    expect((await rushgate(origin, 'launch')).code).toBe(2);
    const child = await new Promise<{ code: number | null; err: string }>((resolve) => {
      const p = spawn(process.execPath, [cli, 'limits', 'get'], {
        env: { PATH: process.env.PATH ?? '', RUSHGATE_URL: 'http://127.0.0.1:1', RUSHGATE_ADMIN_TOKEN: 'x'.repeat(20) },
      });
      let err = '';
      p.stderr.on('data', (d) => (err += d));
      p.once('exit', (code) => resolve({ code, err }));
    });
    expect(child.code).toBe(1);
    expect(child.err).toMatch(/^rushgate: cannot reach http:\/\/127\.0\.0\.1:1/);
  });
});
