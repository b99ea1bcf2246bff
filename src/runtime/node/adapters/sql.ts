import { PGlite, type Transaction } from '@electric-sql/pglite';
import pg from 'pg';
import { LedgerUnavailableError, type SqlPort } from '../../../ledger/sql-port.js';

type PgliteLike = Pick<PGlite, 'query' | 'exec'> | Transaction;

function pgliteQueries(db: PgliteLike): Omit<SqlPort, 'transaction' | 'close'> {
  return {
    query: async <T>(text: string, params: readonly unknown[] = []) =>
      (await db.query<T>(text, params as unknown[])).rows,
    exec: async (text) => {
      await db.exec(text);
    },
  };
}

/** The ledger on PGlite, in-process; `dataDir` persists it, none keeps it in memory. */
export async function pgliteSql(dataDir?: string): Promise<SqlPort> {
  const db = dataDir === undefined ? new PGlite() : new PGlite(dataDir);
  await db.waitReady;
  const port: SqlPort = {
    ...pgliteQueries(db),
    transaction: (fn) =>
      db.transaction((tx) =>
        fn({
          ...pgliteQueries(tx),
          transaction: () => Promise.reject(new Error('nested transaction')),
          close: async () => {},
        }),
      ),
    close: () => db.close(),
  };
  return port;
}

// SQLSTATEs of a server going away or refusing connections: class 08 (connection exception),
// admin/crash shutdown and "starting up" (57P01-57P03), too many connections (53300)
const SERVER_GONE = /^(08|57P0[123]$|53300$)/;
// socket and DNS errors (ECONNREFUSED, ECONNRESET, EPIPE, ETIMEDOUT, EAI_AGAIN, ...) and writes to
// a socket already gone (ERR_STREAM_DESTROYED, ERR_SOCKET_CLOSED)
const SOCKET_ERROR = /^E[A-Z]+$|^EAI_|^ERR_(STREAM|SOCKET)_/;
// what pg raises without a code when the connection is gone or never came
const DRIVER_GONE = new RegExp(
  `^(${[
    'Connection terminated', // the socket closed (or the pool's connect timeout closed it)
    'timeout exceeded when trying to connect', // no pooled connection within connectionTimeoutMillis
    'timeout expired', // the client's own connect timeout
    'Query read timeout', // query_timeout: the connection is dropped with it
    'Client has encountered a connection error', // a query on a client whose socket died
    'Client was closed',
    'Cannot use a pool after calling end', // close() has run
  ].join('|')})`,
);

/** Whether `err` says the server could not be reached (as opposed to refusing a statement). */
export function isUnreachable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (err instanceof pg.DatabaseError) return SERVER_GONE.test(String(code ?? ''));
  if (typeof code === 'string' && SOCKET_ERROR.test(code)) return true;
  return DRIVER_GONE.test(err.message) || (err.cause !== undefined && isUnreachable(err.cause));
}

/** A failure to reach the server becomes LedgerUnavailableError; every other error passes. */
async function reachable<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!isUnreachable(err)) throw err;
    throw new LedgerUnavailableError(err instanceof Error ? err.message : String(err), { cause: err });
  }
}

function pgQueries(db: pg.Pool | pg.PoolClient): Omit<SqlPort, 'transaction' | 'close'> {
  return {
    query: <T>(text: string, params: readonly unknown[] = []) =>
      reachable(async () => (await db.query(text, params as unknown[])).rows as T[]),
    exec: (text) =>
      reachable(async () => {
        await db.query(text);
      }),
  };
}

/**
 * Checks a client out of the pool with an 'error' listener attached before anything else can run.
 * A checked-out client has no pool listener, and `await pool.connect()` leaves a gap: a server
 * message that kills the connection can arrive in the same read as the one completing the
 * checkout, and an 'error' event without a listener kills the process (brianc/node-postgres#2762).
 */
function checkout(pool: pg.Pool): Promise<{ client: pg.PoolClient; broken: { error?: Error; stopWatching(): void } }> {
  return new Promise((resolve, reject) => {
    pool.connect((err, client) => {
      if (err || !client) return reject(err ?? new Error('no client'));
      const broken: { error?: Error; stopWatching(): void } = {
        stopWatching: () => client.off('error', onError),
      };
      const onError = (error: Error) => {
        broken.error ??= error;
      };
      client.on('error', onError);
      resolve({ client, broken });
    });
  });
}

/** How long a connect (or a wait for a pooled connection) and a query may take, in ms. */
export interface PostgresTimeouts {
  connectMs?: number;
  queryMs?: number;
}

/**
 * The ledger on a Postgres server (node-postgres, pooled). While the server is unreachable every
 * call throws LedgerUnavailableError; the pool drops dead connections and opens fresh ones, so
 * calls succeed again as soon as the server answers.
 */
export function postgresSql(url: string, options: { max?: number } & PostgresTimeouts = {}): SqlPort {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    // without it a connect to a silent host, or a wait for a busy pool, never ends
    connectionTimeoutMillis: options.connectMs ?? 5_000,
    // a query on a half-open socket would otherwise wait for the kernel's keepalive (hours)
    query_timeout: options.queryMs ?? 15_000,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  });
  // an idle connection that dies (server restart, pg_terminate_backend) is reported here, already
  // removed from the pool; an 'error' event without a listener would kill the process
  pool.on('error', () => {});
  let closing: Promise<void> | undefined;
  return {
    ...pgQueries(pool),
    transaction: async (fn) => {
      const { client, broken } = await reachable(() => checkout(pool));
      try {
        await reachable(() => client.query('begin'));
        const tx: SqlPort = {
          ...pgQueries(client),
          transaction: () => Promise.reject(new Error('nested transaction')),
          close: async () => {},
        };
        const result = await fn(tx);
        await reachable(() => client.query('commit'));
        return result;
      } catch (err) {
        if (err instanceof LedgerUnavailableError) broken.error ??= err;
        // the server rolls back a transaction whose connection drops; a live one is rolled back here
        if (!broken.error) await client.query('rollback').catch((e: Error) => void (broken.error ??= e));
        throw err;
      } finally {
        broken.stopWatching();
        // with an error the pool closes the connection instead of reusing it
        client.release(broken.error);
      }
    },
    close: () => (closing ??= pool.end()),
  };
}
