import { join } from 'node:path';
import type { Config } from '../../../config.js';
import { Ledger } from '../../../ledger/ledger.js';
import { pgliteSql, postgresSql } from './sql.js';

/** Where the embedded ledger (PGlite) keeps its files inside the data directory. */
export const embeddedLedgerDir = (dataDir: string) => join(dataDir, 'ledger');

/** The ledger on Postgres when DATABASE_URL is set, else on PGlite in the data directory. */
export async function openLedger(config: Config, dataDir: string): Promise<Ledger> {
  const sql = config.DATABASE_URL ? postgresSql(config.DATABASE_URL) : await pgliteSql(embeddedLedgerDir(dataDir));
  return Ledger.open(sql);
}
