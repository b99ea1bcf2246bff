/**
 * Background work as steps: each periodic job of the core (refresh the limits, flush the tally,
 * re-check the sale gate, sweep expired holds) is an async function that does one round and
 * returns. Who calls it is the runtime's business: Node repeats it on a timer (`repeat` below);
 * Workers call it from a request, `ctx.waitUntil` or a cron trigger, because timers do not fire
 * between requests there and a promise kept from one request hangs the next one that awaits it.
 * So no step keeps a promise of its own across calls: concurrent calls each do their own round.
 */

/** A step repeated on a timer; `stop()` clears it and waits for the round in progress. */
export interface Repeating {
  stop(): Promise<void>;
}

/**
 * Runs `step` every `intervalMs`, never two rounds at once (a slow round skips ticks). A failed
 * round calls `onError`; the next tick tries again. The timer does not keep a process alive.
 */
export function repeat(
  intervalMs: number,
  step: () => Promise<unknown>,
  onError: (err: unknown) => void = () => {},
): Repeating {
  let running: Promise<void> | undefined;
  const tick = () => {
    running ??= step()
      .then(
        () => {},
        (err: unknown) => onError(err),
      )
      .finally(() => (running = undefined));
  };
  const timer = setInterval(tick, intervalMs);
  (timer as { unref?: () => void }).unref?.();
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
