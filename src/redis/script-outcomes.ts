import { Refusal, type RateLimitScope } from '../refusal.js';
import type { ScriptReply } from './run-script.js';
import { ScriptCode } from './script-codes.js';

/**
 * The one place that turns a script's refusal code (lua/, script-codes.ts) into the domain's
 * typed Refusal. `subject` names what a NOT_FOUND was about ("order", "payment").
 */
export function refusalOf(reply: ScriptReply, subject = 'resource'): Refusal {
  switch (reply[0]) {
    case ScriptCode.SALE_NOT_FOUND:
      return new Refusal({ code: 'sale_not_found' });
    case ScriptCode.SALE_NOT_OPEN:
      return new Refusal({ code: 'sale_not_open', opensAtMs: Number(reply[1]), nowMs: Number(reply[2]) });
    case ScriptCode.SALE_CLOSED:
      return new Refusal({ code: 'sale_closed' });
    case ScriptCode.SOLD_OUT:
      return new Refusal({ code: 'sold_out', available: Number(reply[1]) });
    case ScriptCode.LIMIT_EXCEEDED:
      return new Refusal({ code: 'limit_exceeded', units: Number(reply[1]), perUserLimit: Number(reply[2]) });
    case ScriptCode.IDEMPOTENCY_KEY_REUSED:
      return new Refusal({ code: 'idempotency_key_reused' });
    case ScriptCode.STOCK_CONFLICT:
      return new Refusal({ code: 'stock_conflict', committed: Number(reply[1]) });
    case ScriptCode.SALE_LOCKED:
      return new Refusal({ code: 'sale_locked' });
    case ScriptCode.INVALID_WINDOW:
      return new Refusal({ code: 'invalid_sale_window' });
    case ScriptCode.MISSING_FIELDS:
      return new Refusal({ code: 'missing_sale_fields' });
    case ScriptCode.NOT_FOUND:
      return new Refusal({ code: 'not_found', subject });
    case ScriptCode.TOKEN_INVALID:
      return new Refusal({ code: 'token_invalid' });
    case ScriptCode.PAYMENT_PENDING:
      return new Refusal({ code: 'payment_pending', paymentId: String(reply[1]) });
    case ScriptCode.ORDER_PAID:
      return new Refusal({ code: 'order_paid' });
    case ScriptCode.ORDER_CLOSED:
      return new Refusal({ code: 'order_closed' });
    case ScriptCode.VERSION_CONFLICT:
      return new Refusal({ code: 'version_conflict' });
    case ScriptCode.RATE_LIMITED:
      return new Refusal({ code: 'rate_limited', scope: reply[1] as RateLimitScope, resetMs: Number(reply[2]) });
    default:
      throw new Error(`unexpected script reply code ${String(reply[0])}`);
  }
}
