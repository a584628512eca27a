import { currencyExponent } from "./money";
import type { PaymentEventType } from "./payment-event";

/**
 * The order model: payments are facts, an order's paid amount and status are derived from them.
 * This file is the only place the rules live (README, "How an order gets paid"); providers only
 * report facts.
 */

/** Every provider's statuses, mapped to one vocabulary. */
export const PAYMENT_STATUSES = [
  "pending",
  "held",
  "partially_paid",
  "succeeded",
  "overpaid",
  "failed",
  "cancelled",
  "refunded",
  "disputed",
  "unknown",
] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

export const ORDER_STATUSES = [
  "awaiting_payment",
  "reserved",
  "partially_paid",
  "paid",
  "overpaid",
  "partially_refunded",
  "refunded",
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/**
 * What a provider knows about one payment. Amounts are integer minor units of `currency`.
 * `settled` and `refunded` are running totals: a later notification never lowers them.
 */
export type PaymentFacts = {
  status: PaymentStatus;
  /** null when the provider has not said (e.g. a Checkout Session without amounts) */
  currency: string | null;
  /** what the payment was made for, where the provider states it */
  requested: number | null;
  /** money received so far */
  settled: number;
  /** money given back so far */
  refunded: number;
  livemode: boolean;
};

/** The part of an order the rules read. */
export type OrderTerms = { amount: number; currency: string; livemode: boolean };

export type MismatchReason = "mode" | "currency" | "amount";

/**
 * Whether a payment counts toward an order, and for how much (minor units of the order's currency).
 * `undetermined`: the payment states no amount yet (nothing requested, nothing received), so it
 * can neither count nor be called a mismatch.
 */
export type Verdict =
  | { counts: true; value: number; refunded: number }
  | { counts: false; reason: MismatchReason | "undetermined" };

/**
 * Stablecoins Payram settles USD orders in. One token is one US dollar at face value, so
 * `49.99 USDC` is 4999 US cents. Payram's `filled_amount_in_usd` is a market valuation and is
 * never used to count money: it would let a payment requested for another amount pay the order.
 */
export const USD_STABLECOINS: readonly string[] = ["USDC", "USDT"];

/** Minor units of `from` restated in `to`, or null when no exact rule converts them. */
function convert(minor: number, from: string, to: string, round: "exact" | "down"): number | null {
  if (from === to) return minor;
  if (to !== "USD" || !USD_STABLECOINS.includes(from)) return null;
  const shift = currencyExponent(from) - currencyExponent("USD");
  const factor = 10 ** shift;
  if (round === "exact" && minor % factor !== 0) return null;
  return Math.floor(minor / factor);
}

/**
 * An order's amount restated in a payment's currency (the inverse of the rule's conversion), or
 * null when no exact rule relates the two currencies.
 */
export function inPaymentCurrency(orderAmount: number, orderCurrency: string, paymentCurrency: string): number | null {
  if (orderCurrency === paymentCurrency) return orderAmount;
  if (orderCurrency !== "USD" || !USD_STABLECOINS.includes(paymentCurrency)) return null;
  const restated = orderAmount * 10 ** (currencyExponent(paymentCurrency) - currencyExponent("USD"));
  return Number.isSafeInteger(restated) ? restated : null;
}

/**
 * The rule: a payment counts toward an order only when it was made for that order — same mode,
 * a currency that is the order's (or restates exactly into it), and the amount it was requested
 * for (else the amount it settled) equal to the order's amount. Then what it settled, less what
 * was refunded, counts: part of it, all of it or more.
 */
export function countToward(order: OrderTerms, p: PaymentFacts): Verdict {
  if (p.livemode !== order.livemode) return { counts: false, reason: "mode" };
  if (p.requested === null && p.settled === 0) return { counts: false, reason: "undetermined" };
  if (p.currency === null) return { counts: false, reason: "undetermined" };
  const basis = p.requested ?? p.settled;
  const basisInOrder = convert(basis, p.currency, order.currency, "exact");
  if (basisInOrder === null) {
    // A stablecoin amount with sub-cent digits is another amount, not another currency.
    return { counts: false, reason: convert(basis, p.currency, order.currency, "down") === null ? "currency" : "amount" };
  }
  if (basisInOrder !== order.amount) return { counts: false, reason: "amount" };
  // What is left after refunds, restated (rounded down: never more than was received).
  const settled = convert(p.settled, p.currency, order.currency, "down")!;
  const left = convert(Math.max(0, p.settled - p.refunded), p.currency, order.currency, "down")!;
  return { counts: true, value: left, refunded: settled - left };
}

export type DerivedOrder = { paidAmount: number; status: OrderStatus };

/**
 * An order's paid amount and status from its terms and every payment attached to it:
 * `paidAmount` is the sum of what counts; `paid` exactly at the amount, `overpaid` above,
 * between zero and the amount `partially_refunded` once money was given back, else
 * `partially_paid`; at zero `refunded` when money came and all went back, `reserved` while a
 * counting payment is held, else `awaiting_payment`.
 */
export function deriveOrder(order: OrderTerms, payments: Iterable<PaymentFacts>): DerivedOrder {
  let paidAmount = 0;
  let refunded = false;
  let held = false;
  for (const p of payments) {
    const v = countToward(order, p);
    if (!v.counts) continue;
    paidAmount += v.value;
    if (v.refunded > 0) refunded = true;
    if (p.status === "held") held = true;
  }
  const status: OrderStatus =
    paidAmount === order.amount
      ? "paid"
      : paidAmount > order.amount
        ? "overpaid"
        : paidAmount > 0
          ? refunded
            ? "partially_refunded"
            : "partially_paid"
          : refunded
            ? "refunded"
            : held
              ? "reserved"
              : "awaiting_payment";
  return { paidAmount, status };
}

/** The event type that reports a payment in `status` (used when a payment is attached to an order). */
export const EVENT_TYPE_FOR_STATUS = {
  pending: "payment.pending",
  held: "payment.pending",
  partially_paid: "payment.partially_paid",
  succeeded: "payment.succeeded",
  overpaid: "payment.overpaid",
  failed: "payment.failed",
  cancelled: "payment.cancelled",
  refunded: "payment.refunded",
  disputed: "payment.disputed",
  unknown: "payment.unknown_status",
} as const satisfies Record<PaymentStatus, PaymentEventType>;

const MONEY_IN: ReadonlySet<PaymentEventType> = new Set(["payment.succeeded", "payment.partially_paid", "payment.overpaid"]);

/**
 * The type an event about money received is reported under, given the verdict for its order:
 * money made for another amount or currency is `payment.amount_mismatch`, for the other mode
 * `payment.mode_mismatch`. Other types, and payments without an order, keep their type.
 */
export function reportedType(type: PaymentEventType, verdict: Verdict | null): PaymentEventType {
  if (!verdict || verdict.counts || !MONEY_IN.has(type)) return type;
  if (verdict.reason === "mode") return "payment.mode_mismatch";
  if (verdict.reason === "undetermined") return type;
  return "payment.amount_mismatch";
}
