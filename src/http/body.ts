import type { Context } from 'hono';
import type { z } from 'zod';
import { problem } from './problem.js';

const JSON_TYPE = /^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i;

/**
 * Reads and validates a JSON body. A body with another content type is 415; malformed JSON or a
 * body the schema refuses is 400 with the schema's messages in `errors`. An absent body is
 * validated as `{}` so schemas with only optional fields accept it.
 */
export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  const text = await c.req.text();
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
