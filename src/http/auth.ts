import type { MiddlewareHandler } from 'hono';
import { verify } from 'hono/jwt';
import { timingSafeEqual } from 'hono/utils/buffer';
import type { Lane } from '../redis/keys.js';
import { importHmacKey } from '../hmac.js';
import { ID_PATTERN } from '../ids.js';
import { problem } from './problem.js';

/** The authenticated buyer of a request. */
export interface Buyer {
  readonly userId: string;
  readonly lane: Lane;
}

export type BuyerEnv = { Variables: { buyer: Buyer } };

function bearer(header: string | undefined): string | null {
  const match = header === undefined ? null : /^Bearer +([^\s]+) *$/i.exec(header);
  return match ? match[1]! : null;
}

/**
 * Checks a JWT's signature (HS256 only) and expiry and returns its claims; throws otherwise.
 * A port: the Node runtime passes fast-jwt (node:crypto); others use webJwtVerifier.
 */
export type JwtVerifier = (token: string) => Record<string, unknown> | Promise<Record<string, unknown>>;

/** HS256 verification over Web Crypto (hono/jwt), for any runtime. */
export function webJwtVerifier(secret: string): JwtVerifier {
  const key = importHmacKey(secret);
  return async (token) => verify(token, await key, 'HS256');
}

/**
 * Remembers verified tokens by their exact text until their own `exp` (at most `maxEntries`,
 * the oldest forgotten first). A buyer sends the same JWT for its order, its payment and its
 * polls, so during an on-sale most checks are repeats: a hit costs one Map lookup, where
 * fast-jwt's own cache hashes the token with SHA-256 first. Keyed by the whole signed text, so a
 * hit is exactly a token that verified; an expired one is verified (and refused) again.
 */
export function cachedJwtVerifier(
  verify: JwtVerifier,
  options: { maxEntries?: number; now?: () => number } = {},
): JwtVerifier {
  const { maxEntries = 50_000, now = Date.now } = options;
  const verified = new Map<string, Readonly<Record<string, unknown>>>();
  const remember = (token: string, claims: Record<string, unknown>) => {
    if (typeof claims.exp !== 'number') return claims;
    if (verified.size >= maxEntries) verified.delete(verified.keys().next().value!);
    const frozen = Object.freeze(claims);
    verified.set(token, frozen);
    return frozen;
  };
  return (token) => {
    const hit = verified.get(token);
    if (hit !== undefined) {
      if ((hit.exp as number) * 1000 > now()) return hit;
      verified.delete(token);
    }
    const claims = verify(token);
    return claims instanceof Promise ? claims.then((c) => remember(token, c)) : remember(token, claims);
  };
}

/**
 * Buyer authentication: `Authorization: Bearer <JWT>`, HS256 only, `sub` (a valid userId) and
 * `exp` required, `tier` "standard" (default) or "priority". Anything else is 401.
 */
export function buyerAuth(options: { verifyJwt: JwtVerifier }): MiddlewareHandler<BuyerEnv> {
  const { verifyJwt } = options;
  return async function buyerAuth(c, next) {
    const token = bearer(c.req.header('Authorization'));
    if (token === null) throw problem('unauthenticated', 'send Authorization: Bearer <JWT>');
    let claims: Record<string, unknown>;
    try {
      const verified = verifyJwt(token);
      // a synchronous verifier (fast-jwt) is not awaited: no microtask turn per request
      claims = verified instanceof Promise ? await verified : verified;
    } catch {
      throw problem('unauthenticated', 'the JWT is malformed, expired or not signed by us');
    }
    const { sub, exp, tier = 'standard' } = claims;
    if (typeof sub !== 'string' || !ID_PATTERN.test(sub)) {
      throw problem('unauthenticated', 'the JWT needs a `sub` claim matching ^[A-Za-z0-9_.:-]{1,64}$');
    }
    if (typeof exp !== 'number') throw problem('unauthenticated', 'the JWT needs an `exp` claim');
    if (tier !== 'standard' && tier !== 'priority') {
      throw problem('unauthenticated', 'the JWT `tier` claim must be "standard" or "priority"');
    }
    c.set('buyer', { userId: sub, lane: tier });
    await next();
  };
}

/** The password of `Authorization: Basic base64(user:password)`; the user name is ignored. */
function basicPassword(header: string | undefined): string | null {
  const match = header === undefined ? null : /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(header);
  if (!match) return null;
  let decoded: string;
  try {
    decoded = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(
      Uint8Array.from(atob(match[1]!), (ch) => ch.charCodeAt(0)),
    );
  } catch {
    return null;
  }
  const colon = decoded.indexOf(':');
  return colon < 0 ? null : decoded.slice(colon + 1);
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** A browser's request that another site started (a form post, an image, a script's fetch). */
function crossSite(headers: { header(name: string): string | undefined }): boolean {
  const site = headers.header('Sec-Fetch-Site');
  if (site !== undefined) return site !== 'same-origin' && site !== 'none';
  const origin = headers.header('Origin');
  if (origin === undefined) return false;
  try {
    return new URL(origin).host !== headers.header('Host');
  } catch {
    return true;
  }
}

/**
 * Ops authentication: `Authorization: Bearer <admin token>`, compared in constant time. Browsers
 * (the ops view at /admin/) may send the token as a Basic password instead; a browser re-sends
 * Basic credentials on its own, so a change (not GET) sent with them must come from our own page.
 */
export function adminAuth(options: { token: string }): MiddlewareHandler {
  const { token } = options;
  return async function adminAuth(c, next) {
    const header = c.req.header('Authorization');
    const viaBearer = bearer(header);
    const given = viaBearer ?? basicPassword(header);
    if (given === null || !(await timingSafeEqual(given, token))) {
      throw problem(
        'unauthenticated',
        'send Authorization: Bearer <admin token> (in a browser: any user name, the admin token as password)',
        {
          headers: { 'WWW-Authenticate': 'Basic realm="rushgate admin", charset="UTF-8"' },
        },
      );
    }
    if (viaBearer === null && !SAFE_METHODS.has(c.req.method) && crossSite(c.req)) {
      throw problem('cross_site', 'a change with browser credentials must come from the ops view itself');
    }
    await next();
  };
}
