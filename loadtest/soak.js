// k6 run -e DURATION=30m loadtest/soak.js — a steady rate for a long time; watches p99 and the
// gateway's memory drift (resident set from /metrics, first vs last minute).
import { check, fail } from 'k6';
import http from 'k6/http';
import { arrive, BASE_URL, buyerCall, createSale } from './lib/k6.js';

const RATE = Number(__ENV.RATE || 200);
const DURATION = __ENV.DURATION || '10m';
const MAX_DRIFT = Number(__ENV.MAX_MEMORY_DRIFT || 0.5); // +50% resident memory fails the run

export const options = {
  scenarios: {
    steady: { executor: 'constant-arrival-rate', rate: RATE, timeUnit: '1s', duration: DURATION, preAllocatedVUs: 100, maxVUs: 500 },
  },
  thresholds: {
    'http_req_duration{name:order}': ['p(99)<500'],
    'http_req_duration{name:pay}': ['p(99)<500'],
    'http_req_failed{name:order}': ['rate<0.01'],
  },
};

function residentBytes() {
  const text = http.get(`${BASE_URL}/metrics`, { tags: { name: 'metrics' } }).body;
  const match = /^rushgate_process_resident_memory_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(text);
  return match ? Number(match[1]) : NaN;
}

export function setup() {
  // stock for every arrival: a soak measures the steady state, not a sell-out
  return { saleId: createSale('k6-soak', { stock: 100000000 }), memoryAtStart: residentBytes() };
}

export default function ({ saleId }) {
  const { jwt, order } = arrive(saleId, 100);
  if (!check(order, { 'order held': (r) => r.status === 201 })) return;
  const { orderId, paymentToken } = order.json();
  check(buyerCall('POST', `/v1/orders/${orderId}/payments`, jwt, { paymentToken, method: 'wallet' }, 'pay'), { 'payment queued': (r) => r.status === 202 });
}

export function teardown({ memoryAtStart }) {
  const memoryAtEnd = residentBytes();
  const drift = (memoryAtEnd - memoryAtStart) / memoryAtStart;
  console.log(`gateway resident memory: ${Math.round(memoryAtStart / 2 ** 20)} MiB -> ${Math.round(memoryAtEnd / 2 ** 20)} MiB (${(100 * drift).toFixed(1)}%)`);
  if (drift > MAX_DRIFT) fail(`memory grew ${(100 * drift).toFixed(1)}% (limit ${100 * MAX_DRIFT}%)`);
}
