import { createHmac, createSecretKey } from 'node:crypto';
import { createVerifier } from 'fast-jwt';
import type { JwtVerifier } from '../../../http/auth.js';
import type { HmacSha256 } from '../../../hmac.js';

/** HMAC-SHA256 with node:crypto: synchronous, no thread-pool hop per call. */
export function nodeHmacSha256(secret: string): HmacSha256 {
  const key = createSecretKey(Buffer.from(secret, 'utf8'));
  return (message) => createHmac('sha256', key).update(message).digest('base64url');
}

/**
 * Buyer JWTs with fast-jwt: HS256 only, `sub` and `exp` required. Synchronous (no thread-pool
 * hop); repeats are answered by the app's cachedJwtVerifier in front of it.
 */
export function nodeJwtVerifier(secret: string): JwtVerifier {
  return createVerifier({ key: secret, algorithms: ['HS256'], requiredClaims: ['sub', 'exp'] });
}

/** The Node runtime's crypto for createApp. */
export const nodeCrypto = { hmacSha256: nodeHmacSha256, jwtVerifier: nodeJwtVerifier };
