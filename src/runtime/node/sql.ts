import { PGlite, type Transaction } from '@electric-sql/pglite';
import postgres from 'postgres';
import { LedgerUnavailableError, sqlState, type SqlPort } from '../../ledger/sql-port.js';

type PgliteLike = Pick<PGlite, 'query' | 'exec'> | Transaction;

function pgliteQueries(db: PgliteLike): Omit<SqlPort, 'transaction' | 'close'> {
  return {
    query: async <T>(text: string, params: readonly unknown[] = []) => (await db.query<T>(text, params as unknown[])).rows,
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
      db.transaction((tx) => fn({ ...pgliteQueries(tx), transaction: () => Promise.reject(new Error('nested transaction')), close: async () => {} })),
    close: () => db.close(),
  };
  return port;
}

type PostgresLike = postgres.Sql | postgres.TransactionSql;

// postgres.js connection failures, socket errors, and the SQLSTATEs of a server going away
const UNREACHABLE = /^(CONNECTION_|CONNECT_TIMEOUT|E[A-Z]+$|08|57P0[123])/;

/** A failure to reach the server becomes LedgerUnavailableError; every other error passes. */
async function reachable<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!UNREACHABLE.test(sqlState(err) ?? '')) throw err;
    throw new LedgerUnavailableError(err instanceof Error ? err.message : String(err), { cause: err });
  }
}

function postgresQueries(sql: PostgresLike): Omit<SqlPort, 'transaction' | 'close'> {
  return {
    query: <T>(text: string, params: readonly unknown[] = []) =>
      reachable(async () => (await sql.unsafe(text, params as postgres.ParameterOrJSON<never>[])) as unknown as T[]),
    exec: (text) =>
      reachable(async () => {
        await sql.unsafe(text);
      }),
  };
}

/** The ledger on a Postgres server (postgres.js, pooled). */
export function postgresSql(url: string, options: { max?: number } = {}): SqlPort {
  const sql = postgres(url, { max: options.max ?? 10, onnotice: () => {}, connect_timeout: 5 });
  return {
    ...postgresQueries(sql),
    transaction: (fn) =>
      reachable(
        () =>
          sql.begin((tx) =>
            fn({ ...postgresQueries(tx), transaction: () => Promise.reject(new Error('nested transaction')), close: async () => {} }),
          ) as Promise<never>,
      ),
    close: () => sql.end({ timeout: 5 }),
  };
}
