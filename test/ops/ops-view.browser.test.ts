/**
 * The ops view in a real browser: Debian's Chromium (never a downloaded one) driven by
 * playwright-core, against the gateway on real HTTP, real Redis, the worker and a PGlite ledger.
 * A page opened mid-sale shows the sale from its start (the server keeps the history); a refusal
 * spike and an outage (the ledger closed, Redis stopped) turn their indicators red. It logs in
 * through the Basic challenge, watches a sale sell out live, and works the limits panel (edit,
 * dry-run, rollback); opened with the credentials in its URL, it still reads the API.
 * Screenshots go to test/artifacts/ (ops-view.png: a sale mid-flight; docs/ops-view.png is a copy).
 * `.ci/run` installs chromium; elsewhere the file is skipped when no Chromium is found.
 */
import { mkdirSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { chromiumFound, launchChromium } from '../support/browser.js';
import { afterAll, beforeAll } from 'vitest';
import { Redis } from 'ioredis';
import { createApp } from '../../src/app.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { silentLogger } from '../../src/logger.js';
import { SaleTally } from '../../src/ops/sale-tally.js';
import type { RedisPort } from '../../src/redis/port.js';
import { startEmbeddedRedis } from '../../src/runtime/node/dev/embedded-redis.js';
import { gatewayRedisOptions, ioredisPort } from '../../src/runtime/node/adapters/ioredis-port.js';
import { pgliteSql } from '../../src/runtime/node/adapters/sql.js';
import { PaymentWorker } from '../../src/worker/payment-worker.js';
import {
  ADMIN_TOKEN,
  JWT_SECRET,
  PERMISSIVE_POLICIES,
  TOKEN_SECRET,
  admin,
  buyer,
  call,
  createSale,
  pay,
  serveApp,
  startGateway,
  unique,
} from '../helpers.js';
import { test as withFixtures, describe, expect, usePrivateRedis } from '../fixtures.js';

const ARTIFACTS = 'test/artifacts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The gateway the ops view watches, served over HTTP, with its tally (written through `port`
 * every 200 ms) and a payment worker.
 */
async function watchedGateway(redisUrl: string, port: RedisPort, ledger: Ledger) {
  const tally = new SaleTally(port, { intervalMs: 200 });
  const watched = await startGateway(redisUrl, { tally, ledger });
  const { app, redis } = watched;
  const served = await serveApp(app);
  const worker = new PaymentWorker(redis, ledger, silentLogger, { consumer: unique('w'), idleMs: 10, tally });
  tally.start();
  worker.start();
  const close = async () => {
    await worker.stop();
    await tally.stop();
    await served.close();
    await watched.close();
  };
  return { app, redis, tally, url: served.url, close };
}

/** A gateway with a Redis and a ledger of its own, so stopping them disturbs nothing else. */
async function fragileGateway() {
  const server = await startEmbeddedRedis();
  const client = new Redis(server.url, { ...gatewayRedisOptions(500), lazyConnect: true });
  client.on('error', () => {});
  await client.connect();
  const ownLedger = await Ledger.open(await pgliteSql());
  const fragile = createApp({
    redis: ioredisPort(client),
    log: silentLogger,
    jwtSecret: JWT_SECRET,
    adminToken: ADMIN_TOKEN,
    tokenSecret: TOKEN_SECRET,
    ledger: ownLedger,
  });
  const served = await serveApp(fragile);
  const close = async () => {
    await served.close();
    client.disconnect();
    await server.stop();
  };
  return { server, ledger: ownLedger, app: fragile, url: served.url, close };
}

const test = withFixtures.extend<{
  watched: Awaited<ReturnType<typeof watchedGateway>>;
  fragile: Awaited<ReturnType<typeof fragileGateway>>;
}>({
  watched: [
    async ({ redisUrl, redis, ledger }, use) => {
      const watched = await watchedGateway(redisUrl, redis, ledger);
      await use(watched);
      await watched.close();
    },
    { scope: 'file' },
  ],
  fragile: [
    async ({}, use) => {
      const fragile = await fragileGateway();
      await use(fragile);
      await fragile.close();
    },
    { scope: 'file' },
  ],
});

describe.skipIf(!chromiumFound)('the ops view in Chromium', () => {
  usePrivateRedis(); // a worker runs here
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  const launchArgs = {
    httpCredentials: { username: 'ops', password: ADMIN_TOKEN },
    viewport: { width: 1360, height: 1100 },
  };
  const watch = (page: import('playwright-core').Page) => {
    const failures: string[] = [];
    page.on('pageerror', (err) => failures.push(err.message));
    page.on('requestfailed', (req) => failures.push(`${req.url()} ${req.failure()?.errorText}`));
    return failures;
  };

  test('shows a page opened mid-sale the sale from its start, and turns a refusal spike red', {
    timeout: 60_000,
  }, async ({ watched: { app, redis, tally, url } }) => {
    const saleId = await createSale(app, { name: 'WhyMe Chengdu, inner ring', stock: 120, price: 38000 });
    const paid: { orderId: string; jwt: string }[] = [];
    let admitted = 0;
    // buyers arrive in waves; most holders pay (every third clicks twice), one in eight has no money
    const wave = async (size: number) => {
      const arrivals = await Promise.all(
        Array.from({ length: size }, async () => {
          const b = await buyer();
          return { b, res: await call(app, 'POST', `/v1/sales/${saleId}/orders`, { token: b.jwt, body: {} }) };
        }),
      );
      for (const { b, res } of arrivals) {
        if (res.status !== 201) continue;
        admitted++;
        if (admitted % 5 === 0) continue; // holds, does not pay yet
        if (admitted % 8 !== 0)
          await admin(app, 'POST', `/admin/wallets/${b.userId}/credits`, {
            amount: 38000,
            currency: 'CNY',
            reference: unique('ref'),
          });
        expect((await pay(app, res.body.orderId, b.jwt, res.body.paymentToken)).status).toBe(202);
        if (admitted % 3 === 0)
          expect((await pay(app, res.body.orderId, b.jwt, res.body.paymentToken)).status).toBe(202);
        paid.push({ orderId: res.body.orderId, jwt: b.jwt });
      }
    };
    const firstWaveSecond = Math.floor((await redis.timeMs()) / 1000);
    for (let i = 0; i < 3; i++) {
      await wave(20);
      await sleep(600);
    }
    await tally.flush();
    // opened at least 4 s after the first wave began: fast waves could end within 2 s, leaving the
    // first history second right before the opening, not seconds before it
    while (Math.floor((await redis.timeMs()) / 1000) < firstWaveSecond + 4) await sleep(100);
    const openedAtSecond = Math.floor((await redis.timeMs()) / 1000);
    const admittedBefore = admitted;

    // opened now, the page draws the seconds before it was opened
    const context = await browser.newContext(launchArgs);
    const page = await context.newPage();
    const failures = watch(page);
    await page.goto(`${url}/admin/`);
    const card = page.locator(`[data-sale="${saleId}"]`);
    await card.waitFor();
    // the page's history starts with the first wave, seconds before the page was opened
    const historyFrom = Number(await card.getAttribute('data-history-from'));
    expect(historyFrom).toBeGreaterThanOrEqual(firstWaveSecond);
    expect(historyFrom).toBeLessThanOrEqual(firstWaveSecond + 2);
    expect(historyFrom).toBeLessThan(openedAtSecond - 1);
    expect(Number(await card.locator('svg[data-chart="decisions"]').getAttribute('data-first-second'))).toBeLessThan(
      historyFrom,
    );
    await expect
      .poll(() => card.locator('[data-rate="order:admitted"] b').textContent(), { timeout: 5_000 })
      .toBe(`${admittedBefore} in view`);
    for (const series of ['order:admitted', 'payment:admitted', 'payment:replayed'])
      expect(await card.locator(`path[data-series="${series}"]`).count()).toBe(1);
    expect(await card.locator('[data-event="opensAt"]').textContent()).toMatch(/^\d\d:\d\d:\d\d$/);
    // every chart has its axes labelled with their units, and time ticks
    for (const [chart, unit] of [
      ['decisions', 'requests per second'],
      ['timeline', 'seats'],
    ]) {
      const labels = await card.locator(`svg[data-chart="${chart}"] text`).allTextContents();
      expect(labels).toEqual(
        expect.arrayContaining([unit, 'time (local, hh:mm:ss)', expect.stringMatching(/^\d\d:\d\d:\d\d$/), '0']),
      );
    }
    await expect
      .poll(() => page.locator('#health [data-health="redis"]').getAttribute('data-state'), { timeout: 5_000 })
      .toBe('ok');
    expect(await page.locator('#health [data-health="ledger"]').getAttribute('data-state')).toBe('ok');

    // the sale sells out while the page watches
    for (let i = 0; i < 4; i++) {
      await wave(25);
      await sleep(500);
    }
    await expect.poll(() => card.locator('[data-field="status"]').textContent(), { timeout: 10_000 }).toBe('sold out');
    await expect
      .poll(() => card.locator('[data-event="soldOutAt"]').textContent(), { timeout: 5_000 })
      .toMatch(/^\d\d:\d\d:\d\d$/);
    await expect.poll(() => card.locator('[data-failure="insufficient_funds"]').count(), { timeout: 10_000 }).toBe(1);
    expect(Number(await card.locator('[data-decision="payment:replayed"]').textContent())).toBeGreaterThan(0);
    expect(await card.locator('[data-health="refusals"]').getAttribute('data-state')).not.toBe('bad');

    // a storm of forged payment tokens: the refusal indicator turns red
    const target = paid[0]!;
    await Promise.all(Array.from({ length: 40 }, () => pay(app, target.orderId, target.jwt, 'pt_forged.x')));
    await expect
      .poll(() => card.locator('[data-health="refusals"]').getAttribute('data-state'), { timeout: 10_000 })
      .toBe('bad');
    expect(Number(await card.locator('[data-decision="payment:token_invalid"]').textContent())).toBe(40);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}/ops-view.png`, fullPage: true });
    expect(failures).toEqual([]);
    await context.close();
  });

  test('shows a sale selling out live and edits, dry-runs and rolls back the limits', { timeout: 60_000 }, async ({
    watched: { app, url },
  }) => {
    const saleId = await createSale(app, { name: 'WhyMe Chengdu, outer ring', stock: 30, price: 38000 });
    const context = await browser.newContext({
      httpCredentials: { username: 'ops', password: ADMIN_TOKEN },
      viewport: { width: 1360, height: 980 },
    });
    const page = await context.newPage();
    const failures: string[] = [];
    page.on('pageerror', (err) => failures.push(err.message));
    page.on('requestfailed', (req) => failures.push(`${req.url()} ${req.failure()?.errorText}`));
    await page.goto(`${url}/admin/`);
    const card = page.locator(`[data-sale="${saleId}"]`);
    await card.waitFor();

    // 45 buyers arrive in waves for 30 seats; the first 20 holders pay with their wallets
    let paid = 0;
    for (let wave = 0; wave < 5; wave++) {
      const arrivals = await Promise.all(
        Array.from({ length: 9 }, async () => {
          const b = await buyer();
          const res = await call(app, 'POST', `/v1/sales/${saleId}/orders`, { token: b.jwt, body: {} });
          return { b, res };
        }),
      );
      for (const { b, res } of arrivals) {
        if (res.status !== 201 || paid >= 20) continue;
        paid++;
        await admin(app, 'POST', `/admin/wallets/${b.userId}/credits`, {
          amount: 38000,
          currency: 'CNY',
          reference: unique('ref'),
        });
        expect((await pay(app, res.body.orderId, b.jwt, res.body.paymentToken)).status).toBe(202);
      }
      await sleep(700);
    }
    const field = (name: string) => card.locator(`[data-field="${name}"]`);
    // prices are kept in minor units: 38000 fen is 380.00 yuan
    expect(await card.locator('h2').textContent()).toContain(' · 380.00 CNY');
    await expect.poll(() => field('sold').textContent(), { timeout: 15_000 }).toBe('20');
    await expect.poll(() => card.locator('[data-outcome="succeeded"]').textContent(), { timeout: 5_000 }).toBe('20');
    expect(await field('held').textContent()).toBe('10');
    expect(await field('available').textContent()).toBe('0');
    expect(await field('stock').textContent()).toBe('30');
    expect(await field('status').textContent()).toBe('sold out');
    expect(await card.locator('[data-lane="standard"]').textContent()).toBe('0');
    expect(await card.locator('[data-served="standard"]').textContent()).toBe('20');
    // the chart draws a line per decision that happened, admissions and refusals
    for (const series of ['order:admitted', 'order:sold_out', 'payment:admitted']) {
      await expect.poll(() => card.locator(`path[data-series="${series}"]`).count(), { timeout: 10_000 }).toBe(1);
    }
    const opsSale = (await admin(app, 'GET', '/admin/ops')).body.sales.find(
      (s: { saleId: string }) => s.saleId === saleId,
    );
    expect(opsSale.tally.order).toEqual({ admitted: 30, sold_out: 15 });

    // limits: edit and apply
    const policies = page.locator('#policies');
    await expect.poll(async () => (await policies.inputValue()).length, { timeout: 10_000 }).toBeGreaterThan(0);
    // a version of ops' own to come back to (version 0, the defaults, has no history entry)
    expect((await admin(app, 'PUT', '/admin/limits', { policies: PERMISSIVE_POLICIES })).status).toBe(200);
    await page.click('#reload');
    const before = (await admin(app, 'GET', '/admin/limits')).body;
    await expect
      .poll(() => page.locator('#limits-version').textContent(), { timeout: 10_000 })
      .toBe(`v${before.version}`);
    const edited = structuredClone(before.policies);
    edited.orders.perUser.limit = 777_777;
    await policies.fill(JSON.stringify(edited, null, 2));
    await page.click('#apply');
    await expect
      .poll(() => page.locator('#limits-message').textContent(), { timeout: 10_000 })
      .toBe(`applied as v${before.version + 1}`);
    expect((await admin(app, 'GET', '/admin/limits')).body.policies.orders.perUser).toMatchObject({
      limit: 777_777,
      dryRun: false,
    });

    // a bad edit is refused by the gateway, shown, and changes nothing
    await policies.fill('{"orders": {"perUser": {"limit": -1, "windowSeconds": 10}}}');
    await page.click('#apply');
    await expect.poll(() => page.locator('#limits-message.error').count(), { timeout: 10_000 }).toBe(1);
    expect((await admin(app, 'GET', '/admin/limits')).body.version).toBe(before.version + 1);

    // dry-run: the same policies, counted but not enforced
    await page.click('#reload');
    await expect
      .poll(async () => JSON.parse(await policies.inputValue()).orders.perUser.limit, { timeout: 10_000 })
      .toBe(777_777);
    await page.click('#dry-run');
    await expect
      .poll(() => page.locator('#limits-message').textContent(), { timeout: 10_000 })
      .toBe(`applied as v${before.version + 2} (dry-run)`);
    expect((await admin(app, 'GET', '/admin/limits')).body.policies.orders.perUser).toMatchObject({
      limit: 777_777,
      dryRun: true,
    });

    // rollback to the version before the edits, from the history table
    await page.locator(`#history tr[data-version="${before.version}"] button`).click();
    await expect
      .poll(() => page.locator('#limits-message').textContent(), { timeout: 10_000 })
      .toBe(`rolled back to v${before.version}, now v${before.version + 3}`);
    const after = (await admin(app, 'GET', '/admin/limits')).body;
    expect(after).toMatchObject({ version: before.version + 3, policies: before.policies });
    expect(await page.locator('#history tr').count()).toBeGreaterThanOrEqual(4);

    expect(failures).toEqual([]);
    await context.close();
  });

  test('works when opened with the credentials in its URL, and shows a zero-decimal currency whole', async ({
    watched: { app, url },
  }) => {
    const saleId = await createSale(app, { name: 'Tokyo Dome, arena', price: 9800, currency: 'JPY' });
    const context = await browser.newContext();
    const page = await context.newPage();
    const failures: string[] = [];
    page.on('pageerror', (err) => failures.push(err.message));
    page.on('requestfailed', (req) => failures.push(`${req.url()} ${req.failure()?.errorText}`));
    // a URL with credentials cannot be the base of a fetch: the page must not resolve against it
    await page.goto(`${url.replace('://', `://admin:${ADMIN_TOKEN}@`)}/admin/`);
    const card = page.locator(`[data-sale="${saleId}"]`);
    await expect.poll(() => page.locator('#sales').textContent(), { timeout: 10_000 }).not.toContain('Loading');
    expect(await card.locator('h2').textContent()).toContain(' · 9,800 JPY');
    await expect.poll(() => page.locator('#limits-version').textContent(), { timeout: 10_000 }).toMatch(/^v\d+$/);
    expect(await page.locator('#status').textContent()).toMatch(/^live/);
    expect(failures).toEqual([]);
    await context.close();
  });
  test('turns the ledger red when it stops answering and Redis red when it stops, keeping the last figures', {
    timeout: 60_000,
  }, async ({ fragile: fragileGateway }) => {
    const { server, ledger: own, app: fragile, url: fragileUrl } = fragileGateway;
    try {
      const saleId = await createSale(fragile, { name: 'Fragile hall' });
      const context = await browser.newContext(launchArgs);
      const page = await context.newPage();
      await page.goto(`${fragileUrl}/admin/`);
      await page.locator(`[data-sale="${saleId}"]`).waitFor();
      const state = (name: string) => page.locator(`#health [data-health="${name}"]`).getAttribute('data-state');
      await expect.poll(() => state('redis'), { timeout: 5_000 }).toBe('ok');
      await expect.poll(() => state('ledger'), { timeout: 5_000 }).toBe('ok');

      await own.close();
      await expect.poll(() => state('ledger'), { timeout: 10_000 }).toBe('bad');
      expect(await state('redis')).toBe('ok');

      await server.stop();
      await expect.poll(() => state('redis'), { timeout: 10_000 }).toBe('bad');
      expect(await page.locator('#status').textContent()).toMatch(/^cannot read \/admin\/ops/);
      // the sale stays on screen as last read
      expect(await page.locator(`[data-sale="${saleId}"]`).count()).toBe(1);
      await context.close();
    } finally {
      await server.stop();
    }
  });
});
