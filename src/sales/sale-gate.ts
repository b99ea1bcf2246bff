import { problem, ProblemError } from '../http/problem.js';

type Known = 'sold_out' | 'closed';

/**
 * Fast refusal: sales this instance has just seen sold out or closed are refused from memory,
 * without a Redis round trip, for at most `freshMs` after Redis said so; the next request after
 * that asks Redis again (stock can come back when holds expire or orders are cancelled).
 */
export class SaleGate {
  readonly #known = new Map<string, { state: Known; untilMs: number }>();

  constructor(
    private readonly freshMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The refusal to answer from memory, or null when Redis must be asked. */
  refusal(saleId: string): ProblemError | null {
    const entry = this.#known.get(saleId);
    if (entry === undefined) return null;
    if (this.now() >= entry.untilMs) {
      this.#known.delete(saleId);
      return null;
    }
    return entry.state === 'sold_out' ? soldOut(0) : saleClosed();
  }

  /** Learns from a refusal Redis just gave: sold out (nothing left) or closed. */
  learnFrom(saleId: string, err: unknown): void {
    if (!(err instanceof ProblemError)) return;
    if (err.code === 'sale_closed') this.remember(saleId, 'closed');
    else if (err.code === 'sold_out' && err.options.extra?.available === 0) this.remember(saleId, 'sold_out');
  }

  /** Remember what Redis just said about the sale (or forget it when it is neither). */
  remember(saleId: string, state: Known | null): void {
    if (state === null) this.#known.delete(saleId);
    else this.#known.set(saleId, { state, untilMs: this.now() + this.freshMs });
  }
}

export const soldOut = (available: number) =>
  problem('sold_out', available > 0 ? `only ${available} left` : 'no units left', {
    extra: { available },
  });

export const saleClosed = () => problem('sale_closed', 'the sale has closed');
