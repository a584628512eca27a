import { MoneyError, toMinorUnits } from "@payhooks/core";

/** Click's amount text: soum, digits with an optional fraction (docs/protocols/click.md#money). */
const SOUM = /^\d+(\.\d+)?$/;

/**
 * Click's `amount` (soum, decimal text) in tiyin, shifting digits and never through a float; null
 * when it is unusable (answered -2): a sign, an exponent, spaces, separators, a bare point or
 * fraction, non-zero digits past the second decimal, or more than 2^53 - 1 tiyin.
 */
export function soumToTiyin(amount: string): number | null {
  if (!SOUM.test(amount)) return null;
  try {
    return toMinorUnits(amount, 2);
  } catch (err) {
    if (err instanceof MoneyError) return null;
    throw err;
  }
}
