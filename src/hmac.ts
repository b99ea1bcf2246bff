/**
 * HMAC-SHA256 of a message as base64url. A port: each runtime passes its fastest implementation
 * (on Node, node:crypto answers synchronously; Web Crypto there hops to a thread pool per call).
 */
export type HmacSha256 = (message: string) => string | Promise<string>;

function toBase64Url(bytes: ArrayBuffer): string {
  let bin = '';
  for (const b of new Uint8Array(bytes)) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Imports an HMAC-SHA256 secret for Web Crypto once, not per request. */
export function importHmacKey(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
    'verify',
  ]);
}

/** HMAC-SHA256 over Web Crypto, for any runtime with `crypto.subtle`. */
export function webHmacSha256(secret: string): HmacSha256 {
  const key = importHmacKey(secret);
  const encoder = new TextEncoder();
  return async (message) => toBase64Url(await crypto.subtle.sign('HMAC', await key, encoder.encode(message)));
}

/** Compares two strings in time independent of where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
