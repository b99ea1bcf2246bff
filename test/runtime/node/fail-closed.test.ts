import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../../src/app.js';
import { silentLogger } from '../../../src/logger.js';
import { PaymentTokens } from '../../../src/payments/payment-token.js';
import { nodeHmacSha256 } from '../../../src/runtime/node/adapters/crypto.js';
import { startEmbeddedRedis } from '../../../src/runtime/node/dev/embedded-redis.js';
import { gatewayRedisOptions, ioredisPort } from '../../../src/runtime/node/adapters/ioredis-port.js';
import { ADMIN_TOKEN, buyer, call, expectProblem, JWT_SECRET, TOKEN_SECRET, waitFor } from '../../helpers.js';

describe('Redis down', () => {
  it('order and payment routes fail closed with 503 unavailable, and recover without a restart', async () => {
    // a Redis of its own, so stopping it does not disturb the other test files
    let server = await startEmbeddedRedis();
    const port = Number(new URL(server.url).port);
    const client = new Redis(server.url, { ...gatewayRedisOptions(500), lazyConnect: true });
    client.on('error', () => {});
    await client.connect();
    try {
      const app = createApp({
        redis: ioredisPort(client),
        log: silentLogger,
        jwtSecret: JWT_SECRET,
        adminToken: ADMIN_TOKEN,
        tokenSecret: TOKEN_SECRET,
      });
      const b = await buyer();
      const sale = { stock: 5, price: 100, currency: 'CNY' };
      expect((await call(app, 'PUT', '/admin/sales/down', { token: ADMIN_TOKEN, body: sale })).status).toBe(201);

      await server.stop();
      const order = await call(app, 'POST', '/v1/sales/down/orders', { token: b.jwt, body: {} });
      expectProblem(order, 503, 'unavailable');
      expect(Number(order.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(JSON.stringify(order.body)).not.toMatch(/at .*\.ts|ECONNREFUSED|stack/i);
      expectProblem(await call(app, 'GET', '/readyz'), 503, 'unavailable');
      expect((await call(app, 'GET', '/healthz')).status).toBe(200);
      const payment = await call(app, 'POST', '/v1/orders/ord_AAAAAAAAAAAAAAAAAAAAAZG93bg/payments', {
        token: b.jwt,
        body: { paymentToken: `pt_${'A'.repeat(21)}.${'A'.repeat(43)}`, method: 'wallet' },
      });
      // a forged token is refused before Redis is asked; a well-signed one cannot be checked: 503
      expectProblem(payment, 403, 'token_invalid');
      const orderId = 'ord_AAAAAAAAAAAAAAAAAAAAAZG93bg';
      const signed = await new PaymentTokens(nodeHmacSha256(TOKEN_SECRET)).sign(orderId, b.userId, 'B'.repeat(21));
      const unchecked = await call(app, 'POST', `/v1/orders/${orderId}/payments`, {
        token: b.jwt,
        body: { paymentToken: signed, method: 'wallet' },
      });
      expectProblem(unchecked, 503, 'unavailable');

      server = await startEmbeddedRedis({ port });
      await waitFor(async () => (await call(app, 'GET', '/readyz')).status === 200, {
        what: 'readyz to answer 200',
        everyMs: 100,
      });
      // the embedded test Redis keeps nothing: the sale is created again, then orders flow
      expect((await call(app, 'PUT', '/admin/sales/down', { token: ADMIN_TOKEN, body: sale })).status).toBe(201);
      expect((await call(app, 'POST', '/v1/sales/down/orders', { token: b.jwt, body: {} })).status).toBe(201);
    } finally {
      client.disconnect();
      await server.stop();
    }
  });
});
