/**
 * Bundles lua/*.lua into src/redis/scripts.generated.ts (source + SHA1), so every runtime loads
 * the scripts the same way, with no file system. A line `-- @include <name>` is replaced by
 * lua/includes/<name>.lua (logic two scripts share lives once, as in BullMQ's includes/).
 * Run: npm run gen:lua. A test fails when the generated module is out of date.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');

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

/** The generated module's text for the scripts in lua/. */
export function renderScriptsModule(luaDir = join(root, 'lua')): string {
  const files = readdirSync(luaDir).filter((f) => f.endsWith('.lua')).sort();
  const entries = files.map((file) => {
    const source = resolveIncludes(readFileSync(join(luaDir, file), 'utf8'), luaDir, file);
    const match = /^([a-z][A-Za-z]+)(?:-(\d+))?\.lua$/.exec(file);
    if (!match) throw new Error(`lua/${file}: name it verbNoun-N.lua (N = number of KEYS)`);
    const name = match[1]!;
    const numberOfKeys = match[2] === undefined ? null : Number(match[2]);
    const sha = createHash('sha1').update(source).digest('hex');
    return { name, numberOfKeys, sha, source };
  });
  const body = entries
    .map(
      (e) =>
        `  ${e.name}: {\n    name: '${e.name}',\n    numberOfKeys: ${e.numberOfKeys},\n` +
        `    sha: '${e.sha}',\n    source: ${JSON.stringify(e.source)},\n  },`,
    )
    .join('\n');
  return `// Generated from lua/*.lua by \`npm run gen:lua\`. Do not edit.
/** A Lua script with its precomputed SHA1; numberOfKeys is null when it takes a variable count. */
export interface LuaScript {
  readonly name: string;
  readonly numberOfKeys: number | null;
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
