/** GET /admin/sales/{saleId}/charges against the real ledger (PGlite) and the sale in Redis. */
import { describe, expect, test, useLedger } from '../fixtures.js';
import { admin, buyer, call, createSale, expectProblem, unique } from '../helpers.js';

useLedger();

describe('GET /admin/sales/{saleId}/charges', () => {
  test("answers the sale's charges, refunds, retained amount and the charges kept per order", async ({
    app,
    ledger,
  }) => {
    const saleId = await createSale(app, { price: 100 });
    const userId = unique('u');
    await ledger.credit({ userId, currency: 'CNY', amount: 1000, reference: 'r' });
    expect((await admin(app, 'GET', `/admin/sales/${saleId}/charges`)).body).toEqual({
      saleId,
      charges: 0,
      refunds: 0,
      retained: {},
      keptByOrder: {},
    });
    const posting = (orderId: string) => ({
      paymentId: unique('pay'),
      orderId,
      saleId,
      userId,
      method: 'wallet',
      amount: 100,
      currency: 'CNY',
    });
    // the second success for o1 is refunded: o1 keeps one charge
    await ledger.postPayments([posting('o1'), posting('o1'), posting('o2')]);
    const res = await admin(app, 'GET', `/admin/sales/${saleId}/charges`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ saleId, charges: 3, refunds: 1, retained: { CNY: 200 }, keptByOrder: { o1: 1, o2: 1 } });
  });

  test('is 404 for an unknown sale, 400 for a malformed id, and for ops only', async ({ app }) => {
    expectProblem(await admin(app, 'GET', `/admin/sales/${unique('none')}/charges`), 404, 'sale_not_found');
    expectProblem(await admin(app, 'GET', '/admin/sales/bad%20id/charges'), 400, 'invalid_request');
    const saleId = await createSale(app);
    expectProblem(
      await call(app, 'GET', `/admin/sales/${saleId}/charges`, { token: (await buyer()).jwt }),
      401,
      'unauthenticated',
    );
  });
});
