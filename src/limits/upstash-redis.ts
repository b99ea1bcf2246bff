import type { RedisPort } from '../redis/port.js';
import { runScript } from '../redis/run-script.js';
import type { LuaScript } from '../redis/scripts.generated.js';

// @upstash/ratelimit 2.2.0's scripts open with this Upstash-only shebang; stock Redis 7 refuses
// an unknown shebang flag, so the line is dropped (the scripts need no flags)
const UPSTASH_SHEBANG = /^#!lua[^\n]*\n/;

async function sha1Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-1', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The Redis client @upstash/ratelimit calls, over rushgate's own connection (the RedisPort).
 * Its scripts run on stock Redis with the shebang removed, by SHA, one round trip per call:
 * the first call of a script reaches us as `eval` (our evalsha does not know its hash yet, and
 * says NOSCRIPT without asking Redis), later ones as `evalsha` of the stripped script. Errors
 * propagate: with the library's `timeout: 0`, a Redis failure refuses (fails closed), never allows.
 */
export function upstashRedis(redis: RedisPort) {
  const known = new Map<string, LuaScript>(); // upstash's hash of the original -> stripped script

  async function load(original: string): Promise<LuaScript> {
    const source = original.replace(UPSTASH_SHEBANG, '');
    // its window counters are not worth a replica wait (readOnly: no WAIT)
    const script: LuaScript = {
      name: 'upstash',
      numberOfKeys: null,
      keys: null,
      args: null,
      readOnly: true,
      sha: await sha1Hex(source),
      source,
    };
    known.set(await sha1Hex(original), script);
    return script;
  }

  return {
    async evalsha(hash: string, keys: string[], args: unknown[]): Promise<unknown> {
      const script = known.get(hash);
      if (!script) throw new Error('NOSCRIPT this script has not been loaded through rushgate yet');
      return runScript(redis, script, keys, args as (string | number)[]);
    },
    async eval(original: string, keys: string[], args: unknown[]): Promise<unknown> {
      const script = await load(original);
      return redis.eval(script.source, keys, args as (string | number)[]);
    },
    // the library's protection and dynamic limits use these; both are turned off
    async get(): Promise<never> {
      throw new Error('not used by rushgate');
    },
    async set(): Promise<never> {
      throw new Error('not used by rushgate');
    },
  };
}
