#!/usr/bin/env node
/**
 * `npm run dev:workers`: the Worker under `wrangler dev` (a local workerd) against the Redis named
 * by REDIS_URL. The secrets come from RUSHGATE_JWT_SECRET, RUSHGATE_ADMIN_TOKEN and
 * RUSHGATE_TOKEN_SECRET, or are made up for this run and printed. Other RUSHGATE_* variables are
 * passed on; arguments after `--` go to wrangler (e.g. `-- --port 8788`). No telemetry, no
 * update check, no fetch of Cloudflare's request metadata: it runs offline.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';

const env = {
  ...process.env,
  WRANGLER_SEND_METRICS: 'false',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  WRANGLER_SEND_ERROR_REPORTS: 'false',
};
if (!env.REDIS_URL) {
  process.stderr.write(
    'rushgate dev:workers: set REDIS_URL to the Redis the Worker should use, e.g. REDIS_URL=redis://127.0.0.1:6379 npm run dev:workers\n',
  );
  process.exit(1);
}
const made = [];
for (const name of ['RUSHGATE_JWT_SECRET', 'RUSHGATE_ADMIN_TOKEN', 'RUSHGATE_TOKEN_SECRET']) {
  if (!env[name]) {
    env[name] = randomBytes(24).toString('base64url');
    made.push(name);
  }
}
const vars = Object.entries(env)
  .filter(([name]) => name === 'REDIS_URL' || name.startsWith('RUSHGATE_'))
  .flatMap(([name, value]) => ['--var', `${name}:${value}`]);
if (made.length > 0)
  process.stdout.write(`rushgate dev:workers: made up for this run: ${made.map((n) => `${n}=${env[n]}`).join(' ')}\n`);
const wrangler = createRequire(import.meta.url).resolve('wrangler/bin/wrangler.js');
const child = spawn(process.execPath, [wrangler, 'dev', ...vars, ...process.argv.slice(2)], { env, stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
