import { Hono } from 'hono';
import { problem } from '../http/problem.js';
import type { LedgerView } from '../ledger/ledger.js';
import { keys } from '../redis/keys.js';
import { RedisUnavailableError, type RedisPort } from '../redis/port.js';
import { callScript } from '../redis/run-script.js';
import { scripts } from '../redis/scripts.generated.js';
import { adminSaleView } from '../sales/sale.js';
import type { SaleSnapshot } from '../sales/sale.js';
import type { SaleStore } from '../sales/sale-store.js';
import { parseHistory, saleHealth, THRESHOLDS, type Indicator } from './ops-health.js';
import { tallyView } from './sale-tally.js';
import { OPS_PAGE } from './view/ops-page.generated.js';
import { json } from '../http/respond.js';

/** Sales shown in the ops view at most, newest opening first. */
const OPS_SALES = 200;
/** The ledger check's budget: a ledger slower than this is shown down. */
const LEDGER_PING_MS = 1000;

/**
 * The page may run only its own script (a nonce per response), talk only to its own origin, and
 * not be framed. Styles stay inline-allowed: the page sets bar widths and colours per element.
 */
function pageHeaders(nonce: string): Record<string, string> {
  return {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    'Content-Security-Policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
  };
}

async function ledgerIndicator(ledger: Pick<LedgerView, 'ping'> | undefined): Promise<Indicator> {
  if (!ledger) return { state: 'idle', value: 'not in this process', reason: 'this gateway has no ledger' };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${LEDGER_PING_MS} ms`)), LEDGER_PING_MS)),
  );
  try {
    await Promise.race([ledger.ping(), late]);
    return { state: 'ok', value: 'up', reason: 'answers select 1' };
  } catch (err) {
    return {
      state: 'bad',
      value: 'down',
      reason: `the ledger does not answer (${(err as Error).message}): payments cannot settle`,
    };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/** `since` (a Unix second the page already has history up to), or null when absent. */
function sinceOf(raw: string | undefined): number | null {
  if (raw === undefined) return null;
  if (!/^\d{1,12}$/.test(raw)) throw problem('invalid_request', '`since` must be a Unix second (an integer)');
  return Number(raw);
}

/** One sale as the view shows it: counters, lanes, tally, history after `since`, health. */
async function opsSale(redis: RedisPort, snapshot: SaleSnapshot, since: number | null) {
  const saleId = snapshot.sale.saleId;
  const nowSecond = Math.floor(snapshot.nowMs / 1000);
  // the health strip judges the last minute whatever the page has already
  const fromSecond = Math.min(since === null ? 0 : since + 1, nowSecond - THRESHOLDS.windowSeconds);
  const reply = await callScript(
    redis,
    scripts.readOpsView,
    {
      tally: keys.tally(saleId),
      history: keys.history(saleId),
      unknown: keys.unknown(saleId),
      review: keys.review(saleId),
      oversell: keys.oversell(saleId),
    },
    { fromSecond: since === null ? undefined : fromSecond, overdueMs: THRESHOLDS.unknownOverdueMs },
  );
  const [, tallyPairs, historyPairs, unknown, unknownOverdue, review, oversellPairs] = reply as [
    number,
    string[],
    string[],
    number,
    number,
    number,
    string[],
  ];
  const history = parseHistory(historyPairs);
  const tallyHash = pairsToRecord(tallyPairs);
  const tally = tallyView(tallyHash);
  const soldOutAtMs = tallyHash.soldOutAtMs === undefined ? undefined : Number(tallyHash.soldOutAtMs);
  return {
    ...adminSaleView(snapshot),
    lanes: snapshot.laneDepths,
    served: snapshot.laneServed,
    tally,
    soldOutAt: soldOutAtMs === undefined ? null : new Date(soldOutAtMs).toISOString(),
    // the latency buckets (h.*) are the health strip's, judged here: the page gets decisions and seats
    history: history
      .filter((s) => since === null || s.t > since)
      .map((s) => ({ t: s.t, counts: withoutHealthFields(s.counts) })),
    health: saleHealth({
      nowSecond,
      history,
      queueDepth: snapshot.queueDepth,
      unknown,
      unknownOverdue,
      review,
      oversell: pairsToRecord(oversellPairs),
    }),
    nowMs: snapshot.nowMs,
  };
}

function withoutHealthFields(counts: Record<string, number>): Record<string, number> {
  const kept: Record<string, number> = {};
  for (const [field, n] of Object.entries(counts)) if (!field.startsWith('h.')) kept[field] = n;
  return kept;
}

function pairsToRecord(pairs: readonly string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < pairs.length; i += 2) record[pairs[i]!] = pairs[i + 1]!;
  return record;
}

/**
 * The ops view, mounted at the root behind admin auth: the page (/admin/) and the snapshot it
 * polls (/admin/ops): every sale's live counters, queue depth per lane, tally (decisions by
 * reason and payment outcomes, summed over every instance), its per-second history (all of the
 * last 15 minutes, or only the seconds after `?since=`), and the health strip. Everything read is
 * an aggregate the tally flush keeps; a poll costs one sale read and one script call per sale.
 */
export function opsRoutes({
  redis,
  sales,
  ledger,
}: {
  redis: RedisPort;
  sales: SaleStore;
  ledger?: Pick<LedgerView, 'ping'>;
}) {
  return new Hono()
    .get('/admin', (c) => c.redirect('/admin/', 301))
    .get('/admin/', (c) => {
      const nonce = crypto.randomUUID();
      return c.body(
        OPS_PAGE.replace('<script type="module">', `<script type="module" nonce="${nonce}">`),
        200,
        pageHeaders(nonce),
      );
    })
    .get('/admin/ops', async (c) => {
      const since = sinceOf(c.req.query('since'));
      const ledgerCheck = ledgerIndicator(ledger);
      let read: Awaited<ReturnType<typeof opsSale>>[];
      try {
        read = await Promise.all((await sales.readMany(OPS_SALES)).map((snapshot) => opsSale(redis, snapshot, since)));
      } catch (err) {
        if (!(err instanceof RedisUnavailableError)) throw err;
        // the page keeps what it last had and turns Redis red
        const redisDown: Indicator = {
          state: 'bad',
          value: 'down',
          reason: `Redis does not answer (${err.message}): buyers get 503`,
        };
        throw problem('unavailable', 'Redis does not answer', {
          retryAfterSeconds: 1,
          extra: { health: { redis: redisDown, ledger: await ledgerCheck } },
        });
      }
      const health = {
        redis: { state: 'ok', value: 'up', reason: 'answers' } satisfies Indicator,
        ledger: await ledgerCheck,
      };
      const shown = read.sort(
        (a, b) => (b.opensAt ?? '').localeCompare(a.opensAt ?? '') || a.saleId.localeCompare(b.saleId),
      );
      return json(c, { health, sales: shown }, 200, { 'Cache-Control': 'no-store' });
    });
}
