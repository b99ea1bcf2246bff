/**
 * Bundles lua/*.lua into src/redis/scripts.generated.ts (source + SHA1), so every runtime loads
 * the scripts the same way, with no file system. A line `-- @include <name>` is replaced by
 * lua/includes/<name>.lua (logic two scripts share lives once, as in BullMQ's includes/).
 *
 * Each script's contract header names its keys and arguments, one per line:
 *   KEYS[1] sale     rg:{s:<saleId>}:sale
 *   ARGV[1] orderId  what it is
 * and the generated module carries those names, in order, so callers pass named keys and
 * arguments (run-script.ts) instead of positional arrays. A script whose keys or arguments vary
 * in number writes them as KEYS[2+k] / ARGV[...] and is called positionally.
 * The field names scripts use on order and payment hashes and lane entries are checked against
 * src/redis/records.ts (src/redis/record-fields.ts): an undeclared one fails generation.
 * Run: npm run gen:lua. A test fails when the generated module is out of date.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkRecordFields } from '../src/redis/record-fields.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const INCLUDE = /^-- @include ([a-zA-Z]+)$/gm;

/** A script's source with its includes resolved (each include may be used once per script). */
function resolveIncludes(source: string, luaDir: string, file: string): string {
  const seen = new Set<string>();
  return source.replace(INCLUDE, (_line, name: string) => {
    if (seen.has(name)) throw new Error(`lua/${file}: includes ${name} twice`);
    seen.add(name);
    return readFileSync(join(luaDir, 'includes', `${name}.lua`), 'utf8').trimEnd();
  });
}

/**
 * The names a header gives to KEYS or ARGV, in order; null when they vary in number (any entry
 * that is not `KIND[n] name`). Throws on gaps or duplicates.
 */
function namesOf(header: string, kind: 'KEYS' | 'ARGV', file: string): string[] | null {
  const entries = [...header.matchAll(new RegExp(`^\\s+${kind}\\[([^\\]]+)\\](\\s+(\\S+))?`, 'gm'))];
  const names: string[] = [];
  for (const [, index, , name] of entries) {
    if (!/^\d+$/.test(index!) || name === undefined || !/^[a-z][A-Za-z0-9]*$/.test(name)) return null;
    if (Number(index) !== names.length + 1) throw new Error(`lua/${file}: ${kind}[${index}] out of order`);
    if (names.includes(name)) throw new Error(`lua/${file}: ${kind} name ${name} used twice`);
    names.push(name);
  }
  return names;
}

/** The generated module's text for the scripts in lua/. */
export function renderScriptsModule(luaDir = join(root, 'lua')): string {
  const files = readdirSync(luaDir)
    .filter((f) => f.endsWith('.lua'))
    .sort();
  const entries = files.map((file) => {
    const match = /^([a-z][A-Za-z]+)\.lua$/.exec(file);
    if (!match) throw new Error(`lua/${file}: name it verbNoun.lua`);
    const source = resolveIncludes(readFileSync(join(luaDir, file), 'utf8'), luaDir, file);
    const header = /^--\[\[\n([\s\S]*?)\n\]\]/.exec(source)?.[1];
    if (header === undefined) throw new Error(`lua/${file}: open with a --[[ contract header ]]`);
    const keys = namesOf(header, 'KEYS', file);
    const args = namesOf(header, 'ARGV', file);
    // a header line `Read-only: ...` marks a script that changes nothing (no replica wait)
    const readOnly = /^\s+Read-only\b/m.test(header);
    const sha = createHash('sha1').update(source).digest('hex');
    return { name: match[1]!, keys, args, readOnly, sha, source };
  });
  // every order / payment / lane-entry field a script names is declared in src/redis/records.ts
  checkRecordFields(entries);
  const list = (names: string[] | null) => (names === null ? 'null' : `[${names.map((n) => `'${n}'`).join(', ')}]`);
  const body = entries
    .map(
      (e) =>
        `  ${e.name}: {\n    name: '${e.name}',\n    numberOfKeys: ${e.keys === null ? 'null' : e.keys.length},\n` +
        `    keys: ${list(e.keys)},\n    args: ${list(e.args)},\n    readOnly: ${e.readOnly},\n` +
        `    sha: '${e.sha}',\n    source: ${JSON.stringify(e.source)},\n  },`,
    )
    .join('\n');
  return `// Generated from lua/*.lua by \`npm run gen:lua\`. Do not edit.
/**
 * A Lua script with its precomputed SHA1 and the names its contract header gives its keys and
 * arguments, in order (null when they vary in number: called positionally).
 */
export interface LuaScript {
  readonly name: string;
  readonly numberOfKeys: number | null;
  readonly keys: readonly string[] | null;
  readonly args: readonly string[] | null;
  /** Changes nothing: never waits for replicas. */
  readonly readOnly: boolean;
  readonly sha: string;
  readonly source: string;
}

export const scripts = {
${body}
} as const satisfies Record<string, LuaScript>;
`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = join(root, 'src/redis/scripts.generated.ts');
  writeFileSync(out, renderScriptsModule());
  console.log(`wrote ${out}`);
}
