import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/** Debian's Chromium (or CHROMIUM_PATH): never a downloaded browser. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Whether the browser tests can run; in CI a missing Chromium is an error, not a skip. */
export const chromiumFound = existsSync(CHROMIUM);
if (!chromiumFound && process.env.CI) {
  throw new Error(`no Chromium at ${CHROMIUM}: .ci/run installs Debian's chromium`);
}

/** Headless Chromium as root in a sandbox, with no calls home on a closed network. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
