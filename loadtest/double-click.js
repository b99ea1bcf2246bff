// k6 run loadtest/double-click.js — every buyer fires the same payment CLICKS times at once, with
// money for two charges in its wallet, so a second charge would go through and show. Fails
// (exit 99) unless every click answers the one payment, that payment succeeds, the wallet is
// debited once, and the ledger keeps one charge per paid order.
import { check } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter, Rate } from 'k6/metrics';
import { buyerCall, buyerJwt, buyerRequest, createSale, fundBuyers, judgeSale, settlePayment } from './lib/k6.js';
import { onePaymentPerOrder } from './lib/invariants.js';
import { buyerId } from './lib/plan.js';
import { summaryOutputs, TREND_STATS } from './lib/summary.js';

const BUYERS = Number(__ENV.BUYERS || 500);
const CLICKS = Number(__ENV.CLICKS || 5);
const PRICE = Number(__ENV.PRICE || 100);
const POLLS = Number(__ENV.POLLS || 40);
const MIN_PAID_SHARE = Number(__ENV.MIN_PAID_SHARE || 0.95);

const single = new Rate('rushgate_one_payment_per_order');
const paid = new Counter('rushgate_payments_succeeded');
const failed = new Counter('rushgate_payments_failed');
const unsettled = new Counter('rushgate_payments_unsettled');
const debitedTwice = new Counter('rushgate_wallets_debited_twice');

const HELD = http.expectedStatuses(201);
const QUEUED = http.expectedStatuses(202);
const READ = http.expectedStatuses(200);

export const options = {
  scenarios: {
    clicks: {
      executor: 'shared-iterations',
      vus: Number(__ENV.VUS || 50),
      iterations: BUYERS,
      maxDuration: __ENV.MAX_DURATION || '2m',
    },
  },
  setupTimeout: __ENV.SETUP_TIMEOUT || '5m',
  summaryTrendStats: TREND_STATS,
  thresholds: {
    'http_req_failed{name:order}': ['rate<0.01'],
    'http_req_failed{name:pay}': ['rate<0.01'],
    'http_req_failed{name:poll}': ['rate<0.01'],
    'http_req_failed{name:wallet}': ['rate<0.01'],
    checks: ['rate>0.99'],
    dropped_iterations: ['count==0'],
    rushgate_one_payment_per_order: ['rate==1'],
    rushgate_payments_succeeded: [`count>=${Math.ceil(MIN_PAID_SHARE * BUYERS)}`],
    rushgate_payments_failed: ['count==0'],
    rushgate_payments_unsettled: ['count==0'],
    rushgate_wallets_debited_twice: ['count==0'],
    rushgate_oversold: ['count==0'],
    rushgate_sale_counters_wrong: ['count==0'],
    rushgate_orders_charged_twice: ['count==0'],
    rushgate_charges_unmatched: ['count==0'],
  },
};

export function setup() {
  const saleId = createSale('k6-dc', { stock: BUYERS, price: PRICE });
  // enough for two charges: a second one would be taken, not refused for funds
  fundBuyers(saleId, BUYERS, 2 * PRICE);
  return { saleId };
}

export default function ({ saleId }) {
  const jwt = buyerJwt(buyerId(saleId, exec.scenario.iterationInTest));
  const order = buyerCall('POST', `/v1/sales/${saleId}/orders`, jwt, { quantity: 1 }, 'order', HELD);
  if (!check(order, { 'order held': (r) => r.status === 201 })) return;
  const { orderId, paymentToken } = order.json();
  const click = buyerRequest(
    'POST',
    `/v1/orders/${orderId}/payments`,
    jwt,
    { paymentToken, method: 'wallet' },
    'pay',
    QUEUED
  );
  const clicks = [];
  for (let i = 0; i < CLICKS; i++) clicks.push(click);
  const ids = http.batch(clicks).map((r) => (r.status === 202 ? r.json('paymentId') : null));
  const one = onePaymentPerOrder(ids);
  single.add(one);
  if (!check(one, { 'every click answered the same payment': (ok) => ok })) return;
  const status = settlePayment(jwt, POLLS, ids[0]);
  check(status, { 'payment succeeded': (s) => s === 'succeeded' });
  if (status !== 'succeeded') {
    (status === 'unsettled' ? unsettled : failed).add(1);
    return;
  }
  paid.add(1);
  const wallet = buyerCall('GET', '/v1/wallet', jwt, undefined, 'wallet', READ);
  const balance = wallet.status === 200 ? wallet.json('balances.CNY') : null;
  // funded with two prices, charged once: one price left; none left is a second charge
  const once = check(balance, { 'wallet debited once': (b) => b === PRICE });
  debitedTwice.add(!once && balance !== null && balance < PRICE ? 1 : 0);
}

export function teardown({ saleId }) {
  judgeSale(saleId);
}

export function handleSummary(data) {
  return summaryOutputs('double-click', data, __ENV.SUMMARY_JSON || 'loadtest/results/double-click.json');
}
