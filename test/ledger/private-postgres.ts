import { execFile, execFileSync } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../src/runtime/node/dev/embedded-redis.js';

const run = promisify(execFile);

/** A Postgres server of the test's own, in a temp dir on a free loopback port. */
export interface PrivatePostgres {
  url: string;
  /** `fast` terminates sessions and shuts down cleanly; `immediate` is a crash (recovery on start). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

interface Plan {
  bin: string;
  /** The command prefix that runs a Postgres binary as a user it accepts (never root). */
  as: string[];
  owner?: { uid: number; gid: number };
}

const output = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();

const hasPgBinaries = (dir: string) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'));

function findBin(): string | undefined {
  const onPath = (process.env.PATH ?? '').split(delimiter).find((dir) => dir && hasPgBinaries(dir));
  if (onPath) return onPath;
  try {
    const dir = output('pg_config', ['--bindir']);
    if (hasPgBinaries(dir)) return dir;
  } catch {}
  // Debian keeps the server binaries off PATH, one directory per major version
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  return versions.map((v) => join(root, v, 'bin')).find(hasPgBinaries);
}

/** How to start a server here, or why it cannot be done. */
function plan(): Plan | string {
  const bin = findBin();
  if (!bin) return 'no Postgres server binaries (initdb, pg_ctl) found';
  if (process.getuid?.() !== 0) return { bin, as: [] };
  // initdb and postgres refuse to run as root: run them as the `postgres` OS user
  try {
    const id = (flag: string) => Number(output('id', [flag, 'postgres']));
    execFileSync('runuser', ['--help'], { stdio: 'ignore' });
    return { bin, as: ['runuser', '-u', 'postgres', '--'], owner: { uid: id('-u'), gid: id('-g') } };
  } catch {
    return 'running as root without a `postgres` OS user and runuser to start Postgres as';
  }
}

const planned = plan();

/** Why no private Postgres can be started on this machine, or undefined when one can. */
export const privatePostgresMissing: string | undefined = typeof planned === 'string' ? planned : undefined;

/**
 * Starts a throwaway Postgres server (trust auth, no fsync) that only the calling test uses. It
 * commits synchronously: a commit's WAL reaches the kernel before it is acknowledged, so an
 * acknowledged write survives `pg_ctl stop -m immediate` (the tests' crash), though not a crash of
 * the machine.
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  if (typeof planned === 'string') throw new Error(planned);
  const { bin, as, owner } = planned;
  const runTool = (tool: string, args: string[]) => {
    const [cmd, ...rest] = [...as, join(bin, tool), ...args];
    return run(cmd!, rest, { timeout: 60_000 });
  };
  const root = mkdtempSync(join(tmpdir(), 'rushgate-pg-'));
  if (owner) chownSync(root, owner.uid, owner.gid);
  const data = join(root, 'data');
  const port = await freePort();
  try {
    await runTool('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    appendFileSync(
      join(data, 'postgresql.conf'),
      [
        `port = ${port}`,
        `listen_addresses = '127.0.0.1'`,
        `unix_socket_directories = '${root}'`,
        // a throwaway server: nothing needs to survive a crash of the machine. But not
        // synchronous_commit = off: an immediate stop drops the WAL buffers, and with them commits
        // already acknowledged (a credit made just before the stop went missing that way in CI)
        'fsync = off',
        'full_page_writes = off',
        '',
      ].join('\n'),
    );
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
  const server: PrivatePostgres = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start: async () => {
      await runTool('pg_ctl', ['-D', data, '-l', join(root, 'log'), '-w', '-t', '30', 'start']);
    },
    stop: async (mode = 'fast') => {
      await runTool('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '30', 'stop']);
    },
    destroy: async () => {
      if (existsSync(join(data, 'postmaster.pid'))) await server.stop('immediate').catch(() => {});
      rmSync(root, { recursive: true, force: true });
    },
  };
  try {
    await server.start();
  } catch (err) {
    await server.destroy();
    throw err;
  }
  return server;
}
