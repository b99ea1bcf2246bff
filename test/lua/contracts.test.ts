/**
 * Every Lua script has its behaviour test here (test/lua/<script>.test.ts) and every include
 * has one that runs it through a script, so a new script cannot arrive without its contract
 * stated and checked.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';

const root = join(import.meta.dirname, '../..');
const names = (dir: string, ext: string) =>
  readdirSync(join(root, dir))
    .filter((f) => f.endsWith(ext))
    .map((f) => f.slice(0, -ext.length))
    .sort();

describe('lua contracts', () => {
  test('each script in lua/ has a behaviour test in test/lua/', () => {
    const tested = new Set(names('test/lua', '.test.ts'));
    expect(names('lua', '.lua').filter((script) => !tested.has(script))).toEqual([]);
  });

  test('each include in lua/includes/ is exercised by a tested script, or has a test of its own', () => {
    const tested = new Set(names('test/lua', '.test.ts'));
    // now and releaseHold run in every deadline test (createOrder, cancelOrder, expireHolds, settlePayment);
    // retire's record TTL is checked by reconcileCharges' and refundOversold's tests; saleChange's
    // rules by putSale's and checkSale's
    const throughScripts = new Set(['now', 'releaseHold', 'retire', 'saleChange']);
    expect(names('lua/includes', '.lua').filter((inc) => !tested.has(inc) && !throughScripts.has(inc))).toEqual([]);
  });
});
