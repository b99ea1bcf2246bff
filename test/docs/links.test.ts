/**
 * The repository documents itself: every relative link in its markdown (README.md, docs/*.md,
 * loadtest/README.md) points at a file inside the repository that exists, and at a heading of it
 * that exists when the link names one. A clone has nothing beside it, so a link that leaves the
 * repository (the team notes in ../shared, say) is broken for every reader but its author.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

const docs = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
  'loadtest/README.md',
];

/** The markdown without fenced code blocks and inline code, where a `[x](y)` is not a link. */
function prose(markdown: string): string {
  return markdown.replace(/^ {0,3}(`{3,}|~{3,})[^\n]*\n[\s\S]*?^ {0,3}\1[^\n]*$/gm, '').replace(/(`+)[\s\S]*?\1/g, '');
}

/** Every link target: inline links and images, reference definitions, HTML href and src. */
function linkTargets(markdown: string): string[] {
  const text = prose(markdown);
  const targets: string[] = [];
  for (const m of text.matchAll(/\]\(\s*<?([^)\s>]*)>?(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g)) targets.push(m[1]!);
  for (const m of text.matchAll(/^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?/gm)) targets.push(m[1]!);
  for (const m of text.matchAll(/\b(?:href|src)\s*=\s*["']([^"']+)["']/g)) targets.push(m[1]!);
  return targets;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M} _-]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors a markdown file offers: its headings (numbered when repeated) and HTML ids. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of markdown
    .replace(/^ {0,3}(`{3,}|~{3,})[^\n]*\n[\s\S]*?^ {0,3}\1[^\n]*$/gm, '')
    .matchAll(/^ {0,3}#{1,6}[ \t]+(.*?)[ \t#]*$/gm)) {
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  for (const m of markdown.matchAll(/<[a-z][^>]*\b(?:id|name)\s*=\s*["']([^"']+)["']/gi)) out.add(m[1]!);
  return out;
}

const EXTERNAL = /^([a-z][a-z0-9+.-]*:|\/\/)/i;

/** What is wrong with one link of `file`, or null when it is fine. */
function problemWith(file: string, target: string): string | null {
  if (EXTERNAL.test(target)) return null;
  const hash = target.indexOf('#');
  const path = decodeURI(hash < 0 ? target : target.slice(0, hash));
  const anchor = hash < 0 ? null : decodeURIComponent(target.slice(hash + 1));
  if (path === '' && anchor === null) return 'empty link';
  if (isAbsolute(path)) return 'absolute path: link relative to the file instead';
  const resolved = path === '' ? join(root, file) : resolve(root, dirname(file), path);
  const inRepo = relative(root, resolved);
  if (inRepo.startsWith('..') || isAbsolute(inRepo)) return `leaves the repository (${inRepo})`;
  if (!existsSync(resolved)) return `no such file: ${inRepo}`;
  if (anchor !== null && anchor !== '' && resolved.endsWith('.md') && statSync(resolved).isFile()) {
    if (!anchors(readFileSync(resolved, 'utf8')).has(anchor)) return `no heading #${anchor} in ${inRepo}`;
  }
  return null;
}

describe('markdown links', () => {
  it('finds the docs', () => {
    expect(docs).toEqual(expect.arrayContaining(['README.md', 'docs/api.md', 'docs/design.md', 'loadtest/README.md']));
  });

  it.each(docs)('%s: every relative link points at a file inside the repository', (file) => {
    const markdown = readFileSync(join(root, file), 'utf8');
    const broken = linkTargets(markdown)
      .map((target) => ({ target, problem: problemWith(file, target) }))
      .filter((l) => l.problem !== null)
      .map((l) => `${l.target}: ${l.problem}`);
    expect(broken, `broken links in ${file}`).toEqual([]);
  });

  it.each(docs)('%s: names no path outside the repository, not even in code', (file) => {
    const markdown = readFileSync(join(root, file), 'utf8');
    expect(markdown.match(/\.\.\/shared\/[^\s)`'"]*/g) ?? [], `paths into ../shared in ${file}`).toEqual([]);
  });
});

describe('the link checker', () => {
  it('refuses what it should, and passes what it should', () => {
    expect(problemWith('README.md', '../shared/API.md')).toMatch(/leaves the repository/);
    expect(problemWith('docs/api.md', '../../shared/DESIGN.md')).toMatch(/leaves the repository/);
    expect(problemWith('README.md', 'docs/nope.md')).toMatch(/no such file/);
    expect(problemWith('README.md', '/etc/hosts')).toMatch(/absolute/);
    expect(problemWith('README.md', '#no-such-heading')).toMatch(/no heading/);
    expect(problemWith('README.md', 'docs/api.md#no-such-heading')).toMatch(/no heading/);
    expect(problemWith('README.md', 'docs/api.md')).toBeNull();
    expect(problemWith('docs/api.md', '../README.md#metrics')).toBeNull();
    expect(problemWith('README.md', 'https://hono.dev')).toBeNull();
  });

  it('reads links, not code, and slugs headings as GitHub does', () => {
    expect(linkTargets('[a](x.md) ![b](y.png "t") `[c](z.md)`\n```\n[d](w.md)\n```\n[e]: v.md')).toEqual([
      'x.md',
      'y.png',
      'v.md',
    ]);
    expect(slug('Where API.md is silent, and what rushgate does')).toBe('where-apimd-is-silent-and-what-rushgate-does');
    expect(slug('The ops view (`/admin/`)')).toBe('the-ops-view-admin');
    expect([...anchors('# A\n## A\n```\n# not a heading\n```\n')]).toEqual(['a', 'a-1']);
  });
});
