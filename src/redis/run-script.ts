import type { RedisPort } from './port.js';
import type { LuaScript } from './scripts.generated.js';

/** A script's reply: its code first, then what that code carries. */
export type ScriptReply = [number, ...unknown[]];

/** An argument as callers pass it: undefined is sent as '' (absent), a boolean as '1' / '0'. */
export type ScriptArg = string | number | boolean | undefined;

/** A script whose contract header names its keys and arguments. */
type NamedScript = LuaScript & { readonly keys: readonly string[]; readonly args: readonly string[] };

const encode = (value: ScriptArg): string | number =>
  value === undefined ? '' : typeof value === 'boolean' ? (value ? '1' : '0') : value;

/**
 * Runs a script with its keys and arguments by the names its contract header gives them (see
 * the generated module), so a call reads as what it passes, and a missing or misspelt name is a
 * type error.
 */
export function callScript<S extends NamedScript>(
  redis: RedisPort,
  script: S,
  keys: { readonly [K in S['keys'][number]]: string },
  args: { readonly [K in S['args'][number]]: ScriptArg },
): Promise<ScriptReply> {
  const k = keys as Record<string, string>;
  const a = args as Record<string, ScriptArg>;
  return runScript(
    redis,
    script,
    script.keys.map((name) => k[name]!),
    script.args.map((name) => encode(a[name])),
  );
}

/**
 * Runs a script by SHA with positional keys and arguments (the scripts whose keys or arguments
 * vary in number); only when Redis has lost its script cache (NOSCRIPT: a restart, a failover,
 * SCRIPT FLUSH) sends the source once with EVAL, which also caches it again.
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
  const writes = !script.readOnly;
  try {
    return (await redis.evalsha(script.sha, keys, args, writes)) as ScriptReply;
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
      return (await redis.eval(script.source, keys, args, writes)) as ScriptReply;
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
