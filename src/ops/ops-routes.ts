import { Hono } from 'hono';
import { keys } from '../redis/keys.js';
import type { RedisPort } from '../redis/port.js';
import { adminSaleView } from '../sales/sale.js';
import type { SaleStore } from '../sales/sale-store.js';
import { OPS_PAGE } from './ops-page.js';
import { tallyView } from './sale-tally.js';
import { json } from '../http/respond.js';

/** Sales shown in the ops view at most, newest opening first. */
const OPS_SALES = 200;

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

/**
 * The ops view, mounted at the root behind admin auth: the page (/admin/) and the snapshot it
 * polls (/admin/ops): every sale's live counters, queue depth per lane and tally (decisions by
 * reason and payment outcomes, summed over every instance; the page turns them into rates).
 */
export function opsRoutes({ redis, sales }: { redis: RedisPort; sales: SaleStore }) {
  return new Hono()
    .get('/admin', (c) => c.redirect('/admin/', 301))
    .get('/admin/', (c) => {
      const nonce = crypto.randomUUID();
      return c.body(OPS_PAGE.replace('<script>', `<script nonce="${nonce}">`), 200, pageHeaders(nonce));
    })
    .get('/admin/ops', async (c) => {
      const read = await Promise.all(
        (await sales.readMany(OPS_SALES)).map(async (snapshot) => {
          const tally = await redis.hgetall(keys.tally(snapshot.sale.saleId));
          return { ...adminSaleView(snapshot), lanes: snapshot.laneDepths, served: snapshot.laneServed, tally: tallyView(tally), nowMs: snapshot.nowMs };
        }),
      );
      const shown = read.sort((a, b) => (b.opensAt ?? '').localeCompare(a.opensAt ?? '') || a.saleId.localeCompare(b.saleId));
      return json(c, { sales: shown }, 200, { 'Cache-Control': 'no-store' });
    });
}
