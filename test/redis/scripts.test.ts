import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { keys } from '../../src/redis/keys.js';
import { runScript } from '../../src/redis/run-script.js';
import { scripts } from '../../src/redis/scripts.generated.js';
import { renderScriptsModule } from '../../src/runtime/node/generate-scripts.js';
import { testApp, testRedis, unique } from '../helpers.js';

const raw = testRedis();

describe('Lua scripts', () => {
  it('the generated module is up to date with lua/ (run npm run gen:lua)', () => {
    const onDisk = readFileSync(new URL('../../src/redis/scripts.generated.ts', import.meta.url), 'utf8');
    expect(onDisk).toBe(renderScriptsModule());
  });

  it.each(Object.values(scripts))('$name loads into real Redis under its precomputed SHA', async (script) => {
    expect(await raw.script('LOAD', script.source)).toBe(script.sha);
  });

  it('every script opens with a contract header and touches keys only through KEYS', () => {
    for (const script of Object.values(scripts)) {
      expect(script.source.startsWith(`--[[\n  ${script.name}:`), script.name).toBe(true);
      expect(script.source).toMatch(/KEYS\[1\]/);
      // a key built inside Lua would be a string concatenated into a redis.call: none may be
      expect(script.source, script.name).not.toMatch(/rcall\('[A-Z]+', *'rg:/);
    }
  });

  it('falls back to EVAL once when Redis has lost its script cache (NOSCRIPT), then runs by SHA again', async () => {
    const { redis } = await testApp();
    const saleId = unique('sale');
    await raw.script('FLUSH');
    const saleKeys = [keys.sale(saleId), keys.lanes(saleId), keys.admission(saleId)];
    const reply = await runScript(redis, scripts.readSale, saleKeys, []);
    expect(reply).toEqual([10]);
    // EVAL cached it again: EVALSHA now works directly
    expect(await raw.evalsha(scripts.readSale.sha, 3, ...saleKeys)).toEqual([10]);
  });

  it('a script error is not mistaken for NOSCRIPT and surfaces as an error', async () => {
    const { redis } = await testApp();
    const notAHash = unique('string-key');
    await raw.set(notAHash, 'x');
    await expect(runScript(redis, scripts.readOrder, [notAHash], ['u'])).rejects.toThrow(/WRONGTYPE/);
  });
});
