import { constantTimeEqual, type HmacSha256 } from '../hmac.js';
import { mintNonce } from '../ids.js';

const TOKEN = /^pt_([0-9A-Za-z]{21})\.([A-Za-z0-9_-]{43})$/;

/**
 * Single-use payment tokens: `pt_<nonce>.<HMAC-SHA256(orderId|userId|nonce)>`. The signature binds
 * the token to its order and buyer, so a forged, altered or borrowed token is refused here,
 * before Redis is asked. Redis keeps only the current nonce of each order, which makes the
 * token single-use and lets a re-issue supersede it.
 */
export class PaymentTokens {
  constructor(private readonly mac: HmacSha256) {}

  /** A fresh nonce (stored in Redis as the order's current token). */
  newNonce(): string {
    return mintNonce();
  }

  /** The token a buyer is shown for this order, buyer and nonce. */
  async sign(orderId: string, userId: string, nonce: string): Promise<string> {
    return `pt_${nonce}.${await this.mac(message(orderId, userId, nonce))}`;
  }

  /** The token's nonce when its signature holds for this order and buyer, else null. */
  async verify(token: string, orderId: string, userId: string): Promise<string | null> {
    const match = TOKEN.exec(token);
    if (!match) return null;
    const nonce = match[1]!;
    const expected = await this.mac(message(orderId, userId, nonce));
    return constantTimeEqual(expected, match[2]!) ? nonce : null;
  }
}

const message = (orderId: string, userId: string, nonce: string) => `rushgate-pt-v1|${orderId}|${userId}|${nonce}`;
