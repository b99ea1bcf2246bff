import type { Redis } from 'ioredis';
import { expect } from 'vitest';
import type { Ledger } from '../../src/ledger/ledger.js';
import { keys } from '../../src/redis/keys.js';
import { orderField } from '../../src/redis/records.js';
import { scanKeys } from '../helpers.js';

/**
 * The money rule across Redis and the ledger: every paid order of the sale has exactly one kept
 * charge, and no other order has any. `raw` is a client on the sale's Redis.
 */
export function chargesMatchOrders(ledger: Ledger, raw: Redis) {
  return async (saleId: string) => {
    for await (const found of scanKeys(raw, keys.order(saleId, '*'))) {
      for (const key of found) {
        const [status, amount] = await raw.hmget(key, orderField.status, orderField.amount);
        if (Number(amount) === 0) continue;
        const orderId = key.slice(key.lastIndexOf(':o:') + 3);
        expect(await ledger.retainedCharges(orderId), `${key} is ${status}`).toBe(status === 'paid' ? 1 : 0);
      }
    }
  };
}
