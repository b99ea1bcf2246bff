/**
 * Every Lua script has its behaviour test here (test/lua/<script>.test.ts) and every include
 * has one that runs it through a script, so a new script cannot arrive without its contract
 * stated and checked. The fields scripts name on order and payment hashes and lane entries are
 * the ones src/redis/records.ts declares: generation fails on any other.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { checkRecordFields } from '../../src/redis/record-fields.js';
import { renderScriptsModule } from '../../scripts/gen-lua.js';

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

describe('the record layout (src/redis/records.ts)', () => {
  /** lua/ copied aside with one script edited; what generation makes of it. */
  function generateWith(script: string, edit: (source: string) => string): () => string {
    const dir = mkdtempSync(join(tmpdir(), 'rushgate-lua-'));
    cpSync(join(root, 'lua'), dir, { recursive: true });
    const file = join(dir, `${script}.lua`);
    const edited = edit(readFileSync(file, 'utf8'));
    expect(edited).not.toBe(readFileSync(file, 'utf8'));
    writeFileSync(file, edited);
    return () => {
      try {
        return renderScriptsModule(dir);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };
  }

  test('generation fails naming the script and the field when a script writes an undeclared field', () => {
    const generate = generateWith('settlePayment', (lua) =>
      lua.replace("'failureCode', failureCode,", "'failureCode', failureCode, 'failedBy', 'worker',"),
    );
    expect(generate).toThrow("lua/settlePayment.lua: field 'failedBy' of the payment record is not declared");
  });

  test('an undeclared field read through KEYS[n] (the header names the key) fails too', () => {
    const generate = generateWith('readOrder', (lua) =>
      lua.replace("rcall('HGET', KEYS[1], 'userId')", "rcall('HGET', KEYS[1], 'owner')"),
    );
    expect(generate).toThrow("lua/readOrder.lua: field 'owner' of the order record is not declared");
  });

  test('a declared field written by a script that is not among its writers fails', () => {
    const generate = generateWith('markUnknown', (lua) =>
      lua.replace(
        "rcall('HSET', paymentKey, 'status', 'unknown')",
        "rcall('HSET', paymentKey, 'status', 'unknown', 'checks', 0)",
      ),
    );
    expect(generate).toThrow(
      "lua/markUnknown.lua: writes 'checks' of the payment record, not among its declared writers",
    );
  });

  test('field names the check cannot read, and record keys it cannot tell, are refused', () => {
    const check = (source: string) => () => checkRecordFields([{ name: 'probe', source }]);
    expect(check("local f = 'status'\nredis.call('HGET', orderKey, f)")).toThrow(
      'lua/probe.lua: HGET names a field of the order record as f: write it as a literal',
    );
    const varying = '--[[\n  KEYS[2k] order  rg:{s:<saleId>}:o:<orderId>\n]]\n';
    expect(check(`${varying}rcall('HGET', KEYS[i], 'status')`)).toThrow('bind it to a local named orderKey');
    // another hash, or a field inside a comment or a string, is none of the check's business
    expect(check("rcall('HSET', saleKey, 'anything', 1) -- rcall('HGET', orderKey, 'nope')")).not.toThrow();
  });

  test('every declared writer writes its field: the real scripts agree with the layout', () => {
    expect(() => renderScriptsModule()).not.toThrow();
  });
});
