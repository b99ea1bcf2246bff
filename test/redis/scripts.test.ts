import { readFileSync } from 'node:fs';
import { keys } from '../../src/redis/keys.js';
import { runScript } from '../../src/redis/run-script.js';
import { scripts } from '../../src/redis/scripts.generated.js';
import { renderScriptsModule } from '../../scripts/gen-lua.js';
import { describe, expect, test } from '../fixtures.js';
import { unique } from '../helpers.js';

describe('Lua scripts', () => {
  test('the generated module is up to date with lua/ (run npm run gen:lua)', () => {
    const onDisk = readFileSync(new URL('../../src/redis/scripts.generated.ts', import.meta.url), 'utf8');
    expect(onDisk).toBe(renderScriptsModule());
  });

  test.for(Object.values(scripts))('$name loads into real Redis under its precomputed SHA', async (script, { raw }) => {
    expect(await raw.script('LOAD', script.source)).toBe(script.sha);
  });

  test('every script opens with a contract header and touches keys only through KEYS', () => {
    for (const script of Object.values(scripts)) {
      expect(script.source.startsWith(`--[[\n  ${script.name}:`), script.name).toBe(true);
      expect(script.source).toMatch(/KEYS\[1\]/);
      // a key built inside Lua would be a string concatenated into a redis.call: none may be
      expect(script.source, script.name).not.toMatch(/rcall\('[A-Z]+', *'rg:/);
    }
  });

  test('falls back to EVAL once when Redis has lost its script cache (NOSCRIPT), then runs by SHA again', async ({
    raw,
    redis,
  }) => {
    const saleId = unique('sale');
    await raw.script('FLUSH');
    const saleKeys = [keys.sale(saleId), keys.lanes(saleId), keys.admission(saleId)];
    const reply = await runScript(redis, scripts.readSale, saleKeys, []);
    expect(reply).toEqual([10]);
    // EVAL cached it again: EVALSHA now works directly
    expect(await raw.evalsha(scripts.readSale.sha, 3, ...saleKeys)).toEqual([10]);
  });

  test('a script error is not mistaken for NOSCRIPT and surfaces as an error', async ({ raw, redis }) => {
    const notAHash = unique('string-key');
    await raw.set(notAHash, 'x');
    await expect(runScript(redis, scripts.readOrder, [notAHash], ['u'])).rejects.toThrow(/WRONGTYPE/);
  });
});
