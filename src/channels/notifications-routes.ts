import { Hono } from 'hono';
import { bodyText } from '../http/body.js';
import { saleOfId } from '../ids.js';
import { problem } from '../http/problem.js';
import type { UnknownPayments } from '../payments/unknown-payments.js';
import { NotificationRefused, type ChannelNotification, type PaymentChannel } from './channel.js';
import { json } from '../http/respond.js';

/**
 * POST /v1/channels/{channel}/notifications: a channel tells us a charge's outcome. The signature
 * (HMAC over the body, with a timestamp tolerance) is checked, each event id counts once, and the
 * payment is queued for a worker to confirm by query and post to the ledger.
 */
export function notificationsRoutes({
  channels,
  unknown,
}: {
  channels: ReadonlyMap<string, PaymentChannel>;
  /** Where a notified payment is queued for its query. */
  unknown: UnknownPayments;
}) {
  return new Hono().post('/:channel/notifications', async (c) => {
    const channel = channels.get(c.req.param('channel'));
    if (!channel) throw problem('not_found', 'no such payment channel');
    const body = await bodyText(c);
    let notification: ChannelNotification;
    try {
      notification = await channel.verify(body, c.req.header('Rushgate-Signature'), Date.now());
    } catch (err) {
      if (err instanceof NotificationRefused) throw problem('unauthenticated', `notification refused: ${err.message}`);
      if (err instanceof SyntaxError) throw problem('invalid_request', 'the body is not valid JSON');
      throw err;
    }
    const saleId = saleOfId('pay', notification.paymentId);
    if (saleId === null) throw problem('not_found', 'no such payment');
    const noted = await unknown.noteChannelEvent(saleId, channel.name, notification.eventId, notification.paymentId);
    if (noted === 'no_such_payment') throw problem('not_found', 'no such payment');
    return json(c, { received: true, duplicate: noted === 'duplicate' });
  });
}
