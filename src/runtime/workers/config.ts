import { ConfigError, parseConfig, type Config } from '../../config.js';
import type { Logger } from '../../logger.js';

/** What the Worker needs from its `env`: the configuration and the secrets it cannot generate. */
export interface EdgeConfig {
  config: Config;
  redisUrl: string;
  secrets: { jwtSecret: string; adminToken: string; tokenSecret: string };
}

const REQUIRED = ['REDIS_URL', 'RUSHGATE_JWT_SECRET', 'RUSHGATE_ADMIN_TOKEN', 'RUSHGATE_TOKEN_SECRET'] as const;

/**
 * The configuration from the Worker's vars and secrets, with Node's validation (parseConfig).
 * Unlike Node, nothing has a generated default: there is no disk to keep a secret on, and every
 * isolate must sign and check with the same secrets. A ConfigError names the first bad setting.
 */
export function edgeConfig(env: Record<string, unknown>): EdgeConfig {
  const strings: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (typeof value === 'string') strings[name] = value;
  const config = parseConfig(strings);
  for (const name of REQUIRED) {
    if (!config[name]) throw new ConfigError(`invalid ${name}: required at the edge (a Worker var or secret)`);
  }
  return {
    config,
    redisUrl: config.REDIS_URL!,
    secrets: {
      jwtSecret: config.RUSHGATE_JWT_SECRET!,
      adminToken: config.RUSHGATE_ADMIN_TOKEN!,
      tokenSecret: config.RUSHGATE_TOKEN_SECRET!,
    },
  };
}

const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity } as const;

/** JSON lines on the console (Workers Logs / `wrangler tail` collect them), pino's field names. */
export function consoleLogger(level: keyof typeof LEVELS): Logger {
  const at = (name: 'info' | 'warn' | 'error') => (obj: object, msg?: string) => {
    if (LEVELS[name] < LEVELS[level]) return;
    const line = JSON.stringify({
      level: LEVELS[name],
      time: Date.now(),
      service: 'rushgate-edge',
      ...obj,
      ...(msg === undefined ? {} : { msg }),
    });
    if (name === 'error') console.error(line);
    else if (name === 'warn') console.warn(line);
    else console.log(line);
  };
  return { info: at('info'), warn: at('warn'), error: at('error') };
}
