/**
 * The OpenAPI document against the routes of a real app (the test Redis, a PGlite ledger, so the
 * wallet routes are mounted): every route the app registers is documented, every documented
 * operation is answered by a route (never the no-route 404), and the reference page loads only
 * what the gateway itself serves.
 */
import { z } from 'zod';
import { API_OPERATIONS, openApiDocument } from '../../src/api-docs/openapi.js';
import { OrderBody } from '../../src/orders/orders-routes.js';
import { nodeReferenceScript } from '../../src/runtime/node/adapters/api-reference.js';
import { describe, expect, test, useLedger } from '../fixtures.js';
import { ADMIN_TOKEN, buyerJwt, unique, type App } from '../helpers.js';

useLedger({ apiReferenceScript: nodeReferenceScript });

/** `GET /v1/orders/{}`: a route's shape, whatever its parameters are called. */
const shape = (method: string, path: string) =>
  `${method.toUpperCase()} ${path.replace(/:[^/]+/g, '{}').replace(/\{[^}]+\}/g, '{}')}`;

/**
 * Does the route `method pattern` (Hono's `:param`) answer the documented operation `docShape`?
 * A route may be wider than the path it serves: `/admin/blocklist/:kind/:id` answers
 * `/admin/blocklist/addresses/{address}` (and 404s any other kind), written so to suit Hono's
 * RegExpRouter.
 */
const answers = (routeShape: string, docShape: string) =>
  new RegExp(`^${routeShape.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replaceAll('{}', '[^/ ]+')}$`).test(
    docShape.replaceAll('{}', 'x'),
  );

const routeShapes = (app: App) =>
  new Set(app.routes.filter((r) => r.method !== 'ALL').map((r) => shape(r.method, r.path)));

type Document = {
  openapi: string;
  paths: Record<
    string,
    Record<string, { operationId: string; requestBody?: { content: Record<string, { schema: unknown }> } }>
  >;
};

async function served(app: App): Promise<Document> {
  const res = await app.request('/openapi.json');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return (await res.json()) as Document;
}

describe('GET /openapi.json', () => {
  test('is OpenAPI 3.1 and lists exactly the routes the app registers, no more and no fewer', async ({ app }) => {
    const doc = await served(app);
    expect(doc.openapi).toBe('3.1.0');
    expect(doc).toEqual(openApiDocument());
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => shape(method, path))),
    );
    const routes = routeShapes(app);
    expect(
      [...routes].filter((r) => ![...documented].some((d) => answers(r, d))),
      'routes missing from the document',
    ).toEqual([]);
    expect(
      [...documented].filter((d) => ![...routes].some((r) => answers(r, d))),
      'documented operations with no route',
    ).toEqual([]);
    expect(documented.size).toBe(API_OPERATIONS.length);
    // OpenAPI requires each operationId to be unique
    const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((op) => op.operationId));
    expect(new Set(ids).size).toBe(ids.length);
  });

  test("every route is one Hono's RegExpRouter takes, so the app never falls back to the slower trie", async ({
    app,
  }) => {
    await app.request('/healthz'); // the smart router picks on the first request
    expect(app.router.name).toBe('SmartRouter + RegExpRouter');
  });

  test("documents each request body with the route's own schema, as sent", async ({ app }) => {
    const doc = await served(app);
    const body = doc.paths['/v1/sales/{saleId}/orders']?.post?.requestBody?.content['application/json']?.schema;
    const { $schema: _, ...own } = z.toJSONSchema(OrderBody, { io: 'input' });
    expect(body).toEqual(own);
    expect(body).toMatchObject({
      properties: { quantity: { minimum: 1, maximum: 1000 } },
      additionalProperties: false,
    });
    // every operation with a body in the list shows one
    for (const op of API_OPERATIONS.filter((o) => o.body)) {
      expect(doc.paths[op.path]?.[op.method]?.requestBody, `${op.method} ${op.path}`).toBeDefined();
    }
  });

  test('is answered by a route for every documented operation: never the no-route 404, never a 405 or 5xx', async ({
    app,
  }) => {
    const jwt = await buyerJwt(unique('u'));
    const samples: Record<string, string> = {
      saleId: unique('s'),
      userId: unique('u'),
      orderId: 'ord_unknown',
      paymentId: 'pay_unknown',
      address: '192.0.2.7',
      channel: 'alipay',
    };
    for (const op of API_OPERATIONS) {
      const path = op.path.replace(/\{([^}]+)\}/g, (_m, name: string) => encodeURIComponent(samples[name]!));
      const headers: Record<string, string> = {};
      if (op.auth === 'admin') headers.Authorization = `Bearer ${ADMIN_TOKEN}`;
      if (op.auth === 'buyer') headers.Authorization = `Bearer ${jwt}`;
      // an empty object: a route that needs fields refuses it with 400 and changes nothing
      const init: RequestInit = { method: op.method.toUpperCase(), headers };
      if (op.method !== 'get' && op.method !== 'delete') {
        headers['Content-Type'] = 'application/json';
        init.body = '{}';
      }
      const res = await app.request(path, init);
      const text = await res.text();
      const where = `${op.method.toUpperCase()} ${path}: ${res.status} ${text.slice(0, 200)}`;
      expect(res.status, where).not.toBe(405);
      expect(res.status, where).toBeLessThan(500);
      if (res.status === 404) expect(JSON.parse(text).detail, where).not.toMatch(/^no route for/);
    }
  });

  test('answers the no-route 404 for an undocumented path, so the check above can fail', async ({ app }) => {
    const res = await app.request('/v1/not-a-route');
    expect(res.status).toBe(404);
    expect(((await res.json()) as { detail: string }).detail).toMatch(/^no route for/);
  });
});

describe('GET /docs', () => {
  test('is a page whose scripts are served by the gateway itself, under a CSP that allows no other origin', async ({
    app,
  }) => {
    const res = await app.request('/docs');
    expect(res.status).toBe(200);
    const html = await res.text();
    const sources = [...html.matchAll(/\bsrc="([^"]+)"/g)].map((m) => m[1]);
    expect(sources).toEqual(['/docs/scalar.js']);
    expect(html).not.toMatch(/(?:src|href)="(?:https?:)?\/\//);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/connect-src 'self'/);
    expect(csp).not.toMatch(/https?:/);
    // the nonce the CSP allows is the one on both scripts and on the meta tag Scalar reads for its styles
    const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toBeTruthy();
    expect(html.split(`nonce="${nonce}"`).length - 1).toBe(2);
    expect(html).toContain(`<meta property="csp-nonce" content="${nonce}">`);
  });

  test("serves Scalar's browser bundle from this install as JavaScript", async ({ app }) => {
    const res = await app.request('/docs/scalar.js');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/javascript/);
    const js = await res.text();
    expect(js.length).toBeGreaterThan(100_000);
    expect(js).toContain('createApiReference');
  });
});
