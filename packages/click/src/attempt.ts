import {
  ORDER_ID_PATTERN,
  type OrderRecord,
  type PaymentDecision,
  type PaymentEventType,
  type PaymentRecord,
  type PaymentStatus,
} from "@payhooks/core";
import { CLICK_ERRORS, clickReply, type ClickErrorCode, type ClickReply, type Echo } from "./codes";
import { soumToTiyin } from "./money";
import type { ClickCall } from "./request";

/**
 * Click's attempt states (docs/protocols/click.md#status-mapping, #retries-and-idempotency), decided by pure functions over
 * the ledger's current record, so the ledger's compare-and-set applies each transition once.
 * One ledger payment per Click attempt, keyed by `click_trans_id`.
 */

export type ClickState = "prepared" | "completed" | "cancelled";

/** A Click attempt as the ledger keeps it (PaymentRecord.state). Times are ISO strings. */
export type ClickAttempt = {
  state: ClickState;
  /** ours: returned by Prepare, echoed by Click in Complete, and the Complete's lookup key */
  merchantPrepareId: number;
  clickTransId: string;
  clickPaydocId: string;
  merchantTransId: string;
  serviceId: string;
  /** tiyin */
  amount: number;
  /** the amount as Prepare sent it (soum text) */
  amountText: string;
  signTime: string;
  preparedAt: string;
  completedAt?: string;
  cancelledAt?: string;
  /** a cancelling Complete's `error` and `error_note` */
  clickError?: number;
  clickErrorNote?: string;
  /** a Complete that carried another `click_trans_id` than the Prepare (Click's tester does) */
  completeClickTransId?: string;
};

/** What the decisions read: the attempt's payment record and its order. */
export type ClickCurrent = { payment: PaymentRecord | null; order: OrderRecord | null };

/** Everything a decision depends on besides the records. */
export type ClickContext = { now: number };

/** An answer and what it writes ("ignored" writes nothing). */
export type ClickOutcome = { reply: ClickReply; decision: PaymentDecision };

/** Each state in the shared vocabulary: a prepared attempt holds (reserves) the order. */
const PAYMENT_STATUS = { prepared: "held", completed: "succeeded", cancelled: "cancelled" } as const satisfies Record<ClickState, PaymentStatus>;
const EVENT_TYPE = { prepared: "payment.pending", completed: "payment.succeeded", cancelled: "payment.cancelled" } as const satisfies Record<
  ClickState,
  PaymentEventType
>;
const STATES: readonly string[] = ["prepared", "completed", "cancelled"];

/** The attempt a payment record holds, or null when it holds none. */
export function attemptOf(payment: PaymentRecord | null): ClickAttempt | null {
  if (!payment || payment.provider !== "click") return null;
  const s = payment.state as Partial<ClickAttempt>;
  if (typeof s.state !== "string" || !STATES.includes(s.state) || !Number.isSafeInteger(s.merchantPrepareId) || !Number.isSafeInteger(s.amount)) {
    return null;
  }
  return s as ClickAttempt;
}

const echoOf = (call: ClickCall): Echo => ({ click_trans_id: call.click_trans_id, merchant_trans_id: call.merchant_trans_id });
const ignored = (reply: ClickReply, reason: string): ClickOutcome => ({ reply, decision: { kind: "ignored", reason } });
const unchanged = (call: ClickCall, code: ClickErrorCode, reason: string, ids: Parameters<typeof clickReply>[2] = {}): ClickOutcome =>
  ignored(clickReply(code, echoOf(call), ids), reason);

/** The order a call names, when it is one payhooks can have and it exists; Click pays live orders only. */
export function namedOrder(call: Pick<ClickCall, "merchant_trans_id">, order: OrderRecord | null): OrderRecord | null {
  if (!ORDER_ID_PATTERN.test(call.merchant_trans_id) || !order) return null;
  if (order.orderId !== call.merchant_trans_id || !order.livemode) return null;
  return order;
}

/**
 * Whether the order may take a new Click attempt (docs/protocols/click.md#prepare, step 9): -4
 * when paid, -9 when it cannot be paid any more or another provider's payment holds it, null
 * when it awaits payment or is reserved only by prepared Click attempts.
 */
export function orderRefusal(order: OrderRecord): ClickErrorCode | null {
  switch (order.status) {
    case "awaiting_payment":
      return null;
    case "paid":
    case "overpaid":
      return CLICK_ERRORS.ALREADY_PAID;
    case "reserved": {
      const heldByOthers = Object.entries(order.payments).some(([member, f]) => f.status === "held" && !member.startsWith("click/"));
      return heldByOthers ? CLICK_ERRORS.TRANSACTION_CANCELLED : null;
    }
    default:
      // partially_paid, partially_refunded, refunded: not a one-time order Click can pay now.
      return CLICK_ERRORS.TRANSACTION_CANCELLED;
  }
}

/** Writes `next` as the payment's facts with its one event. Money is settled once completed. */
function write(next: ClickAttempt, at: string, data: Record<string, unknown> = {}): PaymentDecision {
  return {
    kind: "applied",
    payment: {
      facts: {
        status: PAYMENT_STATUS[next.state],
        currency: "UZS",
        requested: next.amount,
        settled: next.state === "completed" ? next.amount : 0,
        refunded: 0,
        // Click has no test flag: its own test tools sign with the real key (docs/protocols/click.md#test-and-live-mode).
        livemode: true,
      },
      providerStatus: next.state,
      at,
      state: next as unknown as Record<string, unknown>,
    },
    events: [
      {
        type: EVENT_TYPE[next.state],
        amount: next.amount,
        currency: "UZS",
        occurredAt: at,
        data: {
          clickTransId: next.clickTransId,
          clickPaydocId: next.clickPaydocId,
          merchantPrepareId: next.merchantPrepareId,
          serviceId: next.serviceId,
          signTime: next.signTime,
          ...data,
        },
      },
    ],
  };
}

/**
 * Prepare (docs/protocols/click.md#prepare, steps 7–11): the attempt by `click_trans_id` first
 * (a repeat answers as the first did), then the order (-5), its state (-4/-9), the amount
 * (-2), and only then a new attempt: prepared, holding the order, one `payment.pending`.
 */
export function decidePrepare(call: ClickCall, current: ClickCurrent, ctx: ClickContext): ClickOutcome {
  const tiyin = soumToTiyin(call.amount);
  if (current.payment) {
    const attempt = attemptOf(current.payment);
    if (!attempt) return unchanged(call, CLICK_ERRORS.FAILED_TO_UPDATE, "unreadable attempt");
    if (attempt.merchantTransId !== call.merchant_trans_id) return unchanged(call, CLICK_ERRORS.BAD_REQUEST, "attempt belongs to another order");
    if (tiyin === null || tiyin !== attempt.amount) return unchanged(call, CLICK_ERRORS.INCORRECT_AMOUNT, "amount differs from the attempt's");
    const ids = { merchant_prepare_id: attempt.merchantPrepareId };
    if (attempt.state === "prepared") return unchanged(call, CLICK_ERRORS.SUCCESS, "repeat of Prepare", ids);
    if (attempt.state === "completed") return unchanged(call, CLICK_ERRORS.ALREADY_PAID, "attempt already completed", ids);
    return unchanged(call, CLICK_ERRORS.TRANSACTION_CANCELLED, "attempt cancelled", ids);
  }
  const order = namedOrder(call, current.order);
  if (!order) return unchanged(call, CLICK_ERRORS.USER_NOT_FOUND, "unknown order");
  const refusal = orderRefusal(order);
  if (refusal !== null) return unchanged(call, refusal, `order is ${order.status}`);
  if (order.currency !== "UZS" || tiyin === null || tiyin !== order.amount) {
    return unchanged(call, CLICK_ERRORS.INCORRECT_AMOUNT, "amount differs from the order's");
  }
  if (call.proposed_prepare_id === undefined) return unchanged(call, CLICK_ERRORS.FAILED_TO_UPDATE, "no merchant_prepare_id reserved");
  const at = new Date(ctx.now).toISOString();
  const attempt: ClickAttempt = {
    state: "prepared",
    merchantPrepareId: call.proposed_prepare_id,
    clickTransId: call.click_trans_id,
    clickPaydocId: call.click_paydoc_id,
    merchantTransId: call.merchant_trans_id,
    serviceId: call.service_id,
    amount: tiyin,
    amountText: call.amount,
    signTime: call.sign_time,
    preparedAt: at,
  };
  return {
    reply: clickReply(CLICK_ERRORS.SUCCESS, echoOf(call), { merchant_prepare_id: attempt.merchantPrepareId }),
    decision: write(attempt, at),
  };
}

/** Whether `payment` is the attempt a Complete names: its `merchant_prepare_id`, for its order. */
export function isNamedAttempt(call: Pick<ClickCall, "merchant_prepare_id" | "merchant_trans_id">, payment: PaymentRecord | null): boolean {
  const attempt = attemptOf(payment);
  return (
    attempt !== null &&
    call.merchant_prepare_id !== null &&
    String(attempt.merchantPrepareId) === String(BigInt(call.merchant_prepare_id)) &&
    attempt.merchantTransId === call.merchant_trans_id
  );
}

/**
 * Complete (docs/protocols/click.md#complete, steps 6–9): the order (-5), the attempt by
 * `merchant_prepare_id` (-6); a completed attempt answers -4 and a cancelled one -9 whatever
 * `error` says; then the amount (-2), then `error` < 0 cancels (-9, the order released unless
 * another prepared attempt holds it), then an order already paid (-4), else completed (0).
 * Another `click_trans_id` than the Prepare's is tolerated and recorded.
 */
export function decideComplete(call: ClickCall, current: ClickCurrent, ctx: ClickContext): ClickOutcome {
  const order = namedOrder(call, current.order);
  if (!order) return unchanged(call, CLICK_ERRORS.USER_NOT_FOUND, "unknown order");
  if (!isNamedAttempt(call, current.payment) || current.payment!.orderId !== order.orderId) {
    return unchanged(call, CLICK_ERRORS.TRANSACTION_NOT_FOUND, "unknown merchant_prepare_id");
  }
  const attempt = attemptOf(current.payment)!;
  const ids = { merchant_confirm_id: attempt.merchantPrepareId };
  if (attempt.state === "completed") return unchanged(call, CLICK_ERRORS.ALREADY_PAID, "attempt already completed", ids);
  if (attempt.state === "cancelled") return unchanged(call, CLICK_ERRORS.TRANSACTION_CANCELLED, "attempt already cancelled", ids);
  const tiyin = soumToTiyin(call.amount);
  if (tiyin === null || tiyin !== attempt.amount) return unchanged(call, CLICK_ERRORS.INCORRECT_AMOUNT, "amount differs from the attempt's");
  const at = new Date(ctx.now).toISOString();
  const other = call.click_trans_id !== attempt.clickTransId ? { completeClickTransId: call.click_trans_id } : {};
  if (call.error < 0) {
    const next: ClickAttempt = { ...attempt, ...other, state: "cancelled", cancelledAt: at, clickError: call.error, clickErrorNote: call.error_note };
    return {
      reply: clickReply(CLICK_ERRORS.TRANSACTION_CANCELLED, echoOf(call), ids),
      decision: write(next, at, { clickError: call.error, clickErrorNote: call.error_note, ...other }),
    };
  }
  if (order.status === "paid" || order.status === "overpaid") {
    return unchanged(call, CLICK_ERRORS.ALREADY_PAID, `order is already ${order.status}`, ids);
  }
  const next: ClickAttempt = { ...attempt, ...other, state: "completed", completedAt: at };
  return { reply: clickReply(CLICK_ERRORS.SUCCESS, echoOf(call), ids), decision: write(next, at, other) };
}
