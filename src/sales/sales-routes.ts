import { Hono } from 'hono';
import { z } from 'zod';
import { readJson } from '../http/body.js';
import { saleIdParam } from '../http/params.js';
import { problem } from '../http/problem.js';
import { adminSaleView, publicSaleView, saleStatus, type SaleSnapshot } from './sale.js';
import type { SaleGate } from './sale-gate.js';
import type { SaleStore } from './sale-store.js';
import { json } from '../http/respond.js';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const instant = z.iso.datetime({ offset: true }).transform((s) => Date.parse(s));

/** PUT /admin/sales/{saleId}: every field optional here; a new sale needs stock, price, currency. */
export const SaleBody = z.strictObject({
  // a lone surrogate cannot cross into Redis (its JSON decoder refuses it)
  name: z
    .string()
    .min(1)
    .max(200)
    .refine((s) => !LONE_SURROGATE.test(s), 'not valid Unicode')
    .optional(),
  stock: z.number().int().min(1).max(1_000_000_000).optional(),
  price: z.number().int().min(0).max(10_000_000_000).optional(),
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as "CNY"')
    .optional(),
  perUserLimit: z.number().int().min(1).max(1000).optional(),
  holdSeconds: z.number().int().min(10).max(86_400).optional(),
  opensAt: instant.optional(),
  closesAt: instant.nullable().optional(),
});

export interface SalesDeps {
  sales: SaleStore;
  gate: SaleGate;
}

function learn(gate: SaleGate, snapshot: SaleSnapshot): void {
  const status = saleStatus(snapshot.sale, snapshot.nowMs);
  gate.remember(snapshot.sale.saleId, status === 'sold_out' || status === 'closed' ? status : null);
}

async function readOr404(sales: SaleStore, saleId: string) {
  const snapshot = await sales.read(saleId);
  if (snapshot === null) throw problem('sale_not_found', `no sale ${saleId}`);
  return snapshot;
}

/** Ops routes, mounted under /admin/sales behind admin auth. */
export function adminSalesRoutes({ sales, gate }: SalesDeps) {
  return new Hono()
    .put('/:saleId', async (c) => {
      const saleId = saleIdParam(c.req.param('saleId'));
      const body = await readJson(c, SaleBody);
      const result = await sales.put(saleId, body);
      learn(gate, result);
      return json(c, adminSaleView(result), result.created ? 201 : 200);
    })
    .get('/:saleId', async (c) => {
      const snapshot = await readOr404(sales, saleIdParam(c.req.param('saleId')));
      learn(gate, snapshot);
      // would-be refusals of a dry-run orders.perSale policy, since the sale began
      return json(c, { ...adminSaleView(snapshot), admission: { dryRunRefusals: snapshot.admissionDryRunRefusals } });
    });
}

/** How old a GET /v1/sales/{saleId} answer may be: its max-age (API.md). */
export const SALE_VIEW_MAX_AGE_MS = 1000;

/**
 * What a sale page polls; no auth, cacheable for 1 s. Served from this process's read of the
 * sale at most 1 s old, so the sale's Redis slot sees about one read per second per process.
 */
export function publicSalesRoutes({ sales, gate }: SalesDeps) {
  return new Hono().get('/:saleId', async (c) => {
    const saleId = saleIdParam(c.req.param('saleId'));
    const snapshot = await sales.readRecent(saleId, SALE_VIEW_MAX_AGE_MS);
    if (snapshot === null) throw problem('sale_not_found', `no sale ${saleId}`);
    learn(gate, snapshot);
    return json(c, publicSaleView(snapshot), 200, { 'Cache-Control': 'public, max-age=1' });
  });
}
