import { sign } from 'hono/jwt';
import { unique } from './names.js';

export const JWT_SECRET = 'test-jwt-secret-0123456789abcdef0123456789';
export const ADMIN_TOKEN = 'test-admin-token-0123456789';
export const TOKEN_SECRET = 'test-token-secret-0123456789abcdef012345';
export const CHANNEL_SECRET = 'test-channel-secret-0123456789abcdef0123';

/** A buyer JWT (HS256) for `userId`, valid for an hour unless claims say otherwise. */
export function buyerJwt(userId: string, claims: Record<string, unknown> = {}): Promise<string> {
  return sign({ sub: userId, exp: Math.floor(Date.now() / 1000) + 3600, ...claims }, JWT_SECRET);
}

/** A buyer: its userId and JWT. */
export async function buyer(claims: Record<string, unknown> = {}) {
  const userId = unique('u');
  return { userId, jwt: await buyerJwt(userId, claims) };
}
