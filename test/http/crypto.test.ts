import { describe, expect, it } from 'vitest';
import { cachedJwtVerifier, webJwtVerifier, type JwtVerifier } from '../../src/http/auth.js';
import { constantTimeEqual, webHmacSha256 } from '../../src/hmac.js';
import { PaymentTokens } from '../../src/payments/payment-token.js';
import { nodeHmacSha256, nodeJwtVerifier } from '../../src/runtime/node/adapters/crypto.js';
import { buyerJwt, JWT_SECRET } from '../helpers.js';

describe('runtime crypto', () => {
  it('node:crypto and Web Crypto HMACs are identical, so tokens verify across runtimes', async () => {
    const node = new PaymentTokens(nodeHmacSha256('s'.repeat(40)));
    const web = new PaymentTokens(webHmacSha256('s'.repeat(40)));
    const nonce = node.newNonce();
    const token = await node.sign('ord_1', 'alice', nonce);
    expect(await web.sign('ord_1', 'alice', nonce)).toBe(token);
    expect(await web.verify(token, 'ord_1', 'alice')).toBe(nonce);
    expect(await node.verify(token, 'ord_1', 'bob')).toBeNull();
    expect(await node.verify(token, 'ord_2', 'alice')).toBeNull();
  });

  it('both JWT verifiers return the claims of a valid token', async () => {
    const jwt = await buyerJwt('alice', { tier: 'priority' });
    for (const verify of [nodeJwtVerifier(JWT_SECRET), webJwtVerifier(JWT_SECRET)]) {
      expect(await verify(jwt)).toMatchObject({ sub: 'alice', tier: 'priority' });
    }
  });

  it('the JWT cache answers only tokens that verified, and never one past its exp', async () => {
    let nowMs = Date.now();
    let calls = 0;
    const counted: JwtVerifier = (token) => {
      calls++;
      return nodeJwtVerifier(JWT_SECRET)(token);
    };
    const verify = cachedJwtVerifier(counted, { maxEntries: 2, now: () => nowMs });
    const jwt = await buyerJwt('alice');
    expect(verify(jwt)).toMatchObject({ sub: 'alice' });
    expect(verify(jwt)).toMatchObject({ sub: 'alice' });
    expect(calls).toBe(1);
    // a forged signature is verified every time, and refused every time
    const forged = `${jwt.slice(0, -4)}AAAA`;
    for (let i = 0; i < 2; i++) expect(() => verify(forged)).toThrow();
    expect(calls).toBe(3);
    // past its exp (on the cache's clock) the token goes to the verifier again, which decides
    nowMs += 3_601_000;
    verify(jwt);
    expect(calls).toBe(4);
    // bounded: the oldest entry goes first
    nowMs = Date.now();
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((u) => buyerJwt(u)));
    for (const t of [a!, b!, c!]) verify(t);
    calls = 0;
    verify(c!);
    verify(b!);
    expect(calls).toBe(0);
    verify(a!);
    expect(calls).toBe(1);
  });

  it('constantTimeEqual compares whole strings', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
  });
});
