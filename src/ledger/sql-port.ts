/**
 * The SQL the ledger needs, so the same queries run on PGlite (embedded) and on Postgres.
 * Parameters are positional ($1, $2, ...); arrays are passed as JS arrays with an explicit cast
 * in the SQL (`$1::text[]`). int8 columns may come back as numbers or strings: read them with
 * Number().
 */
export interface SqlPort {
  query<T = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<T[]>;
  /** Several statements, no parameters (migrations). */
  exec(text: string): Promise<void>;
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: SqlPort) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A Postgres error's SQLSTATE, when it has one. */
export function sqlState(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/** The ledger's database could not be reached; the HTTP layer answers 503 `unavailable`. */
export class LedgerUnavailableError extends Error {
  override name = 'LedgerUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
