import type { OrderRecord, OrderStatus, PaymentDecision, PaymentEventType, PaymentRecord } from "@payhooks/core";
import type { PayramNotification, PayramStatus } from "./schemas";
import { INITIAL_PAYRAM_STATE, reducePayram, type PayramState } from "./state-machine";

const EVENT_TYPE = {
  OPEN: "payment.pending",
  PARTIALLY_FILLED: "payment.partially_paid",
  FILLED: "payment.succeeded",
  OVER_FILLED: "payment.overpaid",
  CANCELLED: "payment.cancelled",
  UNDEFINED: "payment.unknown_status",
} as const satisfies Record<PayramStatus, PaymentEventType>;

/** The order status each Payram status leads to; undefined leaves the order as it is. */
function orderStatusFor(effect: PayramStatus, order: OrderRecord): OrderStatus | undefined {
  switch (effect) {
    case "OPEN":
    case "UNDEFINED":
      return undefined;
    case "PARTIALLY_FILLED":
      return "partially_paid";
    case "FILLED":
      return "paid";
    case "OVER_FILLED":
      return "overpaid";
    case "CANCELLED":
      // An expired link cancels an order that had no money yet; it never undoes a payment.
      return order.status === "awaiting_payment" || order.status === "reserved" ? "cancelled" : undefined;
    default: {
      const exhaustive: never = effect;
      return exhaustive;
    }
  }
}

/**
 * What this payment adds to the order's paidAmount, in the order's currency: the received amount
 * when the currencies agree, Payram's USD equivalent for a USD order paid in a stablecoin.
 * A notification that cannot restate it (no USD figure, e.g. CANCELLED) keeps what was counted:
 * money once received is never uncounted by a later status.
 */
function contributionFor(n: PayramNotification, filled: number | null, order: OrderRecord | null, previous: number): number {
  if (!order || filled === null) return previous;
  if (order.currency === n.currency) return filled;
  if (order.currency === "USD" && n.filledAmountUsd !== null) return Math.max(previous, n.filledAmountUsd);
  return previous;
}

/**
 * Binds the Payram reducer to the ledger: given the stored payment and its order, what changes.
 * `receivedAt` (ms) stands in for Payram's own timestamp when the notification has none.
 */
export function decidePayram(
  n: PayramNotification,
  receivedAt: number,
  current: { payment: PaymentRecord | null; order: OrderRecord | null },
): PaymentDecision {
  const state = (current.payment?.state as PayramState | undefined) ?? INITIAL_PAYRAM_STATE;
  // FILLED without filled_amount (the older spec) means the whole requested amount arrived.
  const filled = n.filledAmount ?? (n.status === "FILLED" ? n.amount : null);
  const outcome = reducePayram(state, { status: n.status, filled });
  if (outcome.kind === "ignored") return { kind: "ignored", reason: outcome.reason };

  const occurredAt = new Date(n.timestampMs ?? receivedAt).toISOString();
  const received = outcome.state.filled;
  const eventAmount = n.status === "OPEN" || n.status === "CANCELLED" || n.status === "UNDEFINED" ? n.amount : received;
  return {
    kind: "applied",
    payment: {
      status: outcome.state.status ?? "UNDEFINED",
      amount: received ?? n.amount,
      currency: n.currency,
      at: occurredAt,
      livemode: true,
      contribution: contributionFor(n, received, current.order, current.payment?.contribution ?? 0),
      state: outcome.state,
    },
    ...(current.order ? { orderStatus: orderStatusFor(outcome.effect, current.order) } : {}),
    events: [
      {
        type: EVENT_TYPE[outcome.effect],
        amount: eventAmount,
        currency: n.currency,
        occurredAt,
        data: {
          status: n.rawStatus,
          ...(n.amount !== null ? { requestedAmount: n.amount } : {}),
          ...(received !== null ? { filledAmount: received } : {}),
        },
      },
    ],
  };
}
