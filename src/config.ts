import { z } from 'zod';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const PROCESSES_RULE = 'must be auto or an integer from 1 to 64';

const CLUSTER_RULE = 'must list host:port seeds, comma-separated (each may be a redis:// or rediss:// URL)';

/** One seed of REDIS_CLUSTER_NODES; credentials and TLS come from the first seed that has them. */
export interface ClusterSeeds {
  nodes: { host: string; port: number }[];
  username?: string;
  password?: string;
  tls: boolean;
}

/** `host:port,host:port` or `redis(s)://[user:pass@]host:port,…`: the seeds of a Redis Cluster. */
export function parseClusterSeeds(list: string): ClusterSeeds | null {
  const seeds: ClusterSeeds = { nodes: [], tls: false };
  for (const raw of list
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)) {
    let url: URL;
    try {
      url = new URL(/^rediss?:\/\//.test(raw) ? raw : `redis://${raw}`);
    } catch {
      return null;
    }
    const port = Number(url.port || 6379);
    if (
      !url.hostname ||
      !Number.isInteger(port) ||
      port < 1 ||
      port > 65535 ||
      (url.pathname !== '' && url.pathname !== '/')
    )
      return null;
    seeds.nodes.push({ host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port });
    if (url.protocol === 'rediss:') seeds.tls = true;
    if (url.password && seeds.password === undefined) {
      seeds.password = decodeURIComponent(url.password);
      if (url.username) seeds.username = decodeURIComponent(url.username);
    }
  }
  return seeds.nodes.length > 0 ? seeds : null;
}

/** The environment rushgate reads; documented in docs/operations.md (Configuration). */
const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
  /** Redis Cluster mode: its seed nodes (docs/cluster.md); exclusive with REDIS_URL. */
  REDIS_CLUSTER_NODES: z
    .string()
    .transform((list, ctx) => {
      const seeds = parseClusterSeeds(list);
      if (seeds === null) ctx.addIssue({ code: 'custom', message: CLUSTER_RULE });
      return seeds ?? z.NEVER;
    })
    .optional(),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  RUSHGATE_JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  RUSHGATE_ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  RUSHGATE_TOKEN_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  RUSHGATE_CHANNEL_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  RUSHGATE_DATA_DIR: z.string().min(1).default('.rushgate'),
  RUSHGATE_CHANNELS: z
    .string()
    .default('')
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(/^[a-z][a-z0-9_]{0,31}$/, 'channel names are lower-case words'))),
  /** `on` behind a reverse proxy: the per-address limits key on X-Forwarded-For's first hop. */
  RUSHGATE_TRUST_PROXY: z.enum(['on', 'off']).default('off'),
  RUSHGATE_LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  RUSHGATE_SWEEP_INTERVAL_MS: positiveInt(500),
  /** Buyer requests worked on at once per process before 503 `overloaded`. */
  RUSHGATE_MAX_INFLIGHT: positiveInt(4096),
  /**
   * HTTP-serving processes of `npm start`: 1 serves in the one process; more fork a cluster;
   * `auto` is one per core (the Node runtime resolves it: core code does not ask the OS).
   */
  RUSHGATE_PROCESSES: z
    .union([z.literal('auto'), z.coerce.number().int(PROCESSES_RULE).min(1, PROCESSES_RULE).max(64, PROCESSES_RULE)], {
      error: PROCESSES_RULE,
    })
    .default(1),
  /** `npm start` runs a payment worker in-process unless this is `off`. */
  RUSHGATE_WORKER: z.enum(['on', 'off']).default('on'),
  RUSHGATE_WORKER_BATCH: positiveInt(200),
  RUSHGATE_WORKER_PRIORITY_WEIGHT: positiveInt(2),
  RUSHGATE_WORKER_VISIBILITY_MS: positiveInt(30_000),
  RUSHGATE_REDIS_TIMEOUT_MS: positiveInt(2000),
  /**
   * The embedded Redis's AOF fsync: `always` (the default) fsyncs every write before it is
   * answered (Redis group-commits one fsync per event-loop turn); `everysec` can lose the last
   * second of acknowledged orders and payments on a power cut or a kernel crash.
   */
  RUSHGATE_REDIS_FSYNC: z.enum(['always', 'everysec']).default('always'),
  /** Replicas that must hold each mutating script's writes before it is answered (WAIT). */
  RUSHGATE_REDIS_WAIT_REPLICAS: z.coerce.number().int().min(0).max(16).default(0),
  RUSHGATE_REDIS_WAIT_MS: positiveInt(250),
  /** The reconciler's slow timer (a full pass); it also runs at start and after a Redis restart. */
  RUSHGATE_RECONCILE_INTERVAL_MS: positiveInt(60_000),
  /** A payment its channel has not answered for this long is marked for review (still re-queried). */
  RUSHGATE_UNKNOWN_REVIEW_MS: positiveInt(600_000),
  /** Ended orders and settled payments are kept this long in Redis (Idempotency-Key records: 25 h). */
  RUSHGATE_RECORD_TTL_SECONDS: positiveInt(7 * 24 * 3600),
});

export type Config = Readonly<z.output<typeof EnvSchema>>;

/** A configuration error, worded as the one line to print. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses and validates the environment once; the result is frozen. */
export function parseConfig(env: Record<string, string | undefined>): Config {
  const blanks = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const parsed = EnvSchema.safeParse(blanks);
  if (parsed.success && parsed.data.REDIS_URL !== undefined && parsed.data.REDIS_CLUSTER_NODES !== undefined) {
    throw new ConfigError(
      'invalid REDIS_CLUSTER_NODES: set REDIS_URL (one Redis) or REDIS_CLUSTER_NODES (a Redis Cluster), not both',
    );
  }
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? 'environment');
    throw new ConfigError(`invalid ${name}: ${issue.message}`);
  }
  return Object.freeze(parsed.data);
}
