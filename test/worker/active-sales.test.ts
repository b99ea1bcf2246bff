/**
 * The index of active sales that the payment worker and the hold sweeper walk. Invariant: a sale
 * leaves only when it can have no more work (nothing queued, nothing held, sold out or closed),
 * and a PUT that re-opens it brings it back, even one that races the walker's check.
 */
import { SaleStore } from '../../src/sales/sale-store.js';
import { readActiveSales, retireFinished, type ActiveSale } from '../../src/sales/active-sales.js';
import type { RedisPort } from '../../src/redis/port.js';
import { scripts } from '../../src/redis/scripts.generated.js';
import { test as withFixtures, describe, expect } from '../fixtures.js';
import { admin, buyer, call, createSale, placeOrder, unique } from '../helpers.js';

const noUnknown = async () => 0;

/** The index as the walker sees it, on `redis`. */
function walker(redis: RedisPort) {
  const sales = new SaleStore(redis);
  const read = (saleId: string) => sales.read(saleId);

  async function listed(saleId: string): Promise<ActiveSale | undefined> {
    return (await readActiveSales(redis)).find((s) => s.saleId === saleId);
  }

  /** Runs the walker's check on one sale, as it is listed now. */
  async function retire(saleId: string): Promise<boolean> {
    const entry = await listed(saleId);
    if (!entry) return false;
    return (await retireFinished(redis, [entry], read, noUnknown)).includes(saleId);
  }
  return { read, listed, retire };
}

const test = withFixtures.extend<{ index: ReturnType<typeof walker> }>({
  index: [
    async ({ redis }, use) => {
      await use(walker(redis));
    },
    { scope: 'file' },
  ],
});

describe('active sales index', () => {
  test('an open sale stays; a closed one with nothing held leaves; a PUT that re-opens it joins again', async ({
    app,
    index: { listed, retire },
  }) => {
    const open = await createSale(app, { stock: 3 });
    expect(await listed(open)).toBeDefined();
    expect(await retire(open)).toBe(false);
    expect(await listed(open)).toBeDefined();

    const closed = await createSale(app, { opensAt: '2020-01-01T00:00:00Z', closesAt: '2020-01-02T00:00:00Z' });
    expect(await retire(closed)).toBe(true);
    expect(await listed(closed)).toBeUndefined();
    expect((await admin(app, 'PUT', `/admin/sales/${closed}`, { closesAt: null })).status).toBe(200);
    expect(await listed(closed)).toBeDefined();
    expect(await retire(closed)).toBe(false);
  });

  test('a sold-out sale stays while an order holds stock, and leaves once it is released', async ({
    app,
    index: { retire },
  }) => {
    const saleId = await createSale(app, { stock: 2, perUserLimit: 2 });
    const b = await buyer();
    const order = await placeOrder(app, saleId, b.jwt, 2);
    expect(await retire(saleId)).toBe(false);
    // closed with the hold still there: it stays, the sweeper must still release it
    expect(
      (await admin(app, 'PUT', `/admin/sales/${saleId}`, { closesAt: new Date(Date.now() + 1).toISOString() })).status,
    ).toBe(200);
    await expect.poll(async () => (await admin(app, 'GET', `/admin/sales/${saleId}`)).body.status).toBe('closed');
    expect(await retire(saleId)).toBe(false);
    expect((await call(app, 'DELETE', `/v1/orders/${order.orderId}`, { token: b.jwt })).status).toBe(200);
    expect(await retire(saleId)).toBe(true);
  });

  test('a PUT between the walker reading the index and judging the sale keeps it listed', async ({
    app,
    redis,
    index: { read, listed },
  }) => {
    const saleId = await createSale(app, { opensAt: '2020-01-01T00:00:00Z', closesAt: '2020-01-02T00:00:00Z' });
    const stale = (await listed(saleId))!;
    // re-opened after the walker read its generation, before it judged the sale
    const judged = async (id: string) => {
      const snapshot = await read(id);
      expect((await admin(app, 'PUT', `/admin/sales/${saleId}`, { closesAt: null })).status).toBe(200);
      return snapshot;
    };
    expect(await retireFinished(redis, [stale], judged, noUnknown)).toEqual([]);
    expect((await listed(saleId))!.generation).toBeGreaterThan(stale.generation);
  });

  test('a walker that judges a new sale between its listing and its write cannot keep it out of the index', async ({
    redis,
    index: { read, listed, retire },
  }) => {
    const saleId = unique('sale');
    // the walker runs while putSale is on its way: the sale is listed (joined) but not written yet
    let walked: string[] | undefined;
    const racing: RedisPort = {
      ...redis,
      evalsha: async (...call: Parameters<RedisPort['evalsha']>) => {
        if (call[0] === scripts.putSale.sha && walked === undefined) {
          const entry = (await listed(saleId))!;
          walked = await retireFinished(redis, [entry], read, noUnknown);
        }
        return redis.evalsha(...call);
      },
    };
    await new SaleStore(racing).put(saleId, { stock: 3, price: 100, currency: 'CNY' });
    // it judged no sale behind the id and took it out; the put joined it again after its write
    expect(walked).toEqual([saleId]);
    expect(await listed(saleId)).toBeDefined();
    expect(await retire(saleId)).toBe(false);
  });

  test('a sale with a payment whose outcome is unknown stays', async ({ app, redis, index: { read, listed } }) => {
    const saleId = await createSale(app, { opensAt: '2020-01-01T00:00:00Z', closesAt: '2020-01-02T00:00:00Z' });
    const entry = (await listed(saleId))!;
    expect(await retireFinished(redis, [entry], read, async () => 1)).toEqual([]);
    expect(await listed(saleId)).toBeDefined();
  });
});
