/**
 * The Worker under `wrangler dev` (a real workerd), started by a test through `npm run
 * dev:workers`'s script on a free loopback port, in front of a Redis reached through a TCP relay
 * the test can cut (to prove the Worker fails closed). The file's fixtures stop them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ADMIN_TOKEN, JWT_SECRET, TOKEN_SECRET, type App } from '../../helpers.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));
  return port;
}

/**
 * A TCP relay to Redis; `cut()` drops every connection and closes new ones until `restore()`;
 * `stall()` takes new connections and never answers on them (a Redis that hangs); `close()` stops it.
 */
export async function redisRelay(redisUrl: string) {
  const target = new URL(redisUrl);
  const sockets = new Set<Socket>();
  let down = false;
  let stalled = false;
  let accepted = 0;
  const server = createServer((client) => {
    accepted++;
    if (down) return void client.destroy();
    if (stalled) {
      sockets.add(client);
      client.on('error', () => {});
      client.on('close', () => sockets.delete(client));
      return;
    }
    const upstream = connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
    /** Connections accepted so far (the Worker's connects). */
    accepted: () => accepted,
    /** Connections open now (a relayed one has two sockets). */
    open: () => sockets.size / 2,
    cut: () => {
      down = true;
      for (const s of sockets) s.destroy();
    },
    stall: () => {
      stalled = true;
    },
    restore: () => {
      down = false;
      stalled = false;
    },
    close: () =>
      new Promise<void>((done) => {
        for (const s of sockets) s.destroy();
        server.close(() => done());
      }),
  };
}

/**
 * Starts the Worker with wrangler dev against `redisUrl`; resolves with its base URL once ready,
 * and `stop()`. `GET /__scheduled` on it runs the Worker's cron handler (wrangler's --test-scheduled).
 */
export async function startEdge(
  redisUrl: string,
  vars: Record<string, string> = {},
): Promise<{ base: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [
      'scripts/dev-workers.mjs',
      '--port',
      String(port),
      '--ip',
      '127.0.0.1',
      '--show-interactive-dev-session=false',
      '--test-scheduled',
    ],
    {
      cwd: root,
      env: {
        ...process.env,
        REDIS_URL: redisUrl,
        RUSHGATE_JWT_SECRET: JWT_SECRET,
        RUSHGATE_ADMIN_TOKEN: ADMIN_TOKEN,
        RUSHGATE_TOKEN_SECRET: TOKEN_SECRET,
        RUSHGATE_LOG_LEVEL: 'error',
        ...vars,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      // its own process group, so wrangler and workerd stop with it
      detached: true,
    },
  );
  // a file whose fixtures are never torn down (a crash): do not leave workerd behind then either
  const killGroup = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone already
    }
  };
  process.once('exit', killGroup);
  const stop = async () => {
    process.off('exit', killGroup);
    if (child.exitCode !== null) return;
    const exited = new Promise((done) => child.once('exit', done));
    process.kill(-child.pid!, 'SIGTERM');
    await exited;
  };
  let output = '';
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`wrangler dev not ready in 60 s:\n${output}`)), 60_000);
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const ready = /Ready on (http:\/\/[^\s]+)/.exec(output);
      if (ready) {
        clearTimeout(timer);
        resolve(ready[1]!.replace(/\/$/, ''));
      }
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`wrangler dev exited (${code}):\n${output}`));
    });
  }).catch(async (err: unknown) => {
    await stop();
    throw err;
  });
  return { base, stop };
}

/** The deployed Worker seen through the helpers' `App` face (`request(path, init)`), over real HTTP. */
export function remoteApp(base: string): App {
  return { request: (path: string, init?: RequestInit) => fetch(`${base}${path}`, init) } as unknown as App;
}
