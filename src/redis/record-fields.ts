/**
 * Checks the Lua scripts against the record layout (records.ts): every field a script reads or
 * writes on an order or payment hash, or adds to a lane entry, is declared there, and the scripts
 * that write each field are exactly its declared writers. `npm run gen:lua` runs it, so a script
 * that names an undeclared field fails generation, naming the script and the field.
 *
 * A record's key is recognised in a command by its name (`orderKey`, `paymentKey`, `laneKey`) or
 * as `KEYS[n]` whose contract header line shows the record's key pattern; its field names must
 * be string literals.
 */
import { type RecordName, records } from './records.js';

/** A script as the generator sees it: its name and its source with includes resolved. */
export interface ScriptSource {
  readonly name: string;
  readonly source: string;
}

/** Where each command names its fields: from which argument, and every one or every other. */
const FIELD_ARGS: Record<string, { from: number; step: number; writes: boolean }> = {
  HGET: { from: 1, step: 1, writes: false },
  HMGET: { from: 1, step: 1, writes: false },
  HEXISTS: { from: 1, step: 1, writes: false },
  HSET: { from: 1, step: 2, writes: true },
  HSETNX: { from: 1, step: 2, writes: true },
  HINCRBY: { from: 1, step: 2, writes: true },
  HDEL: { from: 1, step: 1, writes: true },
  XADD: { from: 2, step: 2, writes: true },
};

const RECORDS = Object.entries(records) as [RecordName, (typeof records)[RecordName]][];

/** Throws one error listing every mismatch between the scripts and the record layout. */
export function checkRecordFields(scripts: readonly ScriptSource[]): void {
  const problems: string[] = [];
  const written = new Map<string, Set<string>>(); // "<record>.<field>" -> scripts writing it
  for (const { name, source } of scripts) {
    for (const use of fieldUses(name, source)) {
      if ('problem' in use) {
        problems.push(use.problem);
        continue;
      }
      const declared = records[use.record].fields as Record<string, unknown>;
      if (!Object.hasOwn(declared, use.field)) {
        problems.push(`lua/${name}.lua: field '${use.field}' of the ${use.record} record is not declared`);
        continue;
      }
      if (!use.writes) continue;
      const at = `${use.record}.${use.field}`;
      written.set(at, (written.get(at) ?? new Set()).add(name));
    }
  }
  const names = new Set(scripts.map((s) => s.name));
  for (const [record, { fields }] of RECORDS) {
    for (const [field, spec] of Object.entries(fields)) {
      const by = written.get(`${record}.${field}`) ?? new Set<string>();
      for (const script of by)
        if (!spec.writers.includes(script))
          problems.push(`lua/${script}.lua: writes '${field}' of the ${record} record, not among its declared writers`);
      for (const script of spec.writers)
        if (names.has(script) && !by.has(script))
          problems.push(
            `lua/${script}.lua: declared a writer of '${field}' of the ${record} record, but does not write it`,
          );
    }
  }
  if (problems.length > 0) {
    throw new Error(`the Lua scripts do not match src/redis/records.ts:\n  ${problems.join('\n  ')}`);
  }
}

type FieldUse = { record: RecordName; field: string; writes: boolean } | { problem: string };

/** Every field a script names on a record, found in its rcall / redis.call commands. */
export function fieldUses(name: string, source: string): FieldUse[] {
  const header = /^--\[\[\n([\s\S]*?)\n\]\]/.exec(source)?.[1] ?? '';
  const code = withoutComments(source);
  const uses: FieldUse[] = [];
  for (const call of code.matchAll(/\b(?:rcall|redis\.call)\(/g)) {
    const args = splitArgs(code, call.index + call[0].length);
    const command = /^'([A-Za-z]+)'$/.exec(args[0] ?? '')?.[1]?.toUpperCase();
    const spec = command === undefined ? undefined : FIELD_ARGS[command];
    if (spec === undefined || args[1] === undefined) continue;
    const record = recordOf(args[1], header);
    if (record === null) continue;
    if (typeof record === 'object') {
      uses.push({ problem: `lua/${name}.lua: ${record.problem}` });
      continue;
    }
    for (let i = 1 + spec.from; i < args.length; i += spec.step) {
      const field = /^'([^'\\]*)'$|^"([^"\\]*)"$/.exec(args[i]!);
      if (field === null) {
        uses.push({
          problem: `lua/${name}.lua: ${command} names a field of the ${record} record as ${args[i]}: write it as a literal`,
        });
        continue;
      }
      uses.push({ record, field: (field[1] ?? field[2])!, writes: spec.writes });
    }
  }
  return uses;
}

/** The record a command's key argument is, null when none, or why it cannot be told. */
function recordOf(key: string, header: string): RecordName | null | { problem: string } {
  for (const [record, { keyName }] of RECORDS) if (key === keyName) return record;
  const index = /^KEYS\[(.+)\]$/.exec(key)?.[1];
  if (index === undefined) return null;
  const lines = [...header.matchAll(/^\s+KEYS\[([^\]]+)\](.*)$/gm)];
  if (/^\d+$/.test(index)) {
    const line = lines.find(([, n]) => n === index)?.[2] ?? '';
    return RECORDS.find(([, r]) => line.includes(r.key))?.[0] ?? null;
  }
  // KEYS[i] with a computed index: fine unless a header line of varying keys names a record
  const varying = lines.filter(([, n]) => !/^\d+$/.test(n!)).map(([, , rest]) => rest!);
  const named = RECORDS.find(([, r]) => varying.some((line) => line.includes(r.key)));
  return named
    ? { problem: `${key} may be the ${named[0]} record: bind it to a local named ${named[1].keyName}` }
    : null;
}

/** The source with its comments blanked out (strings kept), so only code is searched. */
function withoutComments(source: string): string {
  let out = '';
  let quote: string | null = null;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (quote !== null) {
      out += c;
      if (c === '\\') out += source[++i] ?? '';
      else if (c === quote) quote = null;
    } else if (c === "'" || c === '"') {
      quote = c;
      out += c;
    } else if (source.startsWith('--[[', i)) {
      const end = source.indexOf(']]', i);
      i = end < 0 ? source.length : end + 1;
    } else if (source.startsWith('--', i)) {
      const end = source.indexOf('\n', i);
      i = (end < 0 ? source.length : end) - 1;
    } else out += c;
  }
  return out;
}

/** The top-level arguments of a call whose '(' ends just before `from`, each trimmed. */
function splitArgs(code: string, from: number): string[] {
  const args: string[] = [];
  let depth = 0;
  let start = from;
  let quote: string | null = null;
  for (let i = from; i < code.length; i++) {
    const c = code[i]!;
    if (quote !== null) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
    } else if (c === "'" || c === '"') quote = c;
    else if ('({['.includes(c)) depth++;
    else if (')}]'.includes(c) && depth > 0) depth--;
    else if (c === ')' || (c === ',' && depth === 0)) {
      args.push(code.slice(start, i).trim());
      if (c === ')') break;
      start = i + 1;
    }
  }
  return args;
}
