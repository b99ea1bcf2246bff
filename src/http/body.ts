import type { Context, MiddlewareHandler } from 'hono';
import type { z } from 'zod';
import { problem, ProblemError } from './problem.js';

/** API.md: a body over 16 KiB is 413. */
export const MAX_BODY_BYTES = 16 * 1024;

const JSON_TYPE = /^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i;

const tooLarge = () => problem('payload_too_large', `the body is over ${MAX_BODY_BYTES} bytes`);

/**
 * On every route: refuses a declared Content-Length over the limit (413) and a body that is not
 * JSON (415), before anything is read. Bodies without a length (chunked) are bounded while
 * readJson streams them. Only headers are read here, which matters on Node: touching
 * `c.req.raw.body` there builds a full Request and web stream per request.
 */
export function bodyRules(): MiddlewareHandler {
  return async function bodyRules(c, next) {
    const declared = c.req.header('Content-Length');
    if (declared !== undefined && Number(declared) > MAX_BODY_BYTES) throw tooLarge();
    const hasBody = (declared !== undefined && declared !== '0') || c.req.header('Transfer-Encoding') !== undefined;
    if (hasBody && !JSON_TYPE.test(c.req.header('Content-Type') ?? '')) {
      throw problem('unsupported_media_type', 'send the body as application/json');
    }
    await next();
  };
}

async function readBoundedStream(body: ReadableStream<Uint8Array>): Promise<string> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(all);
}

/** The raw body, bounded to MAX_BODY_BYTES (for signatures computed over the exact bytes). */
export async function bodyText(c: Context): Promise<string> {
  try {
    // a declared length was bounded by bodyRules; anything else (chunked) is read bounded
    if (c.req.header('Content-Length') !== undefined) return await c.req.text();
    const body = c.req.raw.body;
    return body ? await readBoundedStream(body) : '';
  } catch (err) {
    if (err instanceof ProblemError) throw err;
    // the body stream only fails when the client hung up mid-body (a reset, a closed socket):
    // the client's doing, answered (to nobody) as a 4xx, so it is neither a 5xx nor an error
    throw problem(
      'invalid_request',
      'the request body ended before it was complete (the client closed the connection)',
    );
  }
}

/**
 * Reads and validates a JSON body. A body with another content type is 415; malformed JSON or a
 * body the schema refuses is 400 with the schema's messages in `errors`. An absent body is
 * validated as `{}` so schemas with only optional fields accept it.
 */
export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  const text = await bodyText(c);
  let value: unknown = {};
  if (text.length > 0) {
    const type = c.req.header('Content-Type') ?? '';
    if (!JSON_TYPE.test(type)) {
      throw problem('unsupported_media_type', 'send the body as application/json');
    }
    try {
      value = JSON.parse(text);
    } catch {
      throw problem('invalid_request', 'the body is not valid JSON');
    }
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const errors = parsed.error.issues.map((i) => ({
      path: i.path.join('.') || '(body)',
      message: i.message,
    }));
    const first = errors[0]!;
    throw problem('invalid_request', `${first.path}: ${first.message}`, { extra: { errors } });
  }
  return parsed.data;
}
