/** GET /admin/sales/{saleId}/charges against the real ledger (PGlite) and the sale in Redis. */
import { describe, expect, it } from 'vitest';
import { Ledger } from '../../src/ledger/ledger.js';
import { pgliteSql } from '../../src/runtime/node/sql.js';
import { admin, buyer, call, createSale, expectProblem, testApp, unique } from '../helpers.js';

const ledger = await Ledger.open(await pgliteSql());
const { app } = await testApp({ ledger });

describe('GET /admin/sales/{saleId}/charges', () => {
  it("answers the sale's charges, refunds, retained amount and the charges kept per order", async () => {
    const saleId = await createSale(app, { price: 100 });
    const userId = unique('u');
    await ledger.credit({ userId, currency: 'CNY', amount: 1000, reference: 'r' });
    expect((await admin(app, 'GET', `/admin/sales/${saleId}/charges`)).body).toEqual({
      saleId, charges: 0, refunds: 0, retained: {}, keptByOrder: {},
    });
    const posting = (orderId: string) => ({ paymentId: unique('pay'), orderId, saleId, userId, method: 'wallet', amount: 100, currency: 'CNY' });
    // the second success for o1 is refunded: o1 keeps one charge
    await ledger.postPayments([posting('o1'), posting('o1'), posting('o2')]);
    const res = await admin(app, 'GET', `/admin/sales/${saleId}/charges`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ saleId, charges: 3, refunds: 1, retained: { CNY: 200 }, keptByOrder: { o1: 1, o2: 1 } });
  });

  it('is 404 for an unknown sale, 400 for a malformed id, and for ops only', async () => {
    expectProblem(await admin(app, 'GET', `/admin/sales/${unique('none')}/charges`), 404, 'sale_not_found');
    expectProblem(await admin(app, 'GET', '/admin/sales/bad%20id/charges'), 400, 'invalid_request');
    const saleId = await createSale(app);
    expectProblem(await call(app, 'GET', `/admin/sales/${saleId}/charges`, { token: (await buyer()).jwt }), 401, 'unauthenticated');
  });
});
