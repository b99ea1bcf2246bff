/**
 * RESP2, the Redis wire protocol: commands out as arrays of bulk strings, replies in as simple
 * strings, errors, integers, bulk strings and arrays. Web-standard only (Uint8Array,
 * TextEncoder), so it runs in workerd and Node alike.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CR = 13;
const LF = 10;

/** A reply error from Redis (`-NOSCRIPT …`, `-READONLY …`): its message starts with the code. */
export class RespError extends Error {
  override name = 'RespError';
}

/** One command as RESP: `*<n>\r\n` then `$<len>\r\n<bytes>\r\n` for each argument. */
export function encodeCommand(args: readonly (string | number)[]): Uint8Array {
  const parts = args.map((arg) => encoder.encode(String(arg)));
  const head = (n: number, prefix: string) => encoder.encode(`${prefix}${n}\r\n`);
  const chunks: Uint8Array[] = [head(parts.length, '*')];
  for (const part of parts) chunks.push(head(part.length, '$'), part, encoder.encode('\r\n'));
  let size = 0;
  for (const chunk of chunks) size += chunk.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** A decoded reply: a string, a number, null, a RespError, or an array of these. */
export type Reply = string | number | null | RespError | Reply[];

const INCOMPLETE = Symbol('incomplete');

/**
 * Turns the bytes read from a connection into replies, however the bytes were split: `push`
 * what arrived, then take every complete reply with `next()` until it returns INCOMPLETE.
 */
export class RespReader {
  #buffer = new Uint8Array(0);
  #at = 0;

  push(chunk: Uint8Array): void {
    const rest = this.#buffer.subarray(this.#at);
    const joined = new Uint8Array(rest.length + chunk.length);
    joined.set(rest, 0);
    joined.set(chunk, rest.length);
    this.#buffer = joined;
    this.#at = 0;
  }

  /** The next complete reply, or `RespReader.INCOMPLETE` when more bytes are needed. */
  next(): Reply | typeof INCOMPLETE {
    const start = this.#at;
    const reply = this.#parse();
    if (reply === INCOMPLETE) this.#at = start;
    return reply;
  }

  static readonly INCOMPLETE: typeof INCOMPLETE = INCOMPLETE;

  #line(): string | typeof INCOMPLETE {
    const buf = this.#buffer;
    for (let i = this.#at; i + 1 < buf.length; i++) {
      if (buf[i] === CR && buf[i + 1] === LF) {
        const line = decoder.decode(buf.subarray(this.#at, i));
        this.#at = i + 2;
        return line;
      }
    }
    return INCOMPLETE;
  }

  #parse(): Reply | typeof INCOMPLETE {
    if (this.#at >= this.#buffer.length) return INCOMPLETE;
    const type = this.#buffer[this.#at]!;
    this.#at++;
    const line = this.#line();
    if (line === INCOMPLETE) return INCOMPLETE;
    switch (type) {
      case 0x2b: // +
        return line;
      case 0x2d: // -
        return new RespError(line);
      case 0x3a: // :
        return Number(line);
      case 0x24: {
        // $
        const length = Number(line);
        if (length < 0) return null;
        if (this.#at + length + 2 > this.#buffer.length) return INCOMPLETE;
        const value = decoder.decode(this.#buffer.subarray(this.#at, this.#at + length));
        this.#at += length + 2;
        return value;
      }
      case 0x2a: {
        // *
        const count = Number(line);
        if (count < 0) return null;
        const items: Reply[] = [];
        for (let i = 0; i < count; i++) {
          const item = this.#parse();
          if (item === INCOMPLETE) return INCOMPLETE;
          items.push(item);
        }
        return items;
      }
      default:
        throw new RespError(`ERR protocol: unexpected reply type ${String.fromCharCode(type)}`);
    }
  }
}
