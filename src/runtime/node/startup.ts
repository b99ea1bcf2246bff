/** How a Node entry point starts, or refuses to: the configuration from the environment, or one line and exit 1. */
import { ConfigError, parseConfig, type Config } from '../../config.js';

/** Prints one line and exits 1: how every Node entry point refuses to start. */
export function failStartup(program: string, message: string): never {
  process.stderr.write(`${program}: ${message}\n`);
  process.exit(1);
}

/** The configuration from the environment, or one line and exit 1. */
export function configOrExit(program: string): Config {
  try {
    return parseConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) failStartup(program, err.message);
    throw err;
  }
}
