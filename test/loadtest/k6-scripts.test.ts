/**
 * k6 does not run in `npm test` (it is no npm or Debian package), so what can be tested without
 * it is: every script under loadtest/ parses as k6 v0.48 parses it and imports only what k6
 * v0.48 has, their shared helpers (JWT minting, the run plan, the end-of-run checks, the summary)
 * work, minted JWTs are accepted by the gateway's own verifiers, and loadtest/README.md lists
 * the settings the scripts read, with their defaults.
 *
 * k6 v0.48 hands a script that goja cannot parse (every ES module) to its embedded Babel 6 with
 * only the CommonJS module transform (js/compiler/compiler.go), then runs the output on goja.
 * Babel 6's parser knows ES2017 and nothing later: object spread and rest, numeric separators,
 * optional chaining, `??`, optional catch bindings, regex `s` flags and named groups all stop k6
 * at once with exit code 107. acorn at ecmaVersion 2017 refuses the same.
 */
import { parse, type Node } from 'acorn';
import { simple } from 'acorn-walk';
import { createHmac } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { webJwtVerifier } from '../../src/http/auth.js';
import { nodeJwtVerifier } from '../../src/runtime/node/adapters/crypto.js';
// biome-ignore format: one line, so that the @ts-expect-error above the import covers it
// @ts-expect-error plain JS shared with k6
import { chargedTwice, chargesUnmatched, onePaymentPerOrder, oversoldSeats, saleViolations } from '../../loadtest/lib/invariants.js';
// @ts-expect-error plain JS shared with k6
import { makeJwtMinter } from '../../loadtest/lib/jwt.js';
// @ts-expect-error plain JS shared with k6
import { buyersToFund, durationSeconds, rampingArrivals } from '../../loadtest/lib/plan.js';
// @ts-expect-error plain JS shared with k6
import { summaryOutputs, TREND_STATS } from '../../loadtest/lib/summary.js';
import { JWT_SECRET } from '../helpers.js';

const dir = resolve(import.meta.dirname, '../../loadtest');

/** The ECMAScript level of k6 v0.48's parser (Babel 6: ES2017). */
const K6_ECMA_VERSION = 2017;

/**
 * The k6 v0.48 modules the scripts may import, and what each exports (from the v0.48.0 source,
 * js/modules/k6/*). For a module imported whole (`import http from 'k6/http'`) these are the
 * members the script may use; k6/execution's objects list their properties in turn.
 */
const K6_MODULES: Record<string, Record<string, true | Record<string, true>>> = {
  k6: names('check fail group randomSeed sleep'),
  'k6/crypto': names(
    'createHash createHMAC hmac md4 md5 randomBytes ripemd160 sha1 sha256 sha384 sha512 sha512_224 sha512_256 hexEncode',
  ),
  'k6/encoding': names('b64encode b64decode'),
  'k6/http': names(
    'url CookieJar cookieJar file get head post put patch del options request asyncRequest batch setResponseCallback expectedStatuses',
  ),
  'k6/metrics': names('Counter Gauge Rate Trend'),
  'k6/execution': {
    instance: names('currentTestRunDuration iterationsCompleted iterationsInterrupted vusActive vusInitialized'),
    scenario: names('name executor startTime progress iterationInInstance iterationInTest'),
    test: names('abort options'),
    vu: names('idInInstance idInTest iterationInInstance iterationInScenario tags metadata metrics'),
  },
};

function names(list: string): Record<string, true> {
  return Object.fromEntries(list.split(' ').map((n) => [n, true as const]));
}

/** Every .js file under loadtest/: the k6 scripts and what they import. */
function scripts(): string[] {
  const found: string[] = [];
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(folder, entry.name));
      else if (entry.name.endsWith('.js')) found.push(relative(dir, join(folder, entry.name)));
    }
  };
  walk(dir);
  return found.sort();
}

const parseAsK6 = (source: string) =>
  parse(source, { ecmaVersion: K6_ECMA_VERSION, sourceType: 'module', locations: true });

/** What a script imports that k6 v0.48 does not have, or that does not resolve; empty when all is well. */
function unknownImports(source: string, folder: string): string[] {
  const program = parseAsK6(source);
  const problems: string[] = [];
  const wholeModules = new Map<string, Record<string, true | Record<string, true>>>();
  for (const node of (program as unknown as { body: any[] }).body) {
    if (node.type !== 'ImportDeclaration') continue;
    const from: string = node.source.value;
    if (from.startsWith('.')) {
      if (!existsSync(resolve(folder, from))) problems.push(`${from} does not exist`);
      continue;
    }
    const exports = K6_MODULES[from];
    if (!exports) {
      problems.push(`${from} is not a k6 v0.48 module this project uses (remote modules need internet at run time)`);
      continue;
    }
    for (const spec of node.specifiers) {
      if (spec.type === 'ImportSpecifier' && !exports[spec.imported.name])
        problems.push(`${from} has no export ${spec.imported.name}`);
      else if (spec.type !== 'ImportSpecifier') wholeModules.set(spec.local.name, exports);
    }
  }
  simple(program as Node, {
    MemberExpression(node: any) {
      const object = node.object;
      if (object.type === 'Identifier' && wholeModules.has(object.name) && !node.computed) {
        const member = wholeModules.get(object.name)![node.property.name];
        if (!member) problems.push(`${object.name}.${node.property.name} is not in k6 v0.48`);
      }
      if (
        object.type === 'MemberExpression' &&
        object.object.type === 'Identifier' &&
        wholeModules.has(object.object.name) &&
        !node.computed
      ) {
        const member = wholeModules.get(object.object.name)![object.property.name];
        if (typeof member === 'object' && !member[node.property.name]) {
          problems.push(`${object.object.name}.${object.property.name}.${node.property.name} is not in k6 v0.48`);
        }
      }
    },
  });
  return problems;
}

describe('k6 scripts', () => {
  it('the parser is as strict as k6 v0.48: what stopped the scripts with exit code 107 is refused', () => {
    for (const bad of [
      'const a = { ...b };',
      'const { a, ...rest } = b;',
      'const n = 100_000_000;',
      'a?.b;',
      'a ?? b;',
      'try {} catch {}',
      '/a.b/s;',
    ]) {
      expect(() => parseAsK6(bad), bad).toThrow(SyntaxError);
    }
    for (const good of [
      'const f = async (x, y,) => x ** y;',
      'const { a = 1, b } = c;',
      'export default function ({ saleId }) {}',
      'f(...args);',
    ]) {
      expect(() => parseAsK6(good), good).not.toThrow();
    }
  });

  it('finds every script, the libraries they share included', () => {
    expect(scripts()).toEqual(expect.arrayContaining(['double-click.js', 'flash-sale.js', 'soak.js', 'lib/k6.js']));
  });

  it.each(scripts())('%s parses as k6 v0.48 parses it and imports only what k6 v0.48 has', (file) => {
    const source = readFileSync(join(dir, file), 'utf8');
    expect(() => parseAsK6(source)).not.toThrow();
    expect(unknownImports(source, dirname(join(dir, file)))).toEqual([]);
  });

  it('the import check catches a module, an export and a member k6 v0.48 does not have', () => {
    const probe = (source: string) => unknownImports(source, join(dir, 'lib'));
    expect(probe(`import { textSummary } from 'https://jslib.k6.io/k6-summary/0.0.2/index.js';`)[0]).toMatch(
      /not a k6 v0.48 module/,
    );
    expect(probe(`import { Histogram } from 'k6/metrics';`)).toEqual(['k6/metrics has no export Histogram']);
    expect(probe(`import http from 'k6/http';\nhttp.fetch('x');`)).toEqual(['http.fetch is not in k6 v0.48']);
    expect(probe(`import exec from 'k6/execution';\nexec.scenario.iterationInSale;`)).toEqual([
      'exec.scenario.iterationInSale is not in k6 v0.48',
    ]);
    expect(probe(`import { x } from './nowhere.js';`)).toEqual(['./nowhere.js does not exist']);
  });

  it("loadtest/README.md's settings table matches the scripts, setting by setting and default by default", () => {
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    const section = readme.slice(
      readme.indexOf('## Settings'),
      readme.indexOf('\n## ', readme.indexOf('## Settings') + 1),
    );
    const header = section
      .split('\n')
      .find((line) => line.startsWith('| name |'))!
      .split('|')
      .map((c) => c.trim());
    const cells = (line: string) =>
      line
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim());
    const unquote = (cell: string) => cell.split(/`,\s*`/).map((v) => v.replace(/`/g, ''));
    const table = new Map<string, Record<string, string>>();
    for (const line of section.split('\n').filter((l) => l.startsWith('| `'))) {
      const row = cells(line);
      const names = unquote(row[0]!);
      names.forEach((name, i) => {
        const perScript: Record<string, string> = {};
        header.slice(2, -2).forEach((script, j) => {
          perScript[script] = unquote(row[j + 1]!)[i] ?? row[j + 1]!;
        });
        table.set(name, perScript);
      });
    }
    const read = (file: string) => readFileSync(join(dir, file), 'utf8');
    const shared = new Set([...read('lib/k6.js').matchAll(/__ENV\.([A-Z_]+)/g)].map((m) => m[1]!));
    const used = new Set(shared);
    for (const script of ['flash-sale', 'double-click', 'soak']) {
      const source = read(`${script}.js`);
      const defaults = new Map(
        [...source.matchAll(/__ENV\.([A-Z_]+) \|\| (?:'([^']*)'|([\d.]+))/g)].map((m) => [m[1]!, m[2] ?? m[3]!]),
      );
      for (const [name, value] of defaults) {
        used.add(name);
        expect(table.get(name)?.[script], `${name} in ${script}.js`).toBe(value);
      }
      for (const [name, perScript] of table) {
        if (!defaults.has(name) && !shared.has(name))
          expect(perScript[script], `${name} is not read by ${script}.js`).toBe('-');
      }
    }
    expect([...table.keys()].sort()).toEqual([...used].sort());
  });

  it('minted JWTs are accepted by both of the gateway verifiers, with their tier', async () => {
    const minter = makeJwtMinter({
      b64url: (text: string) => Buffer.from(text, 'utf8').toString('base64url'),
      hmacB64url: (secret: string, data: string) => createHmac('sha256', secret).update(data).digest('base64url'),
    });
    const jwt = minter.mint('k6-buyer-1', JWT_SECRET, { tier: 'priority' });
    for (const verify of [nodeJwtVerifier(JWT_SECRET), webJwtVerifier(JWT_SECRET)]) {
      expect(await verify(jwt)).toMatchObject({ sub: 'k6-buyer-1', tier: 'priority' });
    }
    expect(
      JSON.parse(Buffer.from(minter.mint('k6-buyer-2', JWT_SECRET).split('.')[1]!, 'base64url').toString()),
    ).not.toHaveProperty('tier');
    const expired = minter.mint('k6-buyer-1', JWT_SECRET, { ttlSeconds: -10 });
    await expect(Promise.resolve().then(() => nodeJwtVerifier(JWT_SECRET)(expired))).rejects.toThrow();
  });

  it('the run plan: k6 durations, the buyers a ramping spike brings, and a margin to fund', () => {
    expect(['500ms', '20s', '1m30s', '2h'].map(durationSeconds)).toEqual([0.5, 20, 90, 7200]);
    for (const bad of ['', '20', 's', '1m 30s', '20sx'])
      expect(() => durationSeconds(bad), bad).toThrow(/not a k6 duration/);
    // flash-sale's defaults: a 2 s ramp to 500/s, 20 s at 500/s, 40 s down to 50/s
    expect(
      rampingArrivals(0, [
        { target: 500, duration: '2s' },
        { target: 500, duration: '20s' },
        { target: 50, duration: '40s' },
      ]),
    ).toBe(21_500);
    expect(buyersToFund(21_500)).toBe(21_940);
  });

  it('the end-of-run checks catch an oversold sale, inconsistent counters, a double charge and unmatched money', () => {
    const sale = { stock: 10, available: 0, held: 0, sold: 10, price: 100, currency: 'CNY' };
    expect(saleViolations(sale)).toEqual([]);
    expect(oversoldSeats(sale)).toBe(0);
    expect(saleViolations({ ...sale, sold: 11 }).join()).toMatch(/oversold/);
    expect(oversoldSeats({ ...sale, sold: 9, held: 3 })).toBe(2);
    expect(saleViolations({ ...sale, available: 1 }).join()).toMatch(/!= stock/);
    expect(onePaymentPerOrder(['p1', 'p1', 'p1'])).toBe(true);
    expect(onePaymentPerOrder(['p1', 'p2'])).toBe(false);
    expect(onePaymentPerOrder(['p1', null])).toBe(false);
    expect(chargedTwice({ o1: 1, o2: 2 })).toEqual(['o2']);
    expect(chargesUnmatched(sale, { retained: { CNY: 1000 } })).toBe(0);
    expect(chargesUnmatched(sale, { retained: { CNY: 1100 } })).toBe(1);
    expect(chargesUnmatched(sale, { retained: {} })).toBe(10);
  });

  it('the summary shows each threshold with the figure it judged, and writes the JSON', () => {
    const data = {
      state: { testRunDurationMs: 61_234 },
      options: { summaryTrendStats: TREND_STATS },
      root_group: { checks: [{ name: 'order held', passes: 0, fails: 20 }], groups: [] },
      metrics: {
        'http_req_duration{name:order}': {
          type: 'trend',
          values: { avg: 3, min: 1, med: 2, 'p(90)': 5, 'p(95)': 6, 'p(99)': 1234.5, max: 2000 },
          thresholds: { 'p(99)<1000': { ok: false } },
        },
        checks: { type: 'rate', values: { rate: 0, passes: 0, fails: 20 }, thresholds: { 'rate>0.99': { ok: false } } },
        rushgate_payments_succeeded: {
          type: 'counter',
          values: { count: 0, rate: 0 },
          thresholds: { 'count>=950': { ok: false } },
        },
        rushgate_oversold: { type: 'counter', values: { count: 0, rate: 0 }, thresholds: { 'count==0': { ok: true } } },
        iterations: { type: 'counter', values: { count: 20, rate: 0.3 } },
      },
    };
    const outputs = summaryOutputs('flash-sale', data, 'loadtest/results/flash-sale.json');
    expect(JSON.parse(outputs['loadtest/results/flash-sale.json'])).toEqual(data);
    const text: string = outputs.stdout;
    expect(text).toContain('flash-sale: 3 of 4 thresholds failed, 61.2 s');
    expect(text).toMatch(/✗ http_req_duration\{name:order\} p\(99\)<1000 +1234\.5/);
    expect(text).toMatch(/✗ checks rate>0.99 +0 \(0 of 20\)/);
    expect(text).toMatch(/✗ rushgate_payments_succeeded count>=950 +0/);
    expect(text).toMatch(/✓ rushgate_oversold count==0 +0/);
    expect(text).toContain('✗ order held: 0 passed, 20 failed');
    expect(text).toContain('iterations=20');
    expect(text).toContain('{name:order} 3 / 1 / 2 / 5 / 6 / 1234.5 / 2000');
  });
});
