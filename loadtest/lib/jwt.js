// Buyer JWTs (HS256) for load scripts, written against two injected primitives so the same code
// runs in k6 (k6/crypto, k6/encoding) and under Node for its tests.

/**
 * @param {{ b64url: (text: string) => string, hmacB64url: (secret: string, data: string) => string }} primitives
 *   b64url: base64url without padding of a UTF-8 string; hmacB64url: HMAC-SHA256, base64url without padding
 */
export function makeJwtMinter({ b64url, hmacB64url }) {
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  return {
    /** A JWT for buyer `sub`, valid `ttlSeconds` (default 2 h); `tier: 'priority'` for the priority lane. */
    mint(sub, secret, { ttlSeconds = 7200, tier, nowSeconds = Math.floor(Date.now() / 1000) } = {}) {
      const claims = { sub, exp: nowSeconds + ttlSeconds };
      if (tier) claims.tier = tier;
      const unsigned = `${header}.${b64url(JSON.stringify(claims))}`;
      return `${unsigned}.${hmacB64url(secret, unsigned)}`;
    },
  };
}
