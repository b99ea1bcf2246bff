import { keys } from '../redis/keys.js';
import type { RedisPort } from '../redis/port.js';
import { callScript, runScript } from '../redis/run-script.js';
import { refusalOf } from '../redis/script-outcomes.js';
import { Refusal } from '../refusal.js';
import { ScriptCode } from '../redis/script-codes.js';
import { scripts } from '../redis/scripts.generated.js';
import { DEFAULT_POLICIES, policyChanges, PoliciesSchema, type Policies } from './policies.js';

export type BlockKind = 'user' | 'address';
/** Each kind's blocklist and the reasons beside it: the keys its block scripts take. */
const blockKeys: Record<BlockKind, { blocked: string; reasons: string }> = {
  user: { blocked: keys.blocklist, reasons: keys.blockReasons },
  address: { blocked: keys.blockedAddresses, reasons: keys.blockedAddressReasons },
};

/** Ended blocks pruneBlocks drops per script call. */
const PRUNE_BATCH = 1000;

/** Versions kept in the history (and so reachable by rollback). */
const HISTORY_KEPT = 100;

export interface PolicyVersion {
  version: number;
  policies: Policies;
  updatedAt: string | null;
}

export interface HistoryEntry {
  version: number;
  at: string;
  policies: Policies;
  changes: { path: string; from: unknown; to: unknown }[];
}

/** The rate-limit policies in Redis: versioned, with history; and the buyer blocklist. */
export class LimitsStore {
  constructor(
    private readonly redis: RedisPort,
    /** In force while ops have set nothing (version 0). */
    private readonly defaults: Policies = DEFAULT_POLICIES,
  ) {}

  /** The policies in force (version 0: the defaults, nothing set yet). */
  async current(): Promise<PolicyVersion> {
    const h = await this.redis.hgetall(keys.limits);
    if (!h.version) return { version: 0, policies: this.defaults, updatedAt: null };
    return {
      version: Number(h.version),
      policies: PoliciesSchema.parse(JSON.parse(h.policies!)),
      updatedAt: new Date(Number(h.updatedAt)).toISOString(),
    };
  }

  /** Installs new policies as the next version. */
  async put(policies: Policies): Promise<PolicyVersion> {
    const before = await this.current();
    const reply = await callScript(
      this.redis,
      scripts.putLimits,
      { current: keys.limits, history: keys.limitsHistory },
      {
        policies: JSON.stringify(policies),
        changes: JSON.stringify(policyChanges(before.policies, policies)),
        historyKept: HISTORY_KEPT,
        expectedVersion: before.version,
      },
    );
    if (reply[0] !== ScriptCode.OK) throw refusalOf(reply);
    return { version: Number(reply[1]), policies, updatedAt: new Date(Number(reply[2])).toISOString() };
  }

  /**
   * Would-be refusals under dry-run policies of `version`: the buyer and address windows summed
   * over every sale (each sale's scripts count them in its own slot), and `others`.
   */
  async dryRunRefusals(version: number): Promise<Record<string, number>> {
    const prefix = `dry:v${version}:`;
    const saleIds = await this.redis.smembers(keys.sales);
    const counts: Record<string, number> = {};
    for (const [field, n] of Object.entries(await this.redis.hgetall(keys.limitsDryRun(version))))
      counts[field] = Number(n);
    for (const h of await Promise.all(saleIds.map((id) => this.redis.hgetall(keys.admission(id))))) {
      for (const [field, n] of Object.entries(h)) {
        if (field.startsWith(prefix))
          counts[field.slice(prefix.length)] = (counts[field.slice(prefix.length)] ?? 0) + Number(n);
      }
    }
    return counts;
  }

  /** The last versions, newest first. */
  async history(): Promise<HistoryEntry[]> {
    const raw = await this.redis.lrange(keys.limitsHistory, 0, HISTORY_KEPT - 1);
    return raw.map((line) => {
      const e = JSON.parse(line) as {
        version: number;
        at: number;
        policies: Policies;
        changes: HistoryEntry['changes'] | Record<string, never>;
      };
      // cjson writes an empty array as {}
      return {
        version: e.version,
        at: new Date(e.at).toISOString(),
        policies: e.policies,
        changes: Array.isArray(e.changes) ? e.changes : [],
      };
    });
  }

  /** Installs an earlier version's policies again, as a new version. */
  async rollback(version: number): Promise<PolicyVersion> {
    const entry = (await this.history()).find((e) => e.version === version);
    if (!entry) throw new Refusal({ code: 'not_found', subject: `version ${version} in the history` });
    return this.put(PoliciesSchema.parse(entry.policies));
  }

  /** Adds refusal tallies; returns the buyers they blocked (automatic blocking). */
  async countRefusals(
    tallies: ReadonlyMap<string, number>,
    rule: { refusals: number; windowSeconds: number; blockSeconds: number },
  ): Promise<string[]> {
    if (tallies.size === 0) return [];
    const reply = await runScript(
      this.redis,
      scripts.countRefusals,
      [keys.blocklist, keys.blockReasons, ...[...tallies.keys()].map((userId) => keys.refusalTally(userId))],
      [rule.refusals, rule.windowSeconds * 1000, rule.blockSeconds * 1000, ...[...tallies].flat()],
    );
    return reply[1] as string[];
  }

  /** Redis server time (ms). */
  redisTimeMs(): Promise<number> {
    return this.redis.timeMs();
  }

  /**
   * Blocks a buyer (or, with kind 'address', a network address) until Redis time + ttlSeconds:
   * one script sets the block and its reason together.
   */
  async block(
    kind: BlockKind,
    id: string,
    ttlSeconds: number,
    reason: string,
  ): Promise<{ until: string; reason: string }> {
    const reply = await callScript(this.redis, scripts.putBlock, blockKeys[kind], {
      id,
      blockMs: ttlSeconds * 1000,
      reason,
    });
    return { until: new Date(Number(reply[1])).toISOString(), reason };
  }

  /** Lifts a block and drops its reason, in one script. */
  async unblock(kind: BlockKind, id: string): Promise<void> {
    await callScript(this.redis, scripts.liftBlock, blockKeys[kind], { id });
  }

  /** Buyers or addresses blocked at Redis time `nowMs`, with the time each block ends (ms). */
  async blocked(kind: BlockKind, nowMs: number): Promise<Map<string, number>> {
    return new Map(await this.redis.zrangeWithScoresFrom(blockKeys[kind].blocked, nowMs));
  }

  /** Drops blocks that have ended on Redis time, and their reasons (both would otherwise only grow). */
  async pruneBlocks(): Promise<void> {
    await Promise.all(
      Object.values(blockKeys).map(async (kindKeys) => {
        let dropped: number;
        do {
          dropped = Number((await callScript(this.redis, scripts.pruneBlocks, kindKeys, { limit: PRUNE_BATCH }))[1]);
        } while (dropped === PRUNE_BATCH);
      }),
    );
  }
}
