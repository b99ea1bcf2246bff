// k6 bindings shared by the scripts: settings, JWT minting, the admin and buyer calls, funding
// in setup(), and the end-of-run judgement of the sale and its money.
import crypto from 'k6/crypto';
import encoding from 'k6/encoding';
import http from 'k6/http';
import { fail, sleep } from 'k6';
import { Counter } from 'k6/metrics';
import { chargedTwice, chargesUnmatched, oversoldSeats, saleViolations } from './invariants.js';
import { makeJwtMinter } from './jwt.js';
import { buyerId } from './plan.js';

export const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8080';
export const ADMIN_TOKEN = __ENV.ADMIN_TOKEN || '';
export const JWT_SECRET = __ENV.JWT_SECRET || '';
/** Seconds teardown() waits for the payment queue to drain before it judges the sale. */
export const SETTLE_SECONDS = Number(__ENV.SETTLE_SECONDS || 15);

/** Credits per POST /admin/wallets/credits: under its cap of 200 and its 16 KiB body. */
const CREDITS_PER_CALL = 150;

const minter = makeJwtMinter({
  b64url: (text) => encoding.b64encode(text, 'rawurl'),
  hmacB64url: (secret, data) => crypto.hmac('sha256', secret, data, 'base64rawurl'),
});

export const buyerJwt = (userId, options) => minter.mint(userId, JWT_SECRET, options);

// every call names the statuses it expects; any other answer counts in http_req_failed
// (a 429 or a 401 is a failed request, never a refusal by design)
const ADMIN_OK = http.expectedStatuses(200, 201);
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 299 }));

const oversold = new Counter('rushgate_oversold');
const countersWrong = new Counter('rushgate_sale_counters_wrong');
const doubleCharged = new Counter('rushgate_orders_charged_twice');
const unmatched = new Counter('rushgate_charges_unmatched');

function params(token, name, expected) {
  return {
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    tags: { name },
    responseCallback: expected,
  };
}

/** An ops call (setup and teardown), tagged name=admin unless named. */
export function adminCall(method, path, body, name) {
  const payload = body === undefined ? null : JSON.stringify(body);
  return http.request(method, `${BASE_URL}${path}`, payload, params(ADMIN_TOKEN, name || 'admin', ADMIN_OK));
}

/** A buyer call tagged `name`; `expected` (http.expectedStatuses) says which answers are not failures. */
export function buyerCall(method, path, token, body, name, expected) {
  const payload = body === undefined ? null : JSON.stringify(body);
  return http.request(method, `${BASE_URL}${path}`, payload, params(token, name, expected));
}

/** A request for http.batch, as buyerCall would send it. */
export function buyerRequest(method, path, token, body, name, expected) {
  return { method, url: `${BASE_URL}${path}`, body: JSON.stringify(body), params: params(token, name, expected) };
}

/** The problem `code` of an error answer, or '' when the body is not a problem. */
export function problemCode(res) {
  try {
    return String(res.json('code') || '');
  } catch (_err) {
    return '';
  }
}

/** Fails fast when the settings the scripts need are missing. */
export function requireSettings() {
  if (!ADMIN_TOKEN || !JWT_SECRET) fail('set ADMIN_TOKEN and JWT_SECRET (see loadtest/README.md)');
}

/** Creates a sale for this run (`<prefix>-<time>`) in a script's setup(); fails the run if refused. */
export function createSale(prefix, fields) {
  requireSettings();
  const saleId = `${prefix}-${Date.now()}`;
  const body = Object.assign({ price: 100, currency: 'CNY', perUserLimit: 1 }, fields);
  const res = adminCall('PUT', `/admin/sales/${saleId}`, body);
  if (res.status !== 201) fail(`could not create the sale: ${res.status} ${res.body}`);
  return saleId;
}

/**
 * Funds buyers 0..count-1 of a sale with `amount` each, before the timed part: bulk credits,
 * idempotent by reference. Fails the run if the ledger refuses. Returns the seconds it took.
 */
export function fundBuyers(saleId, count, amount) {
  const started = Date.now();
  for (let first = 0; first < count; first += CREDITS_PER_CALL) {
    const credits = [];
    for (let i = first; i < Math.min(count, first + CREDITS_PER_CALL); i++) {
      credits.push({ userId: buyerId(saleId, i), amount, currency: 'CNY', reference: saleId });
    }
    const res = adminCall('POST', '/admin/wallets/credits', { credits }, 'fund');
    if (res.status !== 201 && res.status !== 200) fail(`could not fund the buyers: ${res.status} ${res.body}`);
  }
  const seconds = (Date.now() - started) / 1000;
  console.log(`funded ${count} buyers with ${amount} CNY each in ${seconds.toFixed(1)} s`);
  return seconds;
}

/** An ops read's JSON body, or null (logged) when the gateway did not answer 200. */
function adminRead(path) {
  const res = adminCall('GET', path);
  if (res.status === 200) return res.json();
  console.error(`GET ${path}: ${res.status} ${res.body}`);
  return null;
}

/** The sale once its payment queue is empty and `sold` has stopped moving, or after SETTLE_SECONDS. */
export function settledSale(saleId) {
  const deadline = Date.now() + SETTLE_SECONDS * 1000;
  let previous = null;
  for (;;) {
    const sale = adminRead(`/admin/sales/${saleId}`);
    if (sale === null || Date.now() > deadline) return sale;
    if (previous !== null && sale.queue.depth === 0 && sale.sold === previous.sold && sale.held === previous.held)
      return sale;
    previous = sale;
    sleep(0.5);
  }
}

/**
 * The end-of-run judgement, in teardown(): the sale's counters, and the ledger's charges for it
 * compared with its sold seats, recorded as counters, so a breach fails a threshold (exit 99)
 * rather than the script (107). A sale that cannot be read counts as wrong counters. Returns the
 * sale and the charges, or nulls.
 */
export function judgeSale(saleId) {
  const sale = settledSale(saleId);
  const charges = sale === null ? null : adminRead(`/admin/sales/${saleId}/charges`);
  if (sale === null || charges === null) {
    countersWrong.add(1);
    return { sale: null, charges: null };
  }
  const problems = saleViolations(sale);
  const twice = chargedTwice(charges.keptByOrder);
  const off = chargesUnmatched(sale, charges);
  oversold.add(oversoldSeats(sale));
  countersWrong.add(problems.length);
  doubleCharged.add(twice.length);
  unmatched.add(off);
  const retained = charges.retained[sale.currency] || 0;
  console.log(
    `sale ${saleId}: stock ${sale.stock}, sold ${sale.sold}, held ${sale.held}, available ${sale.available}, ` +
      `queue ${sale.queue.depth}; ledger: ${charges.charges} charges, ${charges.refunds} refunds, ` +
      `${retained} ${sale.currency} retained (${sale.sold} x ${sale.price} sold)`
  );
  if (problems.length > 0) console.error(`sale counters: ${problems.join('; ')}`);
  if (twice.length > 0) console.error(`orders charged twice: ${twice.join(', ')}`);
  if (off > 0)
    console.error(`the ledger retained ${retained} ${sale.currency} for ${sale.sold} seats sold at ${sale.price}`);
  return { sale, charges };
}

const POLLED = http.expectedStatuses(200);

/** Polls a payment until it ends; its last status, or 'unsettled' when `polls` ran out. */
export function settlePayment(jwt, polls, paymentId) {
  for (let i = 0; i < polls; i++) {
    sleep(0.25);
    const res = buyerCall('GET', `/v1/payments/${paymentId}`, jwt, undefined, 'poll', POLLED);
    const status = res.status === 200 ? res.json('status') : null;
    if (status === 'succeeded' || status === 'failed' || status === 'refunded') return status;
  }
  return 'unsettled';
}
