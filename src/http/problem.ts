/**
 * Errors as RFC 9457 problem details. Every refusal in rushgate is a ProblemError carrying the
 * stable `code` of API.md; the app's one error handler renders it.
 */
import { stampedResponse } from './respond.js';

const catalog = {
  invalid_request: [400, 'Invalid request'],
  unauthenticated: [401, 'Unauthenticated'],
  token_invalid: [403, 'Payment token invalid'],
  blocked: [403, 'Blocked'],
  cross_site: [403, 'Cross-site request refused'],
  not_found: [404, 'Not found'],
  not_served_here: [501, 'Not served here'],
  sale_not_found: [404, 'Sale not found'],
  method_not_allowed: [405, 'Method not allowed'],
  sale_not_open: [409, 'Sale not open yet'],
  sale_closed: [409, 'Sale closed'],
  sold_out: [409, 'Sold out'],
  limit_exceeded: [409, 'Per-buyer limit exceeded'],
  stock_conflict: [409, 'Stock below committed units'],
  sale_locked: [409, 'Sale price is locked'],
  request_in_progress: [409, 'Request in progress'],
  payment_pending: [409, 'Payment pending'],
  order_paid: [409, 'Order already paid'],
  order_closed: [409, 'Order closed'],
  payload_too_large: [413, 'Payload too large'],
  unsupported_media_type: [415, 'Unsupported media type'],
  idempotency_key_reused: [422, 'Idempotency key reused'],
  rate_limited: [429, 'Too many requests'],
  internal_error: [500, 'Internal error'],
  unavailable: [503, 'Service unavailable'],
  overloaded: [503, 'Overloaded'],
} as const satisfies Record<string, readonly [number, string]>;

export type ProblemCode = keyof typeof catalog;

export interface ProblemOptions {
  /** Extension members added to the body (e.g. `paymentId`, `errors`). */
  extra?: Record<string, unknown>;
  /** Retry-After in seconds; whole, at least 1. */
  retryAfterSeconds?: number;
  /** More response headers (e.g. RateLimit-Policy). */
  headers?: Record<string, string>;
}

/** A refusal with its API.md code; thrown anywhere, rendered by the app's error handler. */
export class ProblemError extends Error {
  declare readonly code: ProblemCode;
  declare readonly detail: string;
  declare readonly options: ProblemOptions;
  declare readonly status: number;
  declare readonly title: string;

  constructor(code: ProblemCode, detail: string, options: ProblemOptions = {}) {
    // a refusal is an answer, not a fault: capturing its stack would be most of its cost under
    // load (a 429 storm), and nobody reads it
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(`${code}: ${detail}`);
    Error.stackTraceLimit = limit;
    this.name = 'ProblemError';
    this.code = code;
    this.detail = detail;
    this.options = options;
    [this.status, this.title] = catalog[code];
  }

  /** The last body rendered, by instance: a shared problem (sold out) answers one path over and over. */
  #rendered: { instance: string; body: string } | undefined;

  /**
   * The problem+json response; `instance` is the request path. `perResponse` adds what differs
   * from one answer of a shared problem to the next (a rate limit's reset).
   */
  toResponse(
    instance: string,
    requestId: string | undefined,
    perResponse?: Pick<ProblemOptions, 'retryAfterSeconds' | 'headers'>,
  ): Response {
    const headers: Record<string, string> = {
      'Content-Type': 'application/problem+json; charset=utf-8',
      ...this.options.headers,
      ...perResponse?.headers,
    };
    if (requestId !== undefined) headers['X-Request-Id'] = requestId;
    const retryAfterSeconds = perResponse?.retryAfterSeconds ?? this.options.retryAfterSeconds;
    if (retryAfterSeconds !== undefined) {
      headers['Retry-After'] = String(Math.max(1, Math.ceil(retryAfterSeconds)));
    }
    let rendered = this.#rendered;
    if (rendered?.instance !== instance) this.#rendered = rendered = { instance, body: this.#body(instance) };
    return stampedResponse(rendered.body, this.status, headers);
  }

  #body(instance: string): string {
    const body = {
      type: `urn:rushgate:problem:${this.code}`,
      title: this.title,
      status: this.status,
      code: this.code,
      detail: this.detail,
      instance,
      ...this.options.extra,
    };
    return JSON.stringify(body);
  }
}

/** Shorthand for throwing a problem. */
export function problem(code: ProblemCode, detail: string, options?: ProblemOptions): ProblemError {
  return new ProblemError(code, detail, options);
}
