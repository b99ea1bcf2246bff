import { constantTimeEqual, type HmacSha256 } from '../hmac.js';

/** A charge asked of a channel; our payment id is its idempotency key there. */
export interface ChargeRequest {
  paymentId: string;
  orderId: string;
  userId: string;
  amount: number;
  currency: string;
}

/** What a channel says of a charge. `unknown`: no answer yet (a timeout, a pending charge). */
export type ChargeResult = { status: 'succeeded' } | { status: 'failed'; code: string } | { status: 'unknown' };

/** A verified notification from a channel. */
export interface ChannelNotification {
  eventId: string;
  paymentId: string;
  status: 'succeeded' | 'failed';
}

/**
 * A payment channel adapter. `charge` and `query` are keyed by our payment id, so asking again
 * (after a crash, a timeout) never charges twice at the channel; `verify` checks and parses a
 * notification the channel posted to us.
 */
export interface PaymentChannel {
  readonly name: string;
  charge(request: ChargeRequest): Promise<ChargeResult>;
  query(paymentId: string): Promise<ChargeResult>;
  verify(body: string, signatureHeader: string | undefined, nowMs: number): Promise<ChannelNotification>;
}

/** Notifications older or newer than this are refused (replays, clock games). */
export const NOTIFICATION_TOLERANCE_MS = 5 * 60_000;

export class NotificationRefused extends Error {
  override name = 'NotificationRefused';
}

/** `Rushgate-Signature: t=<unix seconds>,v1=<HMAC-SHA256 of "<t>.<body>", base64url>` */
export async function signNotification(mac: HmacSha256, body: string, nowMs: number): Promise<string> {
  const t = Math.floor(nowMs / 1000);
  return `t=${t},v1=${await mac(`${t}.${body}`)}`;
}

/** Checks a notification's signature and age; returns its parsed body. */
export async function verifyNotification(
  mac: HmacSha256,
  body: string,
  header: string | undefined,
  nowMs: number,
): Promise<unknown> {
  const match = header === undefined ? null : /^t=(\d{1,12}),v1=([A-Za-z0-9_-]{43})$/.exec(header);
  if (!match) throw new NotificationRefused('missing or malformed signature');
  const t = Number(match[1]);
  if (Math.abs(nowMs - t * 1000) > NOTIFICATION_TOLERANCE_MS)
    throw new NotificationRefused('timestamp outside tolerance');
  if (!constantTimeEqual(await mac(`${t}.${body}`), match[2]!)) throw new NotificationRefused('bad signature');
  return JSON.parse(body);
}
