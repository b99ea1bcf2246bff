import type { RedisPort } from './port.js';
import type { LuaScript } from './scripts.generated.js';

/** A script's reply: its code first, then what that code carries. */
export type ScriptReply = [number, ...unknown[]];

/**
 * Runs a script by SHA; only when Redis has lost its script cache (NOSCRIPT: a restart, a
 * failover, SCRIPT FLUSH) sends the source once with EVAL, which also caches it again.
 */
export async function runScript(
  redis: RedisPort,
  script: LuaScript,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<ScriptReply> {
  if (script.numberOfKeys !== null && keys.length !== script.numberOfKeys) {
    throw new Error(`${script.name} takes ${script.numberOfKeys} keys, got ${keys.length}`);
  }
  try {
    return (await redis.evalsha(script.sha, keys, args)) as ScriptReply;
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
      return (await redis.eval(script.source, keys, args)) as ScriptReply;
    }
    throw err;
  }
}

/** Turns a flat HGETALL reply ([field, value, ...]) into a record. */
export function hashReply(flat: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const list = flat as string[];
  for (let i = 0; i + 1 < list.length; i += 2) out[list[i]!] = list[i + 1]!;
  return out;
}
