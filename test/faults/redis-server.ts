import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../../src/runtime/node/dev/embedded-redis.js';

/**
 * A redis-server a fault test owns: AOF in a temporary folder (appendfsync always), on a fixed
 * loopback port so it can be SIGKILLed and started again where clients reconnect. Its AOF can be
 * copied aside and put back, which is how a test makes it lose "its last second": the writes
 * after the copy are gone after the restart, as after a power cut with `everysec` or a failover
 * to a replica that lagged.
 */
export async function killableRedis() {
  const dir = mkdtempSync(join(tmpdir(), 'rushgate-faults-redis-'));
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const start = async () => {
    mkdirSync(join(dir, 'data'), { recursive: true });
    child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--dir',
        join(dir, 'data'),
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--aof-use-rdb-preamble',
        'no',
        '--auto-aof-rewrite-percentage',
        '0',
        '--loglevel',
        'warning',
      ],
      { stdio: 'ignore' },
    );
    const deadline = Date.now() + 10_000;
    for (;;) {
      const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => {});
      try {
        await probe.connect();
        if ((await probe.ping()) === 'PONG') return;
      } catch {
        if (Date.now() > deadline) throw new Error('redis-server did not start');
        await new Promise((r) => setTimeout(r, 50));
      } finally {
        probe.disconnect();
      }
    }
  };
  await start();
  const server = {
    url,
    port,
    start,
    /** SIGKILL: no shutdown, no final fsync. Resolves once the process is gone. */
    kill: () =>
      new Promise<void>((resolve) => {
        const c = child!;
        if (c.exitCode !== null || c.signalCode !== null) return resolve();
        c.once('exit', () => resolve());
        c.kill('SIGKILL');
      }),
    /** Copies the AOF aside (what the disk holds now). */
    snapshotAof: () => {
      rmSync(join(dir, 'snapshot'), { recursive: true, force: true });
      cpSync(join(dir, 'data'), join(dir, 'snapshot'), { recursive: true });
    },
    /** Puts the copied AOF back (the server must be stopped): every write since the copy is lost. */
    restoreAof: () => {
      rmSync(join(dir, 'data'), { recursive: true, force: true });
      cpSync(join(dir, 'snapshot'), join(dir, 'data'), { recursive: true });
    },
    /** Kills it and removes its folder: the end of the file that owns it. */
    stop: async () => {
      await server.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}
