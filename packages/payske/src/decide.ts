import type { OrderRecord, PaymentDecision, PaymentEventType, PaymentFacts, PaymentRecord } from "@payhooks/core";
import type { PayskeNotification } from "./schemas";

/** How far a payment has come; the ledger only moves up this list (a refund is never undone). */
const RANK = { none: 0, failed: 1, succeeded: 2, refunded: 3 } as const;
export type PayskeStatus = keyof typeof RANK;

/** What the ledger keeps per Payske payment (PaymentRecord.state). */
export type PayskeState = {
  status: PayskeStatus;
  /** `created` (ms) of the last event applied */
  createdMs: number;
  disputes: string[];
  /** the ids of the last SEEN_LIMIT events applied, oldest first (see SEEN_LIMIT) */
  seen: string[];
};

/**
 * How many event ids a payment remembers. The list is a shortcut, not what makes a redelivery
 * harmless, so it need not be whole (a payment refunded a cent at a time would otherwise grow its
 * record without end). What refuses an old event is that the facts only move forward:
 * - a success or failure after the payment ranked higher (RANK) is ignored, and an older failure
 *   after a newer one (by `created`) too;
 * - a refund counts only when Stripe's running `amount_refunded` grew past what was recorded, so an
 *   old refund event (a smaller or equal running total) changes nothing;
 * - a dispute is recorded once per dispute id (`disputes` is kept whole: a charge has at most a
 *   dispute or two).
 * The one event these rules let through twice is a failure whose `created` second is that of the
 * latest event applied, redelivered after 100 more events of the same payment, and after BullMQ
 * forgot its job: BullMQ refuses a redelivery under the same job id (`payske-{event id}`) for as
 * long as it keeps completed jobs (7 days, JOB_OPTIONS.provider).
 */
export const SEEN_LIMIT = 100;

export const INITIAL_PAYSKE_STATE: PayskeState = { status: "none", createdMs: 0, disputes: [], seen: [] };

type Current = { payment: PaymentRecord | null; order: OrderRecord | null };

const NO_FACTS = { requested: null, settled: 0, refunded: 0, currency: null } as const;

/**
 * Binds a Payske event to the ledger: the payment's facts after it. succeeded → what the
 * PaymentIntent (or Checkout Session) was for and what it received; failed → nothing received;
 * refunded → Stripe's running `amount_refunded`; dispute → `disputed`, the money still counted
 * until it is refunded. Events arrive out of order: the status only moves forward and the
 * amounts only grow, so a success that arrives after its refund changes nothing. Whether the
 * payment pays its order is the core's rule (same mode, currency and amount), not decided here.
 * `n.livemode` is the mode the ingress established from the secret that verified the event.
 */
export function decidePayske(n: PayskeNotification, current: Current): PaymentDecision {
  const state = { ...INITIAL_PAYSKE_STATE, ...((current.payment?.state as Partial<PayskeState> | undefined) ?? {}) };
  if (state.seen.includes(n.eventId)) return { kind: "ignored", reason: "event already applied" };
  if (current.payment && current.payment.facts.livemode !== n.livemode) {
    return { kind: "ignored", reason: "a test-mode and a live-mode payment share this id: kept apart" };
  }
  const prev = current.payment?.facts ?? { ...NO_FACTS, status: "unknown" as const, livemode: n.livemode };
  const occurredAt = new Date(n.createdMs).toISOString();
  const base = { ...state, seen: [...state.seen, n.eventId].slice(-SEEN_LIMIT), createdMs: Math.max(state.createdMs, n.createdMs) };

  const apply = (
    next: PayskeState,
    facts: Omit<PaymentFacts, "livemode">,
    event: { type: PaymentEventType; amount: number | null; currency: string | null; data: Record<string, unknown> },
  ): PaymentDecision => ({
    kind: "applied",
    payment: { facts: { ...facts, livemode: n.livemode }, providerStatus: next.status, at: occurredAt, state: next },
    events: [{ ...event, occurredAt, data: { eventId: n.eventId, eventType: n.type, ...event.data } }],
  });

  const change = n.change;
  switch (change.kind) {
    case "succeeded": {
      // A success that says no amount (an old Checkout Session) leaves the payment undetermined:
      // a later success that states the amount (its PaymentIntent) fills it in.
      const fillsIn = state.status === "succeeded" && prev.requested === null && prev.settled === 0 && change.amount !== null;
      if (RANK[state.status] >= RANK.succeeded && !fillsIn) return { kind: "ignored", reason: `already ${state.status}` };
      const currency = change.currency ?? prev.currency;
      return apply(
        { ...base, status: "succeeded" },
        {
          // A dispute that overtook the success stays the payment's status.
          status: state.disputes.length > 0 ? "disputed" : "succeeded",
          currency,
          requested: change.requested ?? prev.requested,
          settled: Math.max(prev.settled, change.amount ?? 0),
          refunded: prev.refunded,
        },
        { type: "payment.succeeded", amount: change.amount, currency, data: {} },
      );
    }
    case "failed": {
      if (RANK[state.status] > RANK.failed) return { kind: "ignored", reason: `a failure after the payment ${state.status}` };
      if (state.status === "failed" && n.createdMs < state.createdMs) return { kind: "ignored", reason: "an older failure" };
      return apply(
        { ...base, status: "failed" },
        { status: "failed", currency: change.currency, requested: change.amount, settled: prev.settled, refunded: prev.refunded },
        { type: "payment.failed", amount: change.amount, currency: change.currency, data: change.failureCode ? { failureCode: change.failureCode } : {} },
      );
    }
    case "refunded": {
      if (change.amountRefunded <= prev.refunded) return { kind: "ignored", reason: "refund already counted" };
      // A refund that overtook the success still tells us the payment was made.
      return apply(
        { ...base, status: "refunded" },
        {
          status: "refunded",
          currency: change.currency,
          requested: prev.requested ?? change.chargeAmount,
          settled: Math.max(prev.settled, change.chargeAmount),
          refunded: change.amountRefunded,
        },
        {
          type: "payment.refunded",
          amount: change.amountRefunded - prev.refunded,
          currency: change.currency,
          data: { amountRefunded: change.amountRefunded, chargeAmount: change.chargeAmount },
        },
      );
    }
    case "disputed": {
      if (state.disputes.includes(change.disputeId)) return { kind: "ignored", reason: "dispute already recorded" };
      return apply(
        { ...base, disputes: [...state.disputes, change.disputeId] },
        {
          status: "disputed",
          currency: prev.currency ?? change.currency,
          requested: prev.requested,
          settled: prev.settled,
          refunded: prev.refunded,
        },
        {
          type: "payment.disputed",
          amount: change.amount,
          currency: change.currency,
          data: { disputeId: change.disputeId, ...(change.reason ? { reason: change.reason } : {}) },
        },
      );
    }
    default: {
      const exhaustive: never = change;
      return exhaustive;
    }
  }
}
