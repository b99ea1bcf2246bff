/**
 * Refused input leaves nothing behind: a refused sale creation lists no sale and writes no key,
 * and a client that hangs up mid-body is the client's doing (no 5xx counted, no error logged).
 */
import { connect } from 'node:net';
import type { Logger } from '../../src/logger.js';
import { promMetrics } from '../../src/runtime/node/adapters/metrics.js';
import { keys } from '../../src/redis/keys.js';
import { saleKeyPattern } from '../support/keys.js';
import { test as base, describe, expect } from '../fixtures.js';
import {
  admin,
  buyer,
  createSale,
  parallel,
  serveApp,
  startGateway,
  unique,
  waitFor,
  type Gateway,
} from '../helpers.js';

// a gateway that logs and measures, served over real HTTP
const lines: { level: string; msg: string | undefined }[] = [];
const log: Logger = {
  info: (_o, msg) => lines.push({ level: 'info', msg }),
  warn: (_o, msg) => lines.push({ level: 'warn', msg }),
  error: (_o, msg) => lines.push({ level: 'error', msg }),
};
const test = base.extend<{ measured: Gateway; served: URL }>({
  measured: [
    async ({ redisUrl, policies }, use) => {
      const gateway = await startGateway(redisUrl, { log, metrics: promMetrics() }, policies);
      await use(gateway);
      await gateway.close();
    },
    { scope: 'file' },
  ],
  served: [
    async ({ measured }, use) => {
      const served = await serveApp(measured.app);
      await use(new URL(served.url));
      await served.close();
    },
    { scope: 'file' },
  ],
});

describe('refused input', () => {
  test('1,000 refused PUT /admin/sales/<new id> answer 400 and leave no sale listed and no key', async ({
    app,
    raw,
  }) => {
    const ids = Array.from({ length: 1000 }, () => unique('never'));
    const results = await parallel(ids.length, 50, (i) => admin(app, 'PUT', `/admin/sales/${ids[i]}`, {}));
    expect(new Set(results.map((r) => r.status))).toEqual(new Set([400]));
    const listed = await raw.smismember(keys.sales, ...ids);
    expect(listed.filter((x) => x === 1)).toHaveLength(0);
    for (const id of ids.slice(0, 20)) expect(await raw.keys(saleKeyPattern(id))).toEqual([]);
    // a valid one is listed, and the same refused body on an existing sale changes nothing
    const saleId = await createSale(app);
    expect(await raw.sismember(keys.sales, saleId)).toBe(1);
    expect((await admin(app, 'PUT', `/admin/sales/${saleId}`, { stock: 0 })).status).toBe(400);
  });

  test('a client that hangs up mid-body is counted as no 5xx and logged below error level', async ({
    measured,
    served,
  }) => {
    const saleId = await createSale(measured.app);
    const b = await buyer();
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((done) => {
        const socket = connect(Number(served.port), served.hostname, () => {
          socket.write(
            `POST /v1/sales/${saleId}/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${b.jwt}\r\n` +
              'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"quantity":',
          );
          // let the server start reading the body, then reset the connection
          setTimeout(() => socket.resetAndDestroy(), 50);
        });
        socket.on('close', () => done());
        socket.on('error', () => {});
      });
    }
    // the server notices the reset asynchronously: wait until all five requests were answered
    const counted = async () => {
      const text = await (await measured.app.request('/metrics')).text();
      return text
        .split('\n')
        .filter((l) => l.startsWith('rushgate_http_request_duration_seconds_count{') && l.includes('/orders'));
    };
    const answered = async () => (await counted()).reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
    await waitFor(async () => (await answered()) >= 5, { what: 'all five requests to be counted', timeoutMs: 5000 });
    const series = await counted();
    expect(series.length, series.join('\n')).toBeGreaterThan(0);
    expect(
      series.filter((l) => /status="5\d\d"/.test(l)),
      series.join('\n'),
    ).toEqual([]);
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
  });
});
