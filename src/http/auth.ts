import type { MiddlewareHandler } from 'hono';
import { verify } from 'hono/jwt';
import { timingSafeEqual } from 'hono/utils/buffer';
import type { Lane } from '../redis/keys.js';
import { importHmacKey } from './hmac.js';
import { ID_PATTERN } from './ids.js';
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
      claims = await verifyJwt(token);
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

/** Ops authentication: `Authorization: Bearer <admin token>`, compared in constant time. */
export function adminAuth(options: { token: string }): MiddlewareHandler {
  const { token } = options;
  return async function adminAuth(c, next) {
    const given = bearer(c.req.header('Authorization'));
    if (given === null || !(await timingSafeEqual(given, token))) {
      throw problem('unauthenticated', 'send Authorization: Bearer <admin token>');
    }
    await next();
  };
}
