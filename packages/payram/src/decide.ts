import type { OrderRecord, PaymentDecision, PaymentEventType, PaymentRecord, PaymentStatus } from "@payhooks/core";
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

/** Payram's statuses in the shared vocabulary. */
const PAYMENT_STATUS = {
  OPEN: "pending",
  PARTIALLY_FILLED: "partially_paid",
  FILLED: "succeeded",
  OVER_FILLED: "overpaid",
  CANCELLED: "cancelled",
} as const satisfies Record<Exclude<PayramStatus, "UNDEFINED">, PaymentStatus>;

/**
 * Binds the Payram reducer to the ledger: the payment's facts after this notification. Payram
 * has no test mode, so every payment is live; what it was requested for is `amount`, what it
 * settled the highest `filled_amount` seen (money once received is never uncounted). Whether it
 * pays an order is the core's rule, not Payram's. `receivedAt` (ms) stands in for Payram's own
 * timestamp when the notification has none.
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
  const previous = current.payment?.facts;
  const settled = Math.max(previous?.settled ?? 0, received ?? 0);
  return {
    kind: "applied",
    payment: {
      facts: {
        status: outcome.state.status ? PAYMENT_STATUS[outcome.state.status] : "unknown",
        currency: n.currency,
        // What the payment was requested for is fixed when it is first stated.
        requested: previous?.requested ?? n.amount,
        settled,
        refunded: 0,
        livemode: true,
      },
      providerStatus: outcome.state.status ?? n.rawStatus,
      at: occurredAt,
      state: outcome.state,
    },
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
          ...(n.filledAmountUsd !== null ? { filledAmountUsd: n.filledAmountUsd } : {}),
        },
      },
    ],
  };
}
