import { afterAll } from 'vitest';
import type { SqlPort } from '../../src/ledger/sql-port.js';
import { pgliteSql, postgresSql } from '../../src/runtime/node/adapters/sql.js';

/** The ledger's engines under test: PGlite always, Postgres when TEST_DATABASE_URL is set. */
export const engines: [string, () => Promise<SqlPort>][] = [
  ['PGlite', () => pgliteSql()],
  ...(process.env.TEST_DATABASE_URL
    ? [['Postgres', async () => postgresSql(process.env.TEST_DATABASE_URL!)] as [string, () => Promise<SqlPort>]]
    : []),
];

/** Opens an engine and closes it after the file. */
export async function openEngine(make: () => Promise<SqlPort>): Promise<SqlPort> {
  const sql = await make();
  afterAll(() => sql.close());
  return sql;
}
