// The money and stock rules a load test checks at its end (plain JS: k6 and Node).

/** Problems with a sale's counters (GET /admin/sales/{id}); empty when all is well. */
export function saleViolations(sale) {
  const problems = [];
  if (sale.sold > sale.stock) problems.push(`oversold: sold ${sale.sold} > stock ${sale.stock}`);
  if (sale.available + sale.held + sale.sold !== sale.stock) {
    problems.push(`available ${sale.available} + held ${sale.held} + sold ${sale.sold} != stock ${sale.stock}`);
  }
  if (sale.available < 0 || sale.held < 0) problems.push('negative counter');
  return problems;
}

/** Seats sold or held beyond the stock; 0 when the sale is not oversold. */
export function oversoldSeats(sale) {
  return Math.max(0, sale.sold + sale.held - sale.stock);
}

/** True when every answer to the clicks of one payment names the same single payment. */
export function onePaymentPerOrder(paymentIds) {
  const ids = paymentIds.filter((id) => typeof id === 'string' && id.length > 0);
  return ids.length === paymentIds.length && new Set(ids).size === 1;
}

/** Orders charged more than once, from a map orderId -> charges kept (GET /admin/sales/{id}/charges). */
export function chargedTwice(keptByOrder) {
  return Object.keys(keptByOrder).filter((orderId) => keptByOrder[orderId] > 1);
}

/**
 * Seats whose money and sale disagree: the ledger's retained amount for the sale against its
 * sold seats at its price (every script orders one seat at a time). 0 when they match.
 */
export function chargesUnmatched(sale, charges) {
  const retained = charges.retained[sale.currency] || 0;
  const expected = sale.sold * sale.price;
  if (retained === expected) return 0;
  return sale.price > 0 ? Math.max(1, Math.round(Math.abs(retained - expected) / sale.price)) : 1;
}
