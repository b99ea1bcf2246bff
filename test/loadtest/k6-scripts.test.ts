/**
 * k6 is not installable here (no npm or Debian package), so what can be tested without it is:
 * the scripts parse as ES modules, and their shared helpers (JWT minting, the end-of-run
 * checks) work, with minted JWTs accepted by the gateway's own verifiers.
 */
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { webJwtVerifier } from '../../src/http/auth.js';
import { nodeJwtVerifier } from '../../src/runtime/node/crypto.js';
// @ts-expect-error plain JS shared with k6
import { chargedTwice, onePaymentPerOrder, saleViolations } from '../../loadtest/lib/invariants.js';
// @ts-expect-error plain JS shared with k6
import { makeJwtMinter } from '../../loadtest/lib/jwt.js';
import { JWT_SECRET } from '../helpers.js';

const dir = join(import.meta.dirname, '../../loadtest');

describe('k6 scripts', () => {
  it.each(['flash-sale.js', 'double-click.js', 'soak.js', 'lib/k6.js', 'lib/jwt.js', 'lib/invariants.js'])('%s parses as an ES module', (file) => {
    const res = spawnSync(process.execPath, ['--check', join(dir, file)], { encoding: 'utf8' });
    expect(res.status, res.stderr).toBe(0);
  });

  it('minted JWTs are accepted by both of the gateway verifiers, with their tier', async () => {
    const minter = makeJwtMinter({
      b64url: (text: string) => Buffer.from(text, 'utf8').toString('base64url'),
      hmacB64url: (secret: string, data: string) => createHmac('sha256', secret).update(data).digest('base64url'),
    });
    const jwt = minter.mint('k6-buyer-1', JWT_SECRET, { tier: 'priority' });
    for (const verify of [nodeJwtVerifier(JWT_SECRET), webJwtVerifier(JWT_SECRET)]) {
      expect(await verify(jwt)).toMatchObject({ sub: 'k6-buyer-1', tier: 'priority' });
    }
    const expired = minter.mint('k6-buyer-1', JWT_SECRET, { ttlSeconds: -10 });
    await expect(Promise.resolve().then(() => nodeJwtVerifier(JWT_SECRET)(expired))).rejects.toThrow();
  });

  it('the end-of-run checks catch an oversold sale, inconsistent counters and a double charge', () => {
    expect(saleViolations({ stock: 10, available: 0, held: 0, sold: 10 })).toEqual([]);
    expect(saleViolations({ stock: 10, available: 0, held: 0, sold: 11 }).join()).toMatch(/oversold/);
    expect(saleViolations({ stock: 10, available: 1, held: 0, sold: 10 }).join()).toMatch(/!= stock/);
    expect(onePaymentPerOrder(['p1', 'p1', 'p1'])).toBe(true);
    expect(onePaymentPerOrder(['p1', 'p2'])).toBe(false);
    expect(onePaymentPerOrder(['p1', null])).toBe(false);
    expect(chargedTwice({ o1: 1, o2: 2 })).toEqual(['o2']);
  });
});
