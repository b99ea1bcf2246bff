/**
 * The ops view in a real browser: Debian's Chromium (never a downloaded one) driven by
 * playwright-core, against the gateway on real HTTP, real Redis, the worker and a PGlite ledger.
 * It logs in through the Basic challenge, watches a sale sell out live, and works the limits
 * panel (edit, dry-run, rollback); opened with the credentials in its URL, it still reads the API.
 * A screenshot is saved to test/artifacts/ops-view.png.
 * `.ci/run` installs chromium; elsewhere the file is skipped when no Chromium is found.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ledger } from '../../src/ledger/ledger.js';
import { silentLogger } from '../../src/logger.js';
import { SaleTally } from '../../src/ops/sale-tally.js';
import { pgliteSql } from '../../src/runtime/node/sql.js';
import { PaymentWorker } from '../../src/worker/payment-worker.js';
import { ADMIN_TOKEN, PERMISSIVE_POLICIES, admin, buyer, call, createSale, listen, pay, privateRedis, testApp, unique } from '../helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = 'test/artifacts';
const found = existsSync(CHROMIUM);
if (!found && process.env.CI) throw new Error(`no Chromium at ${CHROMIUM}: .ci/run installs Debian's chromium`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!found)('the ops view in Chromium', async () => {
  await privateRedis(); // a worker runs here
  const base = await testApp();
  const tally = new SaleTally(base.redis, { intervalMs: 200 });
  const ledger = await Ledger.open(await pgliteSql());
  const { app, redis } = await testApp({ tally, ledger });
  const url = await listen(app);
  const worker = new PaymentWorker(redis, ledger, silentLogger, { consumer: unique('w'), idleMs: 10, tally });
  let browser: Browser;

  beforeAll(async () => {
    tally.start();
    worker.start();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // as root in a sandbox, and no calls home on a closed network
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await worker.stop();
    await tally.stop();
  });

  it('shows a sale selling out live and edits, dry-runs and rolls back the limits', { timeout: 60_000 }, async () => {
    const saleId = await createSale(app, { name: 'WhyMe Chengdu, outer ring', stock: 30, price: 38000 });
    const context = await browser.newContext({ httpCredentials: { username: 'ops', password: ADMIN_TOKEN }, viewport: { width: 1360, height: 980 } });
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
        await admin(app, 'POST', `/admin/wallets/${b.userId}/credits`, { amount: 38000, currency: 'CNY', reference: unique('ref') });
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
    const opsSale = (await admin(app, 'GET', '/admin/ops')).body.sales.find((s: { saleId: string }) => s.saleId === saleId);
    expect(opsSale.tally.order).toEqual({ admitted: 30, sold_out: 15 });

    // limits: edit and apply
    const policies = page.locator('#policies');
    await expect.poll(async () => (await policies.inputValue()).length, { timeout: 10_000 }).toBeGreaterThan(0);
    // a version of ops' own to come back to (version 0, the defaults, has no history entry)
    expect((await admin(app, 'PUT', '/admin/limits', { policies: PERMISSIVE_POLICIES })).status).toBe(200);
    await page.click('#reload');
    const before = (await admin(app, 'GET', '/admin/limits')).body;
    await expect.poll(() => page.locator('#limits-version').textContent(), { timeout: 10_000 }).toBe(`v${before.version}`);
    const edited = structuredClone(before.policies);
    edited.orders.perUser.limit = 777_777;
    await policies.fill(JSON.stringify(edited, null, 2));
    await page.click('#apply');
    await expect.poll(() => page.locator('#limits-message').textContent(), { timeout: 10_000 }).toBe(`applied as v${before.version + 1}`);
    expect((await admin(app, 'GET', '/admin/limits')).body.policies.orders.perUser).toMatchObject({ limit: 777_777, dryRun: false });

    // a bad edit is refused by the gateway, shown, and changes nothing
    await policies.fill('{"orders": {"perUser": {"limit": -1, "windowSeconds": 10}}}');
    await page.click('#apply');
    await expect.poll(() => page.locator('#limits-message.error').count(), { timeout: 10_000 }).toBe(1);
    expect((await admin(app, 'GET', '/admin/limits')).body.version).toBe(before.version + 1);

    // dry-run: the same policies, counted but not enforced
    await page.click('#reload');
    await expect.poll(async () => JSON.parse(await policies.inputValue()).orders.perUser.limit, { timeout: 10_000 }).toBe(777_777);
    await page.click('#dry-run');
    await expect.poll(() => page.locator('#limits-message').textContent(), { timeout: 10_000 }).toBe(`applied as v${before.version + 2} (dry-run)`);
    expect((await admin(app, 'GET', '/admin/limits')).body.policies.orders.perUser).toMatchObject({ limit: 777_777, dryRun: true });

    // rollback to the version before the edits, from the history table
    await page.locator(`#history tr[data-version="${before.version}"] button`).click();
    await expect.poll(() => page.locator('#limits-message').textContent(), { timeout: 10_000 }).toBe(`rolled back to v${before.version}, now v${before.version + 3}`);
    const after = (await admin(app, 'GET', '/admin/limits')).body;
    expect(after).toMatchObject({ version: before.version + 3, policies: before.policies });
    expect(await page.locator('#history tr').count()).toBeGreaterThanOrEqual(4);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}/ops-view.png`, fullPage: true });
    expect(failures).toEqual([]);
    await context.close();
  });

  it('works when opened with the credentials in its URL, and shows a zero-decimal currency whole', async () => {
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
});
