import type { HmacSha256 } from '../hmac.js';
import {
  signNotification,
  verifyNotification,
  NotificationRefused,
  type ChannelNotification,
  type ChargeRequest,
  type ChargeResult,
  type PaymentChannel,
} from './channel.js';

/**
 * How the simulator behaves. Rates are probabilities in [0, 1].
 * - declineRate: the charge is refused (`card_declined`).
 * - timeoutRate: the charge hangs past `timeoutMs`; we get no answer (`unknown`). It then stays
 *   pending, or with `paidLaterRate` the buyer completes it later (a success arrives late).
 * - lostNotificationRate / duplicateNotifications / outOfOrder: what happens to notifications.
 */
export interface SimulatorSettings {
  latencyMs: number;
  timeoutMs: number;
  declineRate: number;
  timeoutRate: number;
  paidLaterRate: number;
  paidLaterAfterMs: number;
  lostNotificationRate: number;
  duplicateNotifications: boolean;
  outOfOrder: boolean;
}

export const DEFAULT_SIMULATOR: SimulatorSettings = {
  latencyMs: 20,
  timeoutMs: 2000,
  declineRate: 0,
  timeoutRate: 0,
  paidLaterRate: 0,
  paidLaterAfterMs: 1000,
  lostNotificationRate: 0,
  duplicateNotifications: false,
  outOfOrder: false,
};

/** Sends a signed notification to the gateway (HTTP on Node; app.request in tests). */
export type Notify = (channel: string, body: string, signature: string) => Promise<void>;

type Scripted = 'succeed' | 'decline' | 'hang' | 'hang-then-pay';

/**
 * A payment channel SIMULATOR for tests and the demo — it moves no real money. Charges are
 * idempotent by payment id; outcomes follow the settings, or a script of outcomes for the next
 * charges (`script`); the buyer "paying later" is `completeLater`.
 */
export class SimulatedChannel implements PaymentChannel {
  readonly #charges = new Map<string, ChargeResult>();
  readonly #script: Scripted[] = [];
  #events = 0;

  constructor(
    readonly name: string,
    private readonly mac: HmacSha256,
    private readonly notify: Notify,
    public settings: SimulatorSettings = DEFAULT_SIMULATOR,
    private readonly random: () => number = Math.random,
  ) {}

  /** Forgets scripted outcomes not used yet. */
  clearScript(): void {
    this.#script.length = 0;
  }

  /** Outcomes for the next charges, in order, overriding the rates. */
  script(...outcomes: Scripted[]): void {
    this.#script.push(...outcomes);
  }

  async charge(request: ChargeRequest): Promise<ChargeResult> {
    const known = this.#charges.get(request.paymentId);
    if (known) return known.status === 'unknown' ? this.#hang() : known;
    const outcome = this.#script.shift() ?? this.#draw();
    await sleep(this.settings.latencyMs);
    if (outcome === 'decline') return this.#settle(request.paymentId, { status: 'failed', code: 'card_declined' });
    if (outcome === 'succeed') return this.#settle(request.paymentId, { status: 'succeeded' });
    this.#charges.set(request.paymentId, { status: 'unknown' });
    if (outcome === 'hang-then-pay') {
      (
        setTimeout(() => void this.completeLater(request.paymentId, 'succeeded'), this.settings.paidLaterAfterMs) as {
          unref?: () => void;
        }
      ).unref?.();
    }
    return this.#hang();
  }

  async query(paymentId: string): Promise<ChargeResult> {
    await sleep(this.settings.latencyMs);
    return this.#charges.get(paymentId) ?? { status: 'failed', code: 'no_such_charge' };
  }

  /** The buyer finishes (or abandons) a pending charge at the channel, later. */
  async completeLater(paymentId: string, status: 'succeeded' | 'failed'): Promise<void> {
    await this.#settle(paymentId, status === 'succeeded' ? { status } : { status, code: 'abandoned' });
  }

  /** A pending charge that has stayed unanswered is given up by the buyer: query says failed. */
  abandon(paymentId: string): void {
    if (this.#charges.get(paymentId)?.status === 'unknown')
      this.#charges.set(paymentId, { status: 'failed', code: 'abandoned' });
  }

  async verify(body: string, header: string | undefined, nowMs: number): Promise<ChannelNotification> {
    const parsed = (await verifyNotification(this.mac, body, header, nowMs)) as Partial<ChannelNotification> | null;
    if (
      typeof parsed !== 'object' ||
      parsed === null ||
      typeof parsed.eventId !== 'string' ||
      typeof parsed.paymentId !== 'string' ||
      (parsed.status !== 'succeeded' && parsed.status !== 'failed')
    ) {
      throw new NotificationRefused('malformed notification');
    }
    return { eventId: parsed.eventId, paymentId: parsed.paymentId, status: parsed.status };
  }

  #draw(): Scripted {
    const r = this.random();
    const { declineRate, timeoutRate, paidLaterRate } = this.settings;
    if (r < declineRate) return 'decline';
    if (r < declineRate + timeoutRate) return this.random() < paidLaterRate ? 'hang-then-pay' : 'hang';
    return 'succeed';
  }

  async #hang(): Promise<ChargeResult> {
    await sleep(this.settings.timeoutMs);
    return { status: 'unknown' };
  }

  async #settle(paymentId: string, result: ChargeResult): Promise<ChargeResult> {
    this.#charges.set(paymentId, result);
    if (result.status === 'unknown') return result;
    const body = JSON.stringify({ eventId: `${this.name}-evt-${++this.#events}`, paymentId, status: result.status });
    const send = async () => {
      if (this.random() < this.settings.lostNotificationRate) return;
      const signature = await signNotification(this.mac, body, Date.now());
      await this.notify(this.name, body, signature).catch(() => {});
      if (this.settings.duplicateNotifications) await this.notify(this.name, body, signature).catch(() => {});
    };
    if (this.settings.outOfOrder)
      (setTimeout(() => void send(), 50 + this.random() * 200) as { unref?: () => void }).unref?.();
    else void send();
    return result;
  }
}

const sleep = (ms: number) => (ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve());
