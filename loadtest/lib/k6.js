// k6 bindings shared by the scripts: settings, JWT minting, the admin and buyer calls.
import crypto from 'k6/crypto';
import encoding from 'k6/encoding';
import http from 'k6/http';
import { fail } from 'k6';
import exec from 'k6/execution';
import { makeJwtMinter } from './jwt.js';

export const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8080';
export const ADMIN_TOKEN = __ENV.ADMIN_TOKEN || '';
export const JWT_SECRET = __ENV.JWT_SECRET || '';

const minter = makeJwtMinter({
  b64url: (text) => encoding.b64encode(text, 'rawurl'),
  hmacB64url: (secret, data) => crypto.hmac('sha256', secret, data, 'base64rawurl'),
});

export const buyerJwt = (userId, options) => minter.mint(userId, JWT_SECRET, options);

// refusals the API answers by design are not failures of the run
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 299 }, 409, 429));

const params = (token, name) => ({ headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, tags: { name } });

export function adminCall(method, path, body) {
  return http.request(method, `${BASE_URL}${path}`, body === undefined ? null : JSON.stringify(body), params(ADMIN_TOKEN, 'admin'));
}

export function buyerCall(method, path, token, body, name) {
  return http.request(method, `${BASE_URL}${path}`, body === undefined ? null : JSON.stringify(body), params(token, name));
}

/** Creates a sale for this run (`<prefix>-<time>`) in a script's setup(); fails the run if refused. */
export function createSale(prefix, fields) {
  requireSettings();
  const saleId = `${prefix}-${Date.now()}`;
  const res = adminCall('PUT', `/admin/sales/${saleId}`, Object.assign({ price: 100, currency: 'CNY', perUserLimit: 1 }, fields));
  if (res.status !== 201) fail(`could not create the sale: ${res.status} ${res.body}`);
  return saleId;
}

/**
 * One arriving buyer: unique to this iteration, its wallet credited with `amount`, its order
 * placed. Returns { userId, jwt, order } (order: the k6 response, tagged name=order).
 */
export function arrive(saleId, amount) {
  const userId = `${saleId}-b${exec.scenario.iterationInTest}`;
  const jwt = buyerJwt(userId);
  adminCall('POST', `/admin/wallets/${userId}/credits`, { amount, currency: 'CNY', reference: 'k6' });
  return { userId, jwt, order: buyerCall('POST', `/v1/sales/${saleId}/orders`, jwt, { quantity: 1 }, 'order') };
}

/** Fails fast when the settings the scripts need are missing. */
export function requireSettings() {
  if (!ADMIN_TOKEN || !JWT_SECRET) throw new Error('set ADMIN_TOKEN and JWT_SECRET (see loadtest/README.md)');
}
