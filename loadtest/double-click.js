// k6 run loadtest/double-click.js — every buyer fires the same payment 5 times at once.
// Threshold: exactly one payment per order (every click answered with the same paymentId).
import http from 'k6/http';
import { check, fail } from 'k6';
import { Rate } from 'k6/metrics';
import { adminCall, arrive, BASE_URL, createSale } from './lib/k6.js';
import { onePaymentPerOrder, saleViolations } from './lib/invariants.js';

const CLICKS = Number(__ENV.CLICKS || 5);
const single = new Rate('rushgate_one_payment_per_order');

export const options = {
  scenarios: {
    clicks: { executor: 'shared-iterations', vus: Number(__ENV.VUS || 50), iterations: Number(__ENV.BUYERS || 500), maxDuration: __ENV.MAX_DURATION || '2m' },
  },
  thresholds: { rushgate_one_payment_per_order: ['rate==1'] },
};

export function setup() {
  return { saleId: createSale('k6-dc', { stock: Number(__ENV.BUYERS || 500) }) };
}

export default function ({ saleId }) {
  const { jwt, order } = arrive(saleId, 100);
  if (!check(order, { 'order held': (r) => r.status === 201 })) return;
  const { orderId, paymentToken } = order.json();
  const click = {
    method: 'POST',
    url: `${BASE_URL}/v1/orders/${orderId}/payments`,
    body: JSON.stringify({ paymentToken, method: 'wallet' }),
    params: { headers: { Authorization: `Bearer ${jwt}`, 'Content-Type': 'application/json' }, tags: { name: 'pay' } },
  };
  const answers = http.batch(Array.from({ length: CLICKS }, () => click));
  single.add(onePaymentPerOrder(answers.map((r) => (r.status === 202 ? r.json('paymentId') : null))));
}

export function teardown({ saleId }) {
  const problems = saleViolations(adminCall('GET', `/admin/sales/${saleId}`).json());
  if (problems.length > 0) fail(problems.join('; '));
}
