// k6 run loadtest/flash-sale.js — an on-sale rehearsal: a sale opens, buyers arrive in a spike,
// each orders, pays with the wallet and polls until the payment ends. Fails the run when the
// sale is oversold, its counters disagree, or an order is charged twice.
import { check, fail, sleep } from 'k6';
import { Counter } from 'k6/metrics';
import { adminCall, arrive, buyerCall, createSale } from './lib/k6.js';
import { saleViolations } from './lib/invariants.js';

const STOCK = Number(__ENV.STOCK || 1000);
const PEAK_RATE = Number(__ENV.PEAK_RATE || 500); // buyers arriving per second at the spike
const SPIKE = __ENV.SPIKE || '20s';
const TAIL = __ENV.TAIL || '40s';
const POLLS = Number(__ENV.POLLS || 40);

const paid = new Counter('rushgate_payments_succeeded');
const doubleCharged = new Counter('rushgate_orders_charged_twice');

export const options = {
  scenarios: {
    onsale: {
      executor: 'ramping-arrival-rate',
      startRate: 0,
      timeUnit: '1s',
      preAllocatedVUs: Number(__ENV.VUS || 200),
      maxVUs: Number(__ENV.MAX_VUS || 1000),
      stages: [
        { target: PEAK_RATE, duration: '2s' }, // the sale opens: the spike
        { target: PEAK_RATE, duration: SPIKE },
        { target: Math.ceil(PEAK_RATE / 10), duration: TAIL },
      ],
    },
  },
  thresholds: {
    'http_req_duration{name:order}': ['p(99)<1000'],
    'http_req_duration{name:pay}': ['p(99)<1000'],
    'http_req_failed{name:order}': ['rate<0.01'],
    'http_req_failed{name:pay}': ['rate<0.01'],
    rushgate_orders_charged_twice: ['count==0'],
  },
};

export function setup() {
  return { saleId: createSale('k6', { name: 'k6 rehearsal', stock: STOCK, price: 38000 }) };
}

export default function ({ saleId }) {
  const { jwt, order } = arrive(saleId, 38000);
  if (!check(order, { 'order held or refused by design': (r) => [201, 409, 429].includes(r.status) }) || order.status !== 201) return;
  const { orderId, paymentToken } = order.json();
  const payment = buyerCall('POST', `/v1/orders/${orderId}/payments`, jwt, { paymentToken, method: 'wallet' }, 'pay');
  if (!check(payment, { 'payment queued': (r) => r.status === 202 })) return;
  const { paymentId } = payment.json();
  for (let i = 0; i < POLLS; i++) {
    sleep(0.25);
    const status = buyerCall('GET', `/v1/payments/${paymentId}`, jwt, undefined, 'poll').json('status');
    if (status === 'succeeded') {
      paid.add(1);
      break;
    }
    if (status === 'failed' || status === 'refunded') break;
  }
  // one order, one charge: the order's latest payment is the one we made
  const view = buyerCall('GET', `/v1/orders/${orderId}`, jwt, undefined, 'poll').json();
  if (view.status === 'paid' && view.payment.paymentId !== paymentId) doubleCharged.add(1);
}

export function teardown({ saleId }) {
  const sale = adminCall('GET', `/admin/sales/${saleId}`).json();
  const problems = saleViolations(sale);
  console.log(`sale ${saleId}: stock ${sale.stock}, sold ${sale.sold}, held ${sale.held}, queue ${sale.queue.depth}`);
  if (problems.length > 0) fail(problems.join('; '));
}
