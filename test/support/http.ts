import { expect } from 'vitest';
import type { App } from './app.js';
import { unique } from './names.js';
import { ADMIN_TOKEN } from './secrets.js';

export interface CallOptions {
  body?: unknown;
  rawBody?: string;
  token?: string;
  headers?: Record<string, string>;
}

/** One request through app.request(); returns status, headers and parsed JSON body. */
export async function call(app: App, method: string, path: string, options: CallOptions = {}) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['Content-Type'] ??= 'application/json';
  }
  const res = await app.request(path, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

export const admin = (app: App, method: string, path: string, body?: unknown) =>
  call(app, method, path, { token: ADMIN_TOKEN, ...(body === undefined ? {} : { body }) });

/** Creates an open sale (201) and returns its id. */
export async function createSale(app: App, fields: Record<string, unknown> = {}): Promise<string> {
  const saleId = unique('sale');
  const res = await admin(app, 'PUT', `/admin/sales/${saleId}`, {
    stock: 10,
    price: 38000,
    currency: 'CNY',
    ...fields,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return saleId;
}

/** Places an order (expects 201) and returns its body. */
export async function placeOrder(app: App, saleId: string, jwt: string, quantity = 1) {
  const res = await call(app, 'POST', `/v1/sales/${saleId}/orders`, { token: jwt, body: { quantity } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { orderId: string; paymentToken: string; expiresAt: string; amount: number };
}

/** Pays an order with its token. */
export const pay = (app: App, orderId: string, jwt: string, paymentToken: string, method = 'wallet') =>
  call(app, 'POST', `/v1/orders/${orderId}/payments`, { token: jwt, body: { paymentToken, method } });

/** Asserts an RFC 9457 problem with the API's code. */
export function expectProblem(res: { status: number; headers: Headers; body: any }, status: number, code: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({
    status,
    code,
    type: expect.any(String),
    title: expect.any(String),
    detail: expect.any(String),
  });
  expect(res.headers.get('x-request-id')).toBeTruthy();
}
