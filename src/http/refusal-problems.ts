import type { Context } from 'hono';
import type { RateLimitPolicy, Refused } from '../refusal.js';
import { problem, type ProblemError } from './problem.js';
import { requestIdOf } from './respond.js';

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The one place that renders a domain refusal as the API's problem: status, wording, extension
 * members and Retry-After. What is the same for everyone it refuses is rendered once: the sale
 * gate's frozen sold out / closed, and a rate limit's policy (only its reset differs, written per
 * answer by `perAnswer`).
 */
function problemOf(refused: Refused): ProblemError {
  if (refused.code === 'rate_limited' && refused.policy) return rateLimitProblem(refused.policy);
  if (!Object.isFrozen(refused)) return render(refused);
  let rendered = renderedOnce.get(refused);
  if (rendered === undefined) renderedOnce.set(refused, (rendered = render(refused)));
  return rendered;
}

const renderedOnce = new WeakMap<Refused, ProblemError>();

/** What differs from one answer of a shared problem to the next: a rate limit's reset. */
function perAnswer(refused: Refused) {
  if (refused.code !== 'rate_limited' || !refused.policy) return undefined;
  const { name, retryAfterSeconds } = refused.policy;
  const resetSeconds = Math.max(0, Math.ceil(refused.resetMs / 1000));
  return { retryAfterSeconds, headers: { RateLimit: `"${name}";r=0;t=${resetSeconds}` } };
}

/**
 * The response refusing this request, with the problem left on `c.error` (what the metrics read
 * as the decision's reason). Routes answer the refusals that come in storms (a sold-out sale, a
 * buyer over its window or blocked) with it rather than by a throw: an exception costs V8 a stack
 * walk for its message and an unwinding, several times what rendering the answer costs.
 */
export function refusalResponse(c: Context, refused: Refused): Response {
  const rendered = problemOf(refused);
  c.error = rendered;
  return rendered.toResponse(c.req.path, requestIdOf(c), perAnswer(refused));
}

/** A policy's 429, rendered once per policy (name, limit and window; a handful at any time). */
const policyProblems = new Map<string, ProblemError>();

function rateLimitProblem({ name, limit, windowSeconds }: RateLimitPolicy): ProblemError {
  const key = `${name}\n${limit}\n${windowSeconds}`;
  let rendered = policyProblems.get(key);
  if (rendered === undefined) {
    if (policyProblems.size >= 64) policyProblems.clear(); // limits changed many times: start over
    rendered = problem('rate_limited', `over the "${name}" limit of ${limit} per ${windowSeconds} s`, {
      extra: { policy: name },
      // the IETF draft RateLimit-Policy / RateLimit headers name the window that refused
      headers: { 'RateLimit-Policy': `"${name}";q=${limit};w=${windowSeconds}` },
    });
    policyProblems.set(key, rendered);
  }
  return rendered;
}

function render(refused: Refused): ProblemError {
  switch (refused.code) {
    case 'sale_not_found':
      return problem('sale_not_found', 'no such sale');
    case 'sale_not_open':
      return problem('sale_not_open', `the sale opens at ${iso(refused.opensAtMs)}`, {
        extra: { opensAt: iso(refused.opensAtMs) },
        retryAfterSeconds: (refused.opensAtMs - refused.nowMs) / 1000,
      });
    case 'sale_closed':
      return problem('sale_closed', 'the sale has closed');
    case 'sold_out':
      return problem('sold_out', refused.available > 0 ? `only ${refused.available} left` : 'no units left', {
        extra: { available: refused.available },
      });
    case 'limit_exceeded':
      return problem(
        'limit_exceeded',
        `you already have ${refused.units} of at most ${refused.perUserLimit} units in this sale`,
        {
          extra: { perUserLimit: refused.perUserLimit },
        },
      );
    case 'idempotency_key_reused':
      return problem('idempotency_key_reused', 'this key was used with another request body');
    case 'stock_conflict':
      return problem('stock_conflict', `stock cannot go below sold + held (${refused.committed})`, {
        extra: { committed: refused.committed },
      });
    case 'sale_locked':
      return problem('sale_locked', 'price and currency are fixed once the sale has an order');
    case 'invalid_sale_window':
      return problem('invalid_request', 'closesAt must be after opensAt');
    case 'missing_sale_fields':
      return problem('invalid_request', 'a new sale needs stock, price and currency');
    case 'not_found':
      return problem('not_found', `no such ${refused.subject}`);
    case 'token_invalid':
      return problem('token_invalid', 'the payment token is unknown, used, expired or superseded');
    case 'payment_pending':
      return problem('payment_pending', 'another payment for this order is pending', {
        extra: { paymentId: refused.paymentId },
        retryAfterSeconds: 2,
      });
    case 'order_paid':
      return problem('order_paid', 'the order is already paid');
    case 'order_closed':
      return problem('order_closed', 'the order has expired or was cancelled');
    case 'version_conflict':
      return problem(
        'request_in_progress',
        'another change to the limits landed at the same time; read them and try again',
        {
          retryAfterSeconds: 1,
        },
      );
    case 'blocked':
      return problem('blocked', `blocked until ${iso(refused.untilMs)}`, { extra: { until: iso(refused.untilMs) } });
    case 'request_in_progress':
      return problem('request_in_progress', 'a request with this Idempotency-Key is still running', {
        retryAfterSeconds: 1,
      });
    case 'rate_limited':
      // with a policy, problemOf renders it (once per policy)
      return problem('rate_limited', `over the "${refused.scope}" limit`, {
        retryAfterSeconds: refused.resetMs / 1000,
      });
  }
}
