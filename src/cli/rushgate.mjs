#!/usr/bin/env node
// npx rushgate — ops CLI over the admin API. RUSHGATE_URL (default http://127.0.0.1:8080) and
// RUSHGATE_ADMIN_TOKEN (default: the one `npm start` saved in .rushgate/secrets.json).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const USAGE = `usage:
  rushgate limits get
  rushgate limits set <file.json | json>     the policies, or { "policies": … }
  rushgate limits history
  rushgate limits rollback <version>
  rushgate block <userId> [--ttl seconds] [--reason text]
  rushgate unblock <userId>`;

const base = (process.env.RUSHGATE_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, '');

function adminToken() {
  if (process.env.RUSHGATE_ADMIN_TOKEN) return process.env.RUSHGATE_ADMIN_TOKEN;
  const saved = join(process.env.RUSHGATE_DATA_DIR ?? '.rushgate', 'secrets.json');
  if (existsSync(saved)) return JSON.parse(readFileSync(saved, 'utf8')).adminToken;
  fail('set RUSHGATE_ADMIN_TOKEN (or run where npm start saved .rushgate/secrets.json)');
}

function fail(message) {
  process.stderr.write(`rushgate: ${message}\n`);
  process.exit(1);
}

async function api(method, path, body) {
  let res;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${adminToken()}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    fail(`cannot reach ${base}: ${err.cause?.code ?? err.message}`);
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // not JSON (a proxy's error page): shown as text below
  }
  if (!res.ok) {
    // the detail already is the first error: list only the others
    const errors = (data?.errors ?? [])
      .map((e) => `${e.path}: ${e.message}`)
      .filter((e) => e !== data.detail)
      .map((e) => `\n  ${e}`)
      .join('');
    fail(`${res.status} ${data?.code ?? ''}: ${data?.detail ?? text}${errors}`);
  }
  return data;
}

function flag(args, name) {
  const i = args.indexOf(name);
  return i === -1 ? undefined : args[i + 1];
}

const [command, sub, ...rest] = process.argv.slice(2);
const show = (value) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

if (command === 'limits' && sub === 'get') {
  show(await api('GET', '/admin/limits'));
} else if (command === 'limits' && sub === 'set' && rest[0]) {
  const text = existsSync(rest[0]) ? readFileSync(rest[0], 'utf8') : rest[0];
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    fail(`${rest[0]} is neither a file nor JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    fail('the policies must be a JSON object');
  const result = await api('PUT', '/admin/limits', 'policies' in parsed ? parsed : { policies: parsed });
  process.stdout.write(`limits version ${result.version} in force (every gateway within 1 s)\n`);
} else if (command === 'limits' && sub === 'history') {
  const { versions } = await api('GET', '/admin/limits/history');
  if (versions.length === 0) process.stdout.write('no limits history yet: version 0 (the defaults) is in force\n');
  for (const v of versions) {
    const changes = v.changes.map((c) => `${c.path}: ${JSON.stringify(c.from)} -> ${JSON.stringify(c.to)}`).join('; ');
    process.stdout.write(`v${v.version}  ${v.at}  ${changes || '(no change)'}\n`);
  }
} else if (command === 'limits' && sub === 'rollback' && /^\d+$/.test(rest[0] ?? '')) {
  const result = await api('POST', '/admin/limits/rollback', { version: Number(rest[0]) });
  process.stdout.write(`rolled back to v${rest[0]}'s policies as version ${result.version}\n`);
} else if (command === 'block' && sub) {
  const ttl = Number(flag(rest, '--ttl') ?? 600);
  const result = await api('PUT', `/admin/blocklist/${encodeURIComponent(sub)}`, {
    ttlSeconds: ttl,
    reason: flag(rest, '--reason') ?? '',
  });
  process.stdout.write(`blocked ${result.userId} until ${result.until}\n`);
} else if (command === 'unblock' && sub) {
  await api('DELETE', `/admin/blocklist/${encodeURIComponent(sub)}`);
  process.stdout.write(`unblocked ${sub}\n`);
} else {
  process.stderr.write(`${USAGE}\n`);
  process.exit(2);
}
