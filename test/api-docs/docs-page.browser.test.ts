/**
 * The API reference in a real browser: Debian's Chromium (never a downloaded one) driven by
 * playwright-core, against the gateway on real HTTP. The page renders the operations of
 * /openapi.json, every request it makes goes to the gateway itself (no CDN, no fonts, no
 * telemetry, nothing the CSP had to refuse), and none of its visible links leaves it.
 * `.ci/run` installs chromium; elsewhere the file is skipped when no Chromium is found.
 */
import type { Browser } from 'playwright-core';
import { chromiumFound, launchChromium } from '../support/browser.js';
import { afterAll, beforeAll } from 'vitest';
import { nodeReferenceScript } from '../../src/runtime/node/adapters/api-reference.js';
import { describe, expect, test } from '../fixtures.js';

describe.skipIf(!chromiumFound)('the API reference in Chromium', () => {
  test.scoped({ appDeps: [{ apiReferenceScript: nodeReferenceScript }, { scope: 'file' }] });
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  test('renders the documented operations and requests nothing outside the gateway', { timeout: 60_000 }, async ({
    origin: url,
  }) => {
    const page = await browser.newPage();
    const elsewhere: string[] = [];
    const refused: string[] = [];
    page.on('request', (req) => {
      const target = req.url();
      if (!target.startsWith(`${url}/`) && !target.startsWith('data:') && !target.startsWith('blob:')) {
        elsewhere.push(target);
      }
    });
    page.on('console', (msg) => {
      if (/Content Security Policy|Refused to/i.test(msg.text())) refused.push(msg.text());
    });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`${url}/docs`);
    // the document's own text: its description and the operations of the first group
    await page.getByText('Flash-sale checkout gateway').first().waitFor({ timeout: 30_000 });
    await page.getByText('Create or update a sale').first().waitFor({ timeout: 30_000 });
    // and no link a reader can follow leaves the gateway (Scalar's credit link is hidden)
    const links = await page.$$eval('a[href]', (anchors) =>
      anchors.filter((a) => (a as HTMLElement).offsetParent !== null).map((a) => (a as HTMLAnchorElement).href),
    );
    expect(links.length).toBeGreaterThan(0);
    expect(links.filter((href) => !href.startsWith(`${url}/`))).toEqual([]);
    expect(errors).toEqual([]);
    expect(elsewhere).toEqual([]);
    expect(refused).toEqual([]);
  });
});
