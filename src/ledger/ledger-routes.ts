import { Hono } from 'hono';
import { saleIdParam } from '../http/params.js';
import { problem } from '../http/problem.js';
import { json } from '../http/respond.js';
import type { SaleStore } from '../sales/sale-store.js';
import type { LedgerView } from './ledger.js';

/** Ops: what the ledger holds for a sale, mounted under /admin/sales next to the sale itself. */
export function adminLedgerRoutes({
  ledger,
  sales,
}: {
  ledger: Pick<LedgerView, 'saleCharges'>;
  sales: Pick<SaleStore, 'read'>;
}) {
  return new Hono().get('/:saleId/charges', async (c) => {
    const saleId = saleIdParam(c.req.param('saleId'));
    if ((await sales.read(saleId)) === null) throw problem('sale_not_found', `no sale ${saleId}`);
    return json(c, { saleId, ...(await ledger.saleCharges(saleId)) });
  });
}
