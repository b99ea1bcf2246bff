/**
 * The RedisPort over `cloudflare:sockets`, speaking RESP. workerd binds every I/O object to the
 * request that opened it: a socket kept for the next request makes that request hang ("Worker's
 * code had hung"). So a connection lives inside one request (and its `waitUntil` work): opened on
 * the request's first command, closed when the request and its background steps are done. The
 * commands of one request are pipelined on it: each is written at once, replies come in order.
 */
import { connect } from 'cloudflare:sockets';
import { RedisUnavailableError, type RedisPort, type StreamEntry } from '../../redis/port.js';
import { encodeCommand, RespError, RespReader, type Reply } from './resp.js';

export interface RedisTarget {
  hostname: string;
  port: number;
  tls: boolean;
  username?: string;
  password?: string;
  db: number;
  /** Per command, and for connecting. */
  timeoutMs: number;
  /** Replicas that must hold a write before it is acknowledged (WAIT); 0: the primary alone. */
  waitReplicas: number;
  waitMs: number;
}

/** The target a `redis://` or `rediss://` URL names (rediss: TLS). */
export function redisTarget(
  url: string,
  options: { timeoutMs: number; waitReplicas: number; waitMs: number },
): RedisTarget {
  const u = new URL(url);
  const tls = u.protocol === 'rediss:';
  return {
    hostname: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: u.port ? Number(u.port) : 6379,
    tls,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    db: Number(u.pathname.slice(1) || 0),
    ...options,
  };
}

interface Pending {
  resolve: (reply: Reply) => void;
  reject: (err: Error) => void;
}

/** One socket to Redis; fails for good on the first transport error or timeout. */
class Connection {
  readonly #pending: Pending[] = [];
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  #broken: Error | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly timeoutMs: number,
  ) {
    this.#writer = socket.writable.getWriter();
    void this.#readLoop();
  }

  static open(target: RedisTarget): Connection {
    const socket = connect(
      { hostname: target.hostname, port: target.port },
      { secureTransport: target.tls ? 'on' : 'off', allowHalfOpen: false },
    );
    const conn = new Connection(socket, target.timeoutMs);
    socket.opened.catch((err: unknown) =>
      conn.#fail(new RedisUnavailableError(`cannot reach Redis: ${(err as Error).message}`)),
    );
    // the handshake is pipelined ahead of the request's commands, which wait for its replies
    if (target.password !== undefined)
      void conn
        .send(target.username ? ['AUTH', target.username, target.password] : ['AUTH', target.password])
        .catch(() => {});
    if (target.db !== 0) void conn.send(['SELECT', target.db]).catch(() => {});
    return conn;
  }

  /** Sends one command; its reply, a RespError reply, or RedisUnavailableError. */
  send(args: readonly (string | number)[]): Promise<Reply> {
    if (this.#broken) return Promise.reject(this.#broken);
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(
        () => this.#fail(new RedisUnavailableError(`Redis did not answer within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
      this.#pending.push({
        resolve: (reply) => {
          clearTimeout(timer);
          if (reply instanceof RespError) reject(reply);
          else resolve(reply);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      this.#writer
        .write(encodeCommand(args))
        .catch((err: unknown) =>
          this.#fail(new RedisUnavailableError(`cannot write to Redis: ${(err as Error).message}`)),
        );
    });
  }

  close(): void {
    this.#fail(new RedisUnavailableError('connection closed'));
  }

  async #readLoop(): Promise<void> {
    const reader = this.socket.readable.getReader();
    const replies = new RespReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        replies.push(value as Uint8Array);
        for (let reply = replies.next(); reply !== RespReader.INCOMPLETE; reply = replies.next()) {
          const waiting = this.#pending.shift();
          if (waiting === undefined) throw new Error('a reply nobody asked for');
          waiting.resolve(reply);
        }
      }
      this.#fail(new RedisUnavailableError('Redis closed the connection'));
    } catch (err) {
      this.#fail(
        err instanceof RedisUnavailableError
          ? err
          : new RedisUnavailableError(`Redis connection failed: ${(err as Error).message}`),
      );
    }
  }

  #fail(err: Error): void {
    if (this.#broken) return;
    this.#broken = err;
    for (const waiting of this.#pending.splice(0)) waiting.reject(err);
    void this.socket.close().catch(() => {});
  }
}

/**
 * A request's Redis: the connection opened on its first command, never kept past `close()`.
 * Counts its connects for the measurements (a broken connection is not reopened: the request
 * fails closed, 503).
 */
export class RequestRedis {
  #conn: Connection | undefined;
  /** Sockets this request opened (0 or 1). */
  connects = 0;

  constructor(readonly target: RedisTarget) {}

  send(args: readonly (string | number)[]): Promise<Reply> {
    if (this.#conn === undefined) {
      this.#conn = Connection.open(this.target);
      this.connects++;
    }
    return this.#conn.send(args);
  }

  close(): void {
    this.#conn?.close();
  }
}

// replies that mean "this Redis cannot serve now" (failover, loading, busy script, full memory)
const UNAVAILABLE_REPLY = /^(READONLY|LOADING|BUSY|MASTERDOWN|OOM|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|NOAUTH|WRONGPASS)/;

function guard(err: unknown): never {
  if (err instanceof RespError && !UNAVAILABLE_REPLY.test(err.message)) throw err;
  if (err instanceof RedisUnavailableError) throw err;
  throw new RedisUnavailableError(err instanceof Error ? err.message : String(err), { cause: err });
}

const asStrings = (reply: Reply): string[] => (Array.isArray(reply) ? reply.map((r) => String(r)) : []);

function toEntry(raw: Reply): StreamEntry | null {
  if (!Array.isArray(raw) || !Array.isArray(raw[1])) return null;
  const flat = asStrings(raw[1]);
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
  return { id: String(raw[0]), fields };
}

/**
 * The RedisPort over whatever connection `current()` gives: the Worker passes the request's own.
 * Mirrors the ioredis port (Node) reply for reply.
 */
export function socketPort(current: () => RequestRedis): RedisPort {
  const cmd = async (...args: (string | number)[]): Promise<Reply> => {
    try {
      return await current().send(args);
    } catch (err) {
      return guard(err);
    }
  };
  const script = async (
    name: 'EVALSHA' | 'EVAL',
    body: string,
    keys: readonly string[],
    args: readonly (string | number)[],
    writes = true,
  ) => {
    const redis = current();
    const replicas = redis.target.waitReplicas;
    try {
      if (!writes || replicas === 0) return await redis.send([name, body, keys.length, ...keys, ...args]);
      // pipelined: the script and WAIT go out together, one round trip
      const [reply, acked] = await Promise.all([
        redis.send([name, body, keys.length, ...keys, ...args]),
        redis.send(['WAIT', replicas, redis.target.waitMs]),
      ]);
      if (Number(acked) < replicas) {
        throw new RedisUnavailableError(
          `the write reached ${String(acked)} of ${replicas} replicas within ${redis.target.waitMs} ms`,
        );
      }
      return reply;
    } catch (err) {
      return guard(err);
    }
  };
  const hash = (reply: Reply): Record<string, string> => {
    const flat = asStrings(reply);
    const out: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
    return out;
  };
  return {
    evalsha: (sha, keys, args, writes) => script('EVALSHA', sha, keys, args, writes),
    eval: (source, keys, args, writes) => script('EVAL', source, keys, args, writes),
    hgetall: async (key) => hash(await cmd('HGETALL', key)),
    smembers: async (key) => asStrings(await cmd('SMEMBERS', key)),
    lrange: async (key, start, stop) => asStrings(await cmd('LRANGE', key, start, stop)),
    zrangeByScoreUpTo: async (key, maxScore, limit) =>
      asStrings(await cmd('ZRANGEBYSCORE', key, '-inf', maxScore, 'LIMIT', 0, limit)),
    zrangeWithScoresFrom: async (key, minScore) => {
      const flat = asStrings(await cmd('ZRANGEBYSCORE', key, minScore, '+inf', 'WITHSCORES'));
      const out: [string, number][] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, Number(flat[i + 1])]);
      return out;
    },
    xgroupCreate: async (stream, group) => {
      try {
        await cmd('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM');
        return true;
      } catch (err) {
        if (err instanceof Error && err.message.startsWith('BUSYGROUP')) return false;
        throw err;
      }
    },
    xreadgroup: async (group, consumer, streams, count) => {
      const reply = await cmd(
        'XREADGROUP',
        'GROUP',
        group,
        consumer,
        'COUNT',
        count,
        'STREAMS',
        ...streams,
        ...streams.map(() => '>'),
      );
      if (!Array.isArray(reply)) return [];
      return reply.map((s) => {
        const [stream, entries] = s as [string, Reply[]];
        return { stream: String(stream), entries: entries.map(toEntry).filter((e): e is StreamEntry => e !== null) };
      });
    },
    xautoclaim: async (stream, group, consumer, minIdleMs, count) => {
      const reply = await cmd('XAUTOCLAIM', stream, group, consumer, minIdleMs, '0-0', 'COUNT', count);
      // entries deleted meanwhile come back as nulls
      return Array.isArray(reply) && Array.isArray(reply[1])
        ? reply[1].map(toEntry).filter((e): e is StreamEntry => e !== null)
        : [];
    },
    xack: async (stream, group, ids) => (ids.length === 0 ? 0 : Number(await cmd('XACK', stream, group, ...ids))),
    timeMs: async () => {
      const [seconds, micros] = asStrings(await cmd('TIME'));
      return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    },
    ping: async () => String(await cmd('PING')),
  };
}
