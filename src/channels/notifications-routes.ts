import { Hono } from 'hono';
import { bodyText } from '../http/body.js';
import { saleOfId } from '../ids.js';
import { problem } from '../http/problem.js';
import { keys } from '../redis/keys.js';
import type { RedisPort } from '../redis/port.js';
import { callScript } from '../redis/run-script.js';
import { ScriptCode } from '../redis/script-codes.js';
import { scripts } from '../redis/scripts.generated.js';
import { NotificationRefused, type ChannelNotification, type PaymentChannel } from './channel.js';
import { json } from '../http/respond.js';

/** Event ids are remembered this long (channels retry notifications for days). */
const EVENT_TTL_SECONDS = 7 * 86_400;

/**
 * POST /v1/channels/{channel}/notifications: a channel tells us a charge's outcome. The signature
 * (HMAC over the body, with a timestamp tolerance) is checked, each event id counts once, and the
 * payment is queued for a worker to confirm by query and post to the ledger.
 */
export function notificationsRoutes({
  channels,
  redis,
}: {
  channels: ReadonlyMap<string, PaymentChannel>;
  redis: RedisPort;
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
    const reply = await callScript(
      redis,
      scripts.noteChannelEvent,
      {
        event: keys.channelEvent(saleId, channel.name, notification.eventId),
        payment: keys.payment(saleId, notification.paymentId),
        unknown: keys.unknown(saleId),
      },
      { paymentId: notification.paymentId, rememberSeconds: EVENT_TTL_SECONDS },
    );
    if (reply[0] === ScriptCode.NOT_FOUND) throw problem('not_found', 'no such payment');
    return json(c, { received: true, duplicate: reply[0] === ScriptCode.REPLAYED });
  });
}
