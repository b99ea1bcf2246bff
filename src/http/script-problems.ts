import { ScriptCode } from '../redis/script-codes.js';
import type { ScriptReply } from '../redis/run-script.js';
import { saleClosed, soldOut } from '../sales/sale-gate.js';
import { problem, type ProblemError } from './problem.js';

const iso = (ms: unknown) => new Date(Number(ms)).toISOString();

/**
 * The one place that turns a script's refusal code into the API's problem. `subject` names what
 * a NOT_FOUND was about ("order", "payment").
 */
export function scriptProblem(reply: ScriptReply, subject = 'resource'): ProblemError {
  switch (reply[0]) {
    case ScriptCode.SALE_NOT_FOUND:
      return problem('sale_not_found', 'no such sale');
    case ScriptCode.SALE_NOT_OPEN:
      return problem('sale_not_open', `the sale opens at ${iso(reply[1])}`, {
        extra: { opensAt: iso(reply[1]) },
        retryAfterSeconds: (Number(reply[1]) - Number(reply[2])) / 1000,
      });
    case ScriptCode.SALE_CLOSED:
      return saleClosed();
    case ScriptCode.SOLD_OUT:
      return soldOut(Number(reply[1]));
    case ScriptCode.LIMIT_EXCEEDED:
      return problem(
        'limit_exceeded',
        `you already have ${reply[1]} of at most ${reply[2]} units in this sale`,
        { extra: { perUserLimit: Number(reply[2]) } },
      );
    case ScriptCode.IDEMPOTENCY_KEY_REUSED:
      return problem('idempotency_key_reused', 'this key was used with another request body');
    case ScriptCode.STOCK_CONFLICT:
      return problem('stock_conflict', `stock cannot go below sold + held (${reply[1]})`, {
        extra: { committed: Number(reply[1]) },
      });
    case ScriptCode.SALE_LOCKED:
      return problem('sale_locked', 'price and currency are fixed once the sale has an order');
    case ScriptCode.INVALID_WINDOW:
      return problem('invalid_request', 'closesAt must be after opensAt');
    case ScriptCode.MISSING_FIELDS:
      return problem('invalid_request', 'a new sale needs stock, price and currency');
    case ScriptCode.NOT_FOUND:
      return problem('not_found', `no such ${subject}`);
    case ScriptCode.TOKEN_INVALID:
      return problem('token_invalid', 'the payment token is unknown, used, expired or superseded');
    case ScriptCode.PAYMENT_PENDING:
      return problem('payment_pending', 'another payment for this order is pending', {
        extra: { paymentId: reply[1] },
        retryAfterSeconds: 2,
      });
    case ScriptCode.ORDER_PAID:
      return problem('order_paid', 'the order is already paid');
    case ScriptCode.ORDER_CLOSED:
      return problem('order_closed', 'the order has expired or was cancelled');
    default:
      throw new Error(`unexpected script reply code ${String(reply[0])}`);
  }
}
