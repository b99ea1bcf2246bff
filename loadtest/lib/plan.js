// How many buyers a script's scenario brings, so setup() can fund them all before the timed part
// (plain JS: k6 and Node).

const SECONDS = { ms: 0.001, s: 1, m: 60, h: 3600 };

/** Seconds in a k6 duration ('500ms', '20s', '1m30s', '2h'); throws on anything else. */
export function durationSeconds(text) {
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let seconds = 0;
  let read = 0;
  for (let m = part.exec(text); m !== null; m = part.exec(text)) {
    if (m.index !== read) break;
    seconds += Number(m[1]) * SECONDS[m[2]];
    read = part.lastIndex;
  }
  if (read === 0 || read !== String(text).length) throw new Error(`not a k6 duration: "${text}"`);
  return seconds;
}

/**
 * Iterations a ramping-arrival-rate scenario (timeUnit 1s) starts: the area under its rate, which
 * moves linearly from one stage's target to the next.
 */
export function rampingArrivals(startRate, stages) {
  let rate = startRate;
  let total = 0;
  for (const stage of stages) {
    total += ((rate + stage.target) / 2) * durationSeconds(stage.duration);
    rate = stage.target;
  }
  return total;
}

/** Buyers to fund for `arrivals` expected ones: a margin for k6's rounding, never fewer. */
export const buyersToFund = (arrivals) => Math.ceil(arrivals * 1.02) + 10;

/** Buyer `index` of a sale; every script names its buyers this way, in setup() and in the VUs. */
export const buyerId = (saleId, index) => `${saleId}-b${index}`;
