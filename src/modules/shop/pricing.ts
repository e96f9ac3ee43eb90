// The shop's money rules, shared by the use cases and the stores. Integer KRW.

/** Amount off per unit: the rate applied to the list price, rounded down to the won. */
export function discountPriceOf(price: number, rate: number): number {
  return Math.floor((price * rate) / 100);
}

/** total = Σ quantity × price, discount = Σ quantity × discount, amount (charged) = total − discount. */
export function totalsOf(lines: ReadonlyArray<{ quantity: number; price: number; discount_price: number }>): {
  total: number;
  discount: number;
  amount: number;
} {
  const total = lines.reduce((a, l) => a + l.quantity * l.price, 0);
  const discount = lines.reduce((a, l) => a + l.quantity * l.discount_price, 0);
  return { total, discount, amount: total - discount };
}
