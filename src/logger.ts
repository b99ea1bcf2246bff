/** The logging the core needs; pino satisfies it on Node, console-backed on Workers. */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Discards everything (tests, benchmarks). */
export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
