import { describe, expect, it } from 'vitest';
import { webJwtVerifier } from '../../src/http/auth.js';
import { constantTimeEqual, webHmacSha256 } from '../../src/http/hmac.js';
import { PaymentTokens } from '../../src/payments/payment-token.js';
import { nodeHmacSha256, nodeJwtVerifier } from '../../src/runtime/node/crypto.js';
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

  it('constantTimeEqual compares whole strings', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
  });
});
