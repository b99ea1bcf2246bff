import { Refusal } from '../refusal.js';

type Known = 'sold_out' | 'closed';
type Entry = { state: Known; sinceMs: number; checking: boolean };

/** Asks Redis whether a sale is (still) sold out or closed. */
export type SaleCheck = (saleId: string) => Promise<Known | null>;

/**
 * Fast refusal: sales this instance has just seen sold out or closed are refused from memory,
 * without a Redis round trip. What Redis said is trusted for `freshMs`; with a `check`, the gate
 * asks Redis again in the background once per `freshMs` (from 80% of it on, so the answer is
 * back before the memory is stale) and keeps refusing meanwhile. Stock that comes back (an
 * expired hold, a cancellation) is seen within about `freshMs`. The flood after a sell-out then
 * costs one read per second per instance instead of a round trip per buyer whenever the memory
 * runs out, and a buyer refused by a limit cannot keep the gate from learning. Without a check,
 * or when the check has not answered by twice `freshMs`, the next request asks Redis itself.
 * By default a check starts as soon as it is due (Node); with `deferChecks`, due checks wait for
 * the step `checkDue()` (checkSaleGate), which Workers run in a request's `waitUntil`.
 */
export class SaleGate {
  readonly #known = new Map<string, Entry>();
  /** Checks due and not started (deferChecks only). */
  readonly #due = new Map<string, Entry>();

  constructor(
    private readonly freshMs = 1000,
    private readonly now: () => number = Date.now,
    private readonly check?: SaleCheck,
    private readonly options: { deferChecks?: boolean } = {},
  ) {}

  /** How many checks wait for `checkDue()`. */
  get dueChecks(): number {
    return this.#due.size;
  }

  /** The step (checkSaleGate): runs the checks that are due; resolves when they have answered. */
  async checkDue(): Promise<void> {
    const due = [...this.#due];
    this.#due.clear();
    await Promise.all(due.map(([saleId, entry]) => this.#check(saleId, entry)));
  }

  /** The refusal to answer from memory, or null when Redis must be asked. */
  refusal(saleId: string): Refusal | null {
    const entry = this.#known.get(saleId);
    if (entry === undefined) return null;
    const ageMs = this.now() - entry.sinceMs;
    if (ageMs >= (this.check ? 2 : 1) * this.freshMs) {
      this.#known.delete(saleId);
      return null;
    }
    if (this.check && !entry.checking && ageMs >= 0.8 * this.freshMs) {
      entry.checking = true;
      if (this.options.deferChecks) this.#due.set(saleId, entry);
      else void this.#check(saleId, entry);
    }
    return entry.state === 'sold_out' ? soldOut() : saleClosed();
  }

  async #check(saleId: string, entry: Entry): Promise<void> {
    const askedMs = this.now();
    let state: Known | null;
    try {
      state = await this.check!(saleId);
    } catch {
      // Redis could not say: no second check (a failing Redis answers at once, and every
      // refusal would ask again); the entry runs out at twice the window and the next
      // request asks Redis itself
      return;
    }
    // newer news (an order, an admin change, a refusal) came meanwhile: it wins
    if (this.#known.get(saleId) !== entry) return;
    if (state === null) this.#known.delete(saleId);
    // dated from the question, not the answer: a slow answer is not trusted for longer
    else this.#known.set(saleId, { state, sinceMs: askedMs, checking: false });
  }

  /** Learns from a refusal Redis just gave: sold out (nothing left) or closed. */
  learnFrom(saleId: string, err: unknown): void {
    if (!(err instanceof Refusal)) return;
    const { refused } = err;
    if (refused.code === 'sale_closed') this.remember(saleId, 'closed');
    else if (refused.code === 'sold_out' && refused.available === 0) this.remember(saleId, 'sold_out');
  }

  /** Remember what Redis just said about the sale (or forget it when it is neither). */
  remember(saleId: string, state: Known | null): void {
    if (state === null) this.#known.delete(saleId);
    else this.#known.set(saleId, { state, sinceMs: this.now(), checking: false });
  }
}

// one of each, frozen: the same facts for every buyer, so their rendering is cached (problemOf)
const SOLD_OUT = new Refusal(Object.freeze({ code: 'sold_out', available: 0 }));
const CLOSED = new Refusal(Object.freeze({ code: 'sale_closed' }));
const soldOut = () => SOLD_OUT;
const saleClosed = () => CLOSED;
