import { importHmacKey } from '../http/hmac.js';
import { mintNonce } from '../http/ids.js';

const PREFIX = 'pt_';
const encoder = new TextEncoder();

function toBase64Url(bytes: ArrayBuffer): string {
  let bin = '';
  for (const b of new Uint8Array(bytes)) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text: string): Uint8Array<ArrayBuffer> | null {
  try {
    const bin = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
    return Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
  } catch {
    return null;
  }
}

/**
 * Single-use payment tokens: `pt_<nonce>.<HMAC-SHA256(orderId|userId|nonce)>`. The signature binds
 * the token to its order and buyer, so a forged, altered or borrowed token is refused here,
 * before Redis is asked. Redis keeps only the current nonce of each order, which makes the
 * token single-use and lets a re-issue supersede it.
 */
export class PaymentTokens {
  readonly #key: Promise<CryptoKey>;

  constructor(secret: string) {
    this.#key = importHmacKey(secret);
  }

  /** A fresh nonce (stored in Redis as the order's current token). */
  newNonce(): string {
    return mintNonce();
  }

  /** The token a buyer is shown for this order, buyer and nonce. */
  async sign(orderId: string, userId: string, nonce: string): Promise<string> {
    const mac = await crypto.subtle.sign('HMAC', await this.#key, this.#message(orderId, userId, nonce));
    return `${PREFIX}${nonce}.${toBase64Url(mac)}`;
  }

  /** The token's nonce when its signature holds for this order and buyer, else null. */
  async verify(token: string, orderId: string, userId: string): Promise<string | null> {
    const match = /^pt_([0-9A-Za-z]{21})\.([A-Za-z0-9_-]{43})$/.exec(token);
    if (!match) return null;
    const nonce = match[1]!;
    const mac = fromBase64Url(match[2]!);
    if (mac === null) return null;
    const ok = await crypto.subtle.verify('HMAC', await this.#key, mac, this.#message(orderId, userId, nonce));
    return ok ? nonce : null;
  }

  #message(orderId: string, userId: string, nonce: string): Uint8Array<ArrayBuffer> {
    return encoder.encode(`rushgate-pt-v1|${orderId}|${userId}|${nonce}`);
  }
}
