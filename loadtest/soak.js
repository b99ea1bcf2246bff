// k6 run -e DURATION=30m loadtest/soak.js — a steady rate for a long time: buyers order and pay
// (wallets funded in setup) while a second scenario samples the gateway's resident memory from
// /metrics. Fails (exit 99) on slow or failed requests, an arrival rate not delivered, memory in
// the last minute above the first minute's by more than MAX_MEMORY_DRIFT, too few seats paid, or
// a sale oversold or charged twice.
import { check, sleep } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter, Trend } from 'k6/metrics';
import { BASE_URL, buyerCall, buyerJwt, createSale, fundBuyers, judgeSale } from './lib/k6.js';
import { buyerId, buyersToFund, durationSeconds } from './lib/plan.js';
import { summaryOutputs, TREND_STATS } from './lib/summary.js';

const RATE = Number(__ENV.RATE || 200);
const DURATION = __ENV.DURATION || '10m';
const PRICE = Number(__ENV.PRICE || 100);
const MAX_DRIFT = Number(__ENV.MAX_MEMORY_DRIFT || 0.5); // +50% resident memory fails the run
const MIN_PAID_SHARE = Number(__ENV.MIN_PAID_SHARE || 0.95);
const MAX_DROPPED_SHARE = Number(__ENV.MAX_DROPPED_SHARE || 0.01);

const SECONDS = durationSeconds(DURATION);
const ARRIVALS = RATE * SECONDS;
// the first and the last minute, or a quarter of a shorter run each
const WINDOW_SECONDS = Math.min(60, SECONDS / 4);
const SAMPLE_SECONDS = Math.min(5, WINDOW_SECONDS / 4);

const paid = new Counter('rushgate_payments_succeeded');
const drift = new Trend('rushgate_memory_drift');

const HELD = http.expectedStatuses(201);
const QUEUED = http.expectedStatuses(202);

export const options = {
  scenarios: {
    steady: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: Number(__ENV.VUS || 100),
      maxVUs: Number(__ENV.MAX_VUS || 500),
    },
    memory: { executor: 'constant-vus', vus: 1, duration: DURATION, exec: 'sampleMemory' },
  },
  setupTimeout: __ENV.SETUP_TIMEOUT || '10m',
  summaryTrendStats: TREND_STATS,
  thresholds: {
    'http_req_failed{name:order}': ['rate<0.01'],
    'http_req_failed{name:pay}': ['rate<0.01'],
    'http_req_failed{name:metrics}': ['rate<0.01'],
    'http_req_duration{name:order}': ['p(99)<500'],
    'http_req_duration{name:pay}': ['p(99)<500'],
    checks: ['rate>0.99'],
    dropped_iterations: [`count<=${Math.floor(MAX_DROPPED_SHARE * ARRIVALS)}`],
    rushgate_memory_drift: [`avg<${MAX_DRIFT}`],
    rushgate_payments_succeeded: [`count>=${Math.ceil(MIN_PAID_SHARE * ARRIVALS)}`],
    rushgate_oversold: ['count==0'],
    rushgate_sale_counters_wrong: ['count==0'],
    rushgate_orders_charged_twice: ['count==0'],
    rushgate_charges_unmatched: ['count==0'],
  },
};

export function setup() {
  // stock for every arrival: a soak measures the steady state, not a sell-out
  const saleId = createSale('k6-soak', { stock: 1000000000, price: PRICE });
  fundBuyers(saleId, buyersToFund(ARRIVALS), PRICE);
  return { saleId };
}

export default function ({ saleId }) {
  const jwt = buyerJwt(buyerId(saleId, exec.scenario.iterationInTest));
  const order = buyerCall('POST', `/v1/sales/${saleId}/orders`, jwt, { quantity: 1 }, 'order', HELD);
  if (!check(order, { 'order held': (r) => r.status === 201 })) return;
  const { orderId, paymentToken } = order.json();
  const payment = buyerCall(
    'POST',
    `/v1/orders/${orderId}/payments`,
    jwt,
    { paymentToken, method: 'wallet' },
    'pay',
    QUEUED
  );
  check(payment, { 'payment queued': (r) => r.status === 202 });
}

function residentBytes() {
  const res = http.get(`${BASE_URL}/metrics`, {
    tags: { name: 'metrics' },
    responseCallback: http.expectedStatuses(200),
  });
  const match = /^rushgate_process_resident_memory_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(res.body || '');
  return match ? Number(match[1]) : NaN;
}

// this VU's samples of the first window; the one memory VU keeps them across its iterations
const firstWindow = [];

/** The memory scenario: a sample every few seconds; each one in the last window is judged against the first. */
export function sampleMemory() {
  const bytes = residentBytes();
  const elapsed = (Date.now() - exec.scenario.startTime) / 1000;
  if (check(bytes, { 'gateway memory read': (b) => b > 0 })) {
    if (elapsed < WINDOW_SECONDS) firstWindow.push(bytes);
    else if (elapsed >= SECONDS - WINDOW_SECONDS && firstWindow.length > 0) {
      const first = firstWindow.reduce((a, b) => a + b, 0) / firstWindow.length;
      drift.add((bytes - first) / first);
    }
  }
  sleep(SAMPLE_SECONDS);
}

export function teardown({ saleId }) {
  // nobody polls in a soak: the seats paid are the sale's, once its queue has drained
  const { sale } = judgeSale(saleId);
  paid.add(sale === null ? 0 : sale.sold);
}

export function handleSummary(data) {
  return summaryOutputs('soak', data, __ENV.SUMMARY_JSON || 'loadtest/results/soak.json');
}
