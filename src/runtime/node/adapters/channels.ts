import type { PaymentChannel } from '../../../channels/channel.js';
import { SimulatedChannel } from '../../../channels/simulated-channel.js';
import { nodeHmacSha256 } from './crypto.js';

/**
 * The configured payment channels. The simulator is the only adapter so far: every name in
 * RUSHGATE_CHANNELS is a SIMULATED channel (no real money), which posts its signed
 * notifications to `notifyUrl` (the gateway).
 */
export function simulatedChannels(
  names: readonly string[],
  secret: string,
  notifyUrl: string,
): ReadonlyMap<string, PaymentChannel> {
  const mac = nodeHmacSha256(secret);
  const notify = async (channel: string, body: string, signature: string) => {
    await fetch(`${notifyUrl}/v1/channels/${channel}/notifications`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Rushgate-Signature': signature },
      body,
    });
  };
  return new Map(names.map((name) => [name, new SimulatedChannel(name, mac, notify)]));
}
