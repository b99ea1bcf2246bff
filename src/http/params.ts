import { ID_PATTERN, saleOfId } from '../ids.js';
import { problem } from './problem.js';

/** The saleId path parameter, or 400 when it does not match API.md's pattern. */
export function saleIdParam(value: string | undefined): string {
  if (value === undefined || !ID_PATTERN.test(value)) {
    throw problem('invalid_request', 'saleId must match ^[A-Za-z0-9_.:-]{1,64}$');
  }
  return value;
}

/** The sale of an order or payment id from the path, or 404 when the id cannot be ours. */
export function saleOfIdParam(prefix: 'ord' | 'pay', id: string | undefined): string {
  const saleId = id === undefined ? null : saleOfId(prefix, id);
  if (saleId === null) throw problem('not_found', `no such ${prefix === 'ord' ? 'order' : 'payment'}`);
  return saleId;
}
