import { keys } from '../../src/redis/keys.js';

/**
 * A KEYS / SCAN pattern for every key of one sale, derived from the shared declaration
 * (src/redis/keys.ts): every key of a sale starts with the same tag as its sale hash.
 */
export function saleKeyPattern(saleId: string): string {
  const sale = keys.sale(saleId);
  const tagEnd = sale.indexOf('}') + 1;
  return `${sale.slice(0, tagEnd)}*`;
}
