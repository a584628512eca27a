import type { OrderRecord, OrderStatus, PaymentDecision, PaymentEventType, PaymentRecord } from "@payhooks/core";
import type { PayskeNotification } from "./schemas";

/** How far a payment has come; the ledger only moves up this list (a refund is never undone). */
const RANK = { none: 0, failed: 1, succeeded: 2, refunded: 3 } as const;
export type PayskeStatus = keyof typeof RANK;

/** What the ledger keeps per Payske payment (PaymentRecord.state). */
export type PayskeState = {
  status: PayskeStatus;
  /** minor units received, once a success or a refund told us */
  received: number;
  /** minor units refunded so far (Stripe's cumulative amount_refunded) */
  refunded: number;
  /** whether this payment's money counts towards its order (same currency, exact amount) */
  counted: boolean;
  /** `created` (ms) of the last event applied */
  createdMs: number;
  disputes: string[];
  /** every event id applied: a redelivery under a new job id is refused here, forever */
  seen: string[];
};

export const INITIAL_PAYSKE_STATE: PayskeState = {
  status: "none",
  received: 0,
  refunded: 0,
  counted: false,
  createdMs: 0,
  disputes: [],
  seen: [],
};

type Current = { payment: PaymentRecord | null; order: OrderRecord | null };

/** Whether `amount` in `currency` pays `order` exactly (the only case that moves the order). */
function pays(order: OrderRecord | null, amount: number | null, currency: string | null): boolean {
  return order !== null && amount !== null && currency === order.currency && amount === order.amount;
}

/** The order's paidAmount after this payment's contribution becomes `contribution`. */
function paidAfter(current: Current, contribution: number): number {
  const { payment, order } = current;
  const counted = payment && order && payment.orderId === order.orderId ? payment.contribution : 0;
  return (order?.paidAmount ?? 0) - counted + contribution;
}

/**
 * Binds a Payske event to the ledger (issue 5): succeeded → `payment.succeeded` and the order
 * `paid` when currency and amount match it (else `payment.amount_mismatch`, order unchanged);
 * failed → `payment.failed`; refunded → `payment.refunded` for the newly refunded amount;
 * dispute → `payment.disputed`. Events arrive out of order: the state only moves forward, so a
 * success that arrives after the refund of the same payment changes nothing.
 */
export function decidePayske(n: PayskeNotification, current: Current): PaymentDecision {
  const state = (current.payment?.state as PayskeState | undefined) ?? INITIAL_PAYSKE_STATE;
  if (state.seen.includes(n.eventId)) return { kind: "ignored", reason: "event already applied" };
  if (current.payment && current.payment.livemode !== n.livemode) {
    return { kind: "ignored", reason: "a test-mode and a live-mode payment share this id: kept apart" };
  }
  // Test-mode money never moves an order: a test secret in the wrong place cannot mark real orders
  // paid. Its payments and events are still recorded (livemode: false) under the order they name.
  const order = n.livemode ? current.order : null;
  const occurredAt = new Date(n.createdMs).toISOString();
  const base = { ...state, seen: [...state.seen, n.eventId], createdMs: Math.max(state.createdMs, n.createdMs) };

  const apply = (
    next: PayskeState,
    event: { type: PaymentEventType; amount: number | null; currency: string | null; data: Record<string, unknown> },
    orderStatus: OrderStatus | undefined,
  ): PaymentDecision => ({
    kind: "applied",
    payment: {
      status: next.status,
      amount: next.received || event.amount,
      currency: event.currency,
      at: occurredAt,
      livemode: n.livemode,
      contribution: next.counted ? Math.max(0, next.received - next.refunded) : 0,
      state: next,
    },
    ...(orderStatus && order ? { orderStatus } : {}),
    events: [{ ...event, occurredAt, data: { eventId: n.eventId, eventType: n.type, ...event.data } }],
  });

  const change = n.change;
  switch (change.kind) {
    case "succeeded": {
      // A success seen before any event named its order (a PaymentIntent without metadata, then
      // the Checkout Session with client_reference_id) is matched to the order now.
      const matchesLate = state.status === "succeeded" && current.payment?.orderId === null && order !== null && !state.counted;
      if (RANK[state.status] >= RANK.succeeded && !matchesLate) return { kind: "ignored", reason: `already ${state.status}` };
      const counted = pays(order, change.amount, change.currency);
      const next: PayskeState = { ...base, status: "succeeded", received: change.amount ?? 0, counted };
      const mismatch = order !== null && !counted;
      return apply(
        next,
        {
          type: mismatch ? "payment.amount_mismatch" : "payment.succeeded",
          amount: change.amount,
          currency: change.currency,
          data: mismatch ? { orderAmount: order.amount, orderCurrency: order.currency } : {},
        },
        counted ? (paidAfter(current, next.received) > order!.amount ? "overpaid" : "paid") : undefined,
      );
    }
    case "failed": {
      if (RANK[state.status] > RANK.failed) return { kind: "ignored", reason: `a failure after the payment ${state.status}` };
      if (state.status === "failed" && n.createdMs < state.createdMs) return { kind: "ignored", reason: "an older failure" };
      return apply(
        { ...base, status: "failed" },
        { type: "payment.failed", amount: change.amount, currency: change.currency, data: change.failureCode ? { failureCode: change.failureCode } : {} },
        undefined,
      );
    }
    case "refunded": {
      if (change.amountRefunded <= state.refunded) return { kind: "ignored", reason: "refund already counted" };
      // A refund that overtook the success still tells us the payment was made.
      const firstSight = state.status === "none" || state.status === "failed";
      const counted = firstSight ? pays(order, change.chargeAmount, change.currency) : state.counted;
      const next: PayskeState = {
        ...base,
        status: "refunded",
        received: Math.max(state.received, change.chargeAmount),
        refunded: change.amountRefunded,
        counted,
      };
      const remaining = paidAfter(current, counted ? Math.max(0, next.received - next.refunded) : 0);
      // A partial refund leaves a paid order paid (with less paidAmount); it never makes it partially_paid.
      const orderStatus: OrderStatus | undefined = !counted
        ? undefined
        : remaining <= 0
          ? "refunded"
          : remaining > order!.amount
            ? "overpaid"
            : remaining === order!.amount || firstSight
              ? "paid"
              : undefined;
      return apply(
        next,
        {
          type: "payment.refunded",
          amount: change.amountRefunded - state.refunded,
          currency: change.currency,
          data: { amountRefunded: change.amountRefunded, chargeAmount: change.chargeAmount },
        },
        orderStatus,
      );
    }
    case "disputed": {
      if (state.disputes.includes(change.disputeId)) return { kind: "ignored", reason: "dispute already recorded" };
      return apply(
        { ...base, disputes: [...state.disputes, change.disputeId] },
        {
          type: "payment.disputed",
          amount: change.amount,
          currency: change.currency,
          data: { disputeId: change.disputeId, ...(change.reason ? { reason: change.reason } : {}) },
        },
        undefined,
      );
    }
    default: {
      const exhaustive: never = change;
      return exhaustive;
    }
  }
}
