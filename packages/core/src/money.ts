import { MoneyError } from "./errors";

/**
 * Minor-unit exponents (ISO 4217 for fiat; the usual on-chain precision for crypto tickers
 * that Payram reports). Anything not listed has two decimals.
 */
const EXPONENTS: Readonly<Record<string, number>> = {
  BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0, RWF: 0, UGX: 0,
  VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0,
  BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3,
  BTC: 8, BCH: 8, LTC: 8, DOGE: 8, USDT: 6, USDC: 6, TRX: 6, SOL: 9, TON: 9,
};

export const DEFAULT_CURRENCY_EXPONENT = 2;

export function currencyExponent(currency: string): number {
  return EXPONENTS[currency.toUpperCase()] ?? DEFAULT_CURRENCY_EXPONENT;
}

const DECIMAL = /^(\d+)(?:\.(\d+))?$/;

/**
 * Turns a decimal string ("49.99", "100.000000") or a JSON number (49.99) into integer minor
 * units without any float arithmetic: the digits are shifted as text. A JSON number is read
 * through its shortest round-trip form (`String(n)`), which is the text the sender wrote for
 * any amount of up to 15 significant digits.
 *
 * Throws MoneyError for a negative, non-finite or exponent-notation value, for significant
 * digits below the minor unit (`1.005` USD), and for results beyond 2^53 - 1.
 */
export function toMinorUnits(value: string | number, exponent: number): number {
  if (typeof value === "number" && !Number.isFinite(value)) {
    throw new MoneyError(`amount is not a finite number`);
  }
  const text = typeof value === "number" ? plainDecimal(value) : value.trim();
  const match = DECIMAL.exec(text);
  if (!match) throw new MoneyError(`amount ${JSON.stringify(text)} is not a non-negative decimal`);
  const whole = match[1] ?? "0";
  const fraction = match[2] ?? "";
  const kept = fraction.slice(0, exponent).padEnd(exponent, "0");
  const dropped = fraction.slice(exponent);
  if (/[^0]/.test(dropped)) {
    throw new MoneyError(`amount ${text} has more precision than ${exponent} decimal places`);
  }
  const minor = BigInt(whole + kept);
  if (minor > BigInt(Number.MAX_SAFE_INTEGER)) throw new MoneyError(`amount ${text} is too large`);
  return Number(minor);
}

/**
 * A JSON number as plain decimal text. `String(n)` is the shortest round-trip form, but it
 * switches to exponent notation below 1e-6 and from 1e21; the digits are shifted as text.
 */
function plainDecimal(n: number): string {
  const text = String(n);
  const m = /^(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (!m) return text;
  const digits = (m[1] ?? "") + (m[2] ?? "");
  const point = (m[1] ?? "").length + Number(m[3]);
  if (point <= 0) return `0.${"0".repeat(-point)}${digits}`;
  if (point >= digits.length) return digits + "0".repeat(point - digits.length);
  return `${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** Minor units back to a decimal string with exactly `exponent` places (for display and compare). */
export function formatMinorUnits(minor: number, exponent: number): string {
  if (!Number.isSafeInteger(minor) || minor < 0) throw new MoneyError(`minor units must be a non-negative safe integer`);
  const digits = BigInt(minor).toString().padStart(exponent + 1, "0");
  return exponent === 0 ? digits : `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}
