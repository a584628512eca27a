import { inPaymentCurrency, type PaymentFacts, type PaymentStatus } from "./order-model";

/**
 * Ledgers written before the order model (main up to f3a04fc) kept, per payment, a provider's
 * own status, an `amount` and a `contribution` (what it added to its order), and no facts. They
 * are read as they are: these functions restate such a record as facts, so every order keeps the
 * totals it had. A record is rewritten in the current form the next time it changes.
 *
 * A payment that old version counted toward its order (contribution > 0) was accepted for that
 * order's amount; the old record does not say what it was requested for, so the order's amount
 * stands in for it. New notifications are held to the full rule.
 */
export function isLegacyPayment(h: Record<string, string>): boolean {
  return h["provider"] !== undefined && h["schema"] === undefined;
}

const PAYRAM: Record<string, PaymentStatus> = {
  OPEN: "pending",
  PARTIALLY_FILLED: "partially_paid",
  FILLED: "succeeded",
  OVER_FILLED: "overpaid",
  CANCELLED: "cancelled",
};
const PAYSKE: Record<string, PaymentStatus> = { none: "unknown", failed: "failed", succeeded: "succeeded", refunded: "refunded" };
const PAYME: Record<string, PaymentStatus> = { "1": "held", "2": "succeeded", "-1": "cancelled", "-2": "refunded" };

const num = (v: unknown): number => (typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : 0);

/** Facts of a legacy payment record; `order` is its order's terms when it was attached to one. */
export function legacyFacts(h: Record<string, string>, order: { amount: number; currency: string } | null): PaymentFacts {
  const state = JSON.parse(h["state"] ?? "{}") as Record<string, unknown>;
  const amount = h["amount"] ? Number(h["amount"]) : null;
  const currency = h["currency"] || null;
  const livemode = h["livemode"] === "1";
  const counted = Number(h["contribution"] ?? "0") > 0;
  // The order's amount in the payment's own units (a USD order paid in USDC: micro-units).
  const orderAmount = order && currency ? inPaymentCurrency(order.amount, order.currency, currency) : null;
  const requestedIfCounted = counted && orderAmount !== null ? orderAmount : null;
  switch (h["provider"]) {
    case "payme": {
      const st = String(state["state"]);
      const txAmount = num(state["amount"]);
      const settled = st === "2" || st === "-2" ? txAmount : 0;
      return { status: PAYME[st] ?? "unknown", currency: "UZS", requested: txAmount, settled, refunded: st === "-2" ? txAmount : 0, livemode };
    }
    case "payram": {
      const settled = num(state["filled"]);
      return {
        status: PAYRAM[String(state["status"])] ?? "unknown",
        currency,
        requested: requestedIfCounted,
        settled,
        refunded: 0,
        livemode,
      };
    }
    case "payske": {
      const status = PAYSKE[String(state["status"])] ?? "unknown";
      return {
        status,
        currency,
        requested: state["counted"] === true && orderAmount !== null ? orderAmount : status === "failed" ? amount : null,
        settled: num(state["received"]),
        refunded: num(state["refunded"]),
        livemode,
      };
    }
    case "robokassa":
      return { status: "succeeded", currency, requested: amount, settled: amount ?? 0, refunded: 0, livemode };
    default:
      return { status: "unknown", currency, requested: null, settled: 0, refunded: 0, livemode };
  }
}

/** The provider's own status of a legacy record, for display. */
export function legacyProviderStatus(h: Record<string, string>): string {
  return h["status"] ?? "unknown";
}
