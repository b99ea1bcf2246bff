import type { Context, MiddlewareHandler } from 'hono';

/** API.md names the charset; Hono's c.json() writes the bare media type. */
export const JSON_UTF8 = 'application/json; charset=utf-8';

/** Responses whose headers already carry the request id (built below or by a problem). */
const stamped = new WeakSet<Response>();

/**
 * A Response with plain-object headers, marked as carrying its request id. Plain headers keep
 * @hono/node-server on its fast path (it writes them as they are), where a Web `Headers` object,
 * or reading `res.headers` afterwards, builds one per response.
 */
export function stampedResponse(body: string | null, status: number, headers: Record<string, string>): Response {
  const res = new Response(body, { status, headers });
  stamped.add(res);
  return res;
}

/** The request's id (set by requestIds(), first of the app's middleware). */
export const requestIdOf = (c: Context): string => c.get('requestId') as string;

/** Responses that answer a replay (`Idempotent-Replayed: true`), known without reading headers. */
const replays = new WeakSet<Response>();

/** Whether `res` was built by json() as a replay's answer. */
export const isReplay = (res: Response): boolean => replays.has(res);

/** A JSON response (UTF-8) with the request id and any further headers. */
export function json(c: Context, body: unknown, status = 200, headers?: Record<string, string>): Response {
  const res = stampedResponse(JSON.stringify(body), status, {
    'Content-Type': JSON_UTF8,
    'X-Request-Id': requestIdOf(c),
    ...headers,
  });
  // read by the metrics (replays apart from new admissions): `res.headers` would build a Web
  // Headers object per response and knock @hono/node-server off its fast path
  if (headers?.['Idempotent-Replayed'] === 'true') replays.add(res);
  return res;
}

export type RequestIdEnv = { Variables: { requestId: string } };

const UNSAFE = /[^\w\-=]/;

/**
 * Every response carries X-Request-Id: the caller's own when it is safe (word characters, `-`,
 * `=`, at most 128), otherwise one minted here from a random per-process prefix and a counter,
 * unique without a UUID per request. Responses built by `json()` or a problem carry it already;
 * only others (text, HTML, an empty 204) get it set afterwards.
 */
export function requestIds(): MiddlewareHandler<RequestIdEnv> {
  const prefix = `${Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => (b % 36).toString(36)).join('')}-`;
  let counter = 0;
  return async function requestIds(c, next) {
    let id = c.req.header('X-Request-Id');
    if (id === undefined || id.length === 0 || id.length > 128 || UNSAFE.test(id))
      id = prefix + (++counter).toString(36);
    c.set('requestId', id);
    await next();
    if (!stamped.has(c.res)) c.res.headers.set('X-Request-Id', id);
  };
}
