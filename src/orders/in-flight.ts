import { Refusal } from '../refusal.js';

/**
 * Requests with an Idempotency-Key that this instance is still running. The order script itself
 * is atomic, so a duplicate that reaches Redis after the first is answered with its replay; a
 * duplicate that arrives while the first is still in flight here is told 409 request_in_progress
 * instead of racing it.
 */
export class InFlight {
  readonly #running = new Set<string>();

  /** Claims the key or throws 409; call the returned function when the request ends. */
  claim(scope: string, key: string): () => void {
    const id = `${scope}\n${key}`;
    if (this.#running.has(id)) {
      throw new Refusal({ code: 'request_in_progress' });
    }
    this.#running.add(id);
    return () => this.#running.delete(id);
  }
}
