import { describe, expect, test } from '../fixtures.js';
import { buyer, call, createSale, expectProblem } from '../helpers.js';

test.scoped({ appDeps: [{ maxInFlight: 3 }, { scope: 'file' }] });

describe('load shedding', () => {
  test('past maxInFlight buyer requests at once, the next are 503 overloaded with Retry-After; nothing is lost', async ({
    app,
  }) => {
    const saleId = await createSale(app, { stock: 20, perUserLimit: 1 });
    const jwts = await Promise.all(Array.from({ length: 8 }, async () => (await buyer()).jwt));
    const results = await Promise.all(
      jwts.map((jwt) => call(app, 'POST', `/v1/sales/${saleId}/orders`, { token: jwt, body: {} })),
    );
    const shed = results.filter((r) => r.status === 503);
    expect(results.filter((r) => r.status === 201)).toHaveLength(3);
    expect(shed).toHaveLength(5);
    for (const r of shed) {
      expectProblem(r, 503, 'overloaded');
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    // once the first ones have finished, capacity is back; admin and health routes were never shed
    expect((await call(app, 'POST', `/v1/sales/${saleId}/orders`, { token: jwts[7]!, body: {} })).status).toBe(201);
    expect((await call(app, 'GET', '/healthz')).status).toBe(200);
    expect((await call(app, 'GET', `/v1/sales/${saleId}`)).body.available).toBe(16);
  });
});
