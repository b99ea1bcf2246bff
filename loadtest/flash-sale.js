// k6 run loadtest/flash-sale.js — an on-sale rehearsal: a sale opens, buyers arrive in a spike,
// each orders one seat, pays with the wallet (funded in setup) and polls until the payment ends.
// Fails (exit 99) when requests fail or are refused, when the intended spike is not delivered,
// when too few seats are paid or payments do not end, and when the sale is oversold, its counters
// disagree, or the ledger's charges do not match its sold seats (an order charged twice).
import { check } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter } from 'k6/metrics';
import { buyerCall, buyerJwt, createSale, fundBuyers, judgeSale, problemCode, settlePayment } from './lib/k6.js';
import { buyerId, buyersToFund, rampingArrivals } from './lib/plan.js';
import { summaryOutputs, TREND_STATS } from './lib/summary.js';

const STOCK = Number(__ENV.STOCK || 1000);
const PRICE = Number(__ENV.PRICE || 38000);
const PEAK_RATE = Number(__ENV.PEAK_RATE || 500); // buyers arriving per second at the spike
const SPIKE = __ENV.SPIKE || '20s';
const TAIL = __ENV.TAIL || '40s';
const POLLS = Number(__ENV.POLLS || 40);
const MIN_PAID_SHARE = Number(__ENV.MIN_PAID_SHARE || 0.95);
const MAX_DROPPED_SHARE = Number(__ENV.MAX_DROPPED_SHARE || 0.01);

const STAGES = [
  { target: PEAK_RATE, duration: '2s' }, // the sale opens: the spike
  { target: PEAK_RATE, duration: SPIKE },
  { target: Math.ceil(PEAK_RATE / 10), duration: TAIL },
];
const ARRIVALS = rampingArrivals(0, STAGES);
const BUYERS = buyersToFund(ARRIVALS);
const MIN_PAID = Math.ceil(MIN_PAID_SHARE * Math.min(STOCK, ARRIVALS));

const paid = new Counter('rushgate_payments_succeeded');
const failed = new Counter('rushgate_payments_failed');
const unsettled = new Counter('rushgate_payments_unsettled');

// 409 is a refusal by design here (sold out); the check below fails any other 409
const ORDERED = http.expectedStatuses(201, 409);
const QUEUED = http.expectedStatuses(202);

export const options = {
  scenarios: {
    onsale: {
      executor: 'ramping-arrival-rate',
      startRate: 0,
      timeUnit: '1s',
      preAllocatedVUs: Number(__ENV.VUS || 200),
      maxVUs: Number(__ENV.MAX_VUS || 1000),
      stages: STAGES,
    },
  },
  setupTimeout: __ENV.SETUP_TIMEOUT || '5m',
  summaryTrendStats: TREND_STATS,
  thresholds: {
    'http_req_failed{name:order}': ['rate<0.01'],
    'http_req_failed{name:pay}': ['rate<0.01'],
    'http_req_failed{name:poll}': ['rate<0.01'],
    'http_req_duration{name:order}': ['p(99)<1000'],
    'http_req_duration{name:pay}': ['p(99)<1000'],
    checks: ['rate>0.99'],
    dropped_iterations: [`count<=${Math.floor(MAX_DROPPED_SHARE * ARRIVALS)}`],
    rushgate_payments_succeeded: [`count>=${MIN_PAID}`],
    rushgate_payments_failed: ['count==0'],
    rushgate_payments_unsettled: ['count==0'],
    rushgate_oversold: ['count==0'],
    rushgate_sale_counters_wrong: ['count==0'],
    rushgate_orders_charged_twice: ['count==0'],
    rushgate_charges_unmatched: ['count==0'],
  },
};

export function setup() {
  const saleId = createSale('k6', { name: 'k6 rehearsal', stock: STOCK, price: PRICE });
  fundBuyers(saleId, BUYERS, PRICE);
  return { saleId };
}

export default function ({ saleId }) {
  const jwt = buyerJwt(buyerId(saleId, exec.scenario.iterationInTest));
  const order = buyerCall('POST', `/v1/sales/${saleId}/orders`, jwt, { quantity: 1 }, 'order', ORDERED);
  check(order, {
    'order held, or refused sold out': (r) => r.status === 201 || (r.status === 409 && problemCode(r) === 'sold_out'),
  });
  if (order.status !== 201) return;
  const { orderId, paymentToken } = order.json();
  const payment = buyerCall(
    'POST',
    `/v1/orders/${orderId}/payments`,
    jwt,
    { paymentToken, method: 'wallet' },
    'pay',
    QUEUED
  );
  if (!check(payment, { 'payment queued': (r) => r.status === 202 })) return;
  const status = settlePayment(jwt, POLLS, payment.json('paymentId'));
  check(status, { 'payment succeeded': (s) => s === 'succeeded' });
  if (status === 'succeeded') paid.add(1);
  else if (status === 'unsettled') unsettled.add(1);
  else failed.add(1);
}

export function teardown({ saleId }) {
  judgeSale(saleId);
}

export function handleSummary(data) {
  return summaryOutputs('flash-sale', data, __ENV.SUMMARY_JSON || 'loadtest/results/flash-sale.json');
}
