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

/** True when every answer to the clicks of one payment names the same single payment. */
export function onePaymentPerOrder(paymentIds) {
  const ids = paymentIds.filter((id) => typeof id === 'string' && id.length > 0);
  return ids.length === paymentIds.length && new Set(ids).size === 1;
}

/** Orders charged more than once, from a map orderId -> succeeded payment count. */
export function chargedTwice(succeededByOrder) {
  return Object.entries(succeededByOrder).filter(([, n]) => n > 1).map(([orderId]) => orderId);
}
