import { z } from "zod";
import {
  ORDER_ID_PATTERN,
  type OrderRecord,
  type PaymentDecision,
  type PaymentEventType,
  type PaymentRecord,
  type PaymentStatus,
  sha256Hex,
} from "@payhooks/core";
import { PAYME_ERRORS, rpcError, type PaymeReply } from "./errors";

/** 12 hours from the transaction's creation in Payme (`params.time`), docs/protocols/payme.md#12-hour-timeout. */
export const PAYME_TIMEOUT_MS = 43_200_000;

/** Cancel reasons Payme defines (docs/protocols/payme.md#canceltransaction): there are no 6–9. */
export const PAYME_REASONS = [1, 2, 3, 4, 5, 10] as const;
const REASON_TIMEOUT = 4;

export type PaymeState = 1 | 2 | -1 | -2;

/** A Payme transaction as the ledger keeps it (PaymentRecord.state). Times are ms; unset is 0. */
export type PaymeTransaction = {
  state: PaymeState;
  /** Payme's creation time, verbatim: the 12-hour clock and GetStatement run on it */
  time: number;
  amount: number;
  /** the account object as Payme sent it, returned verbatim by GetStatement */
  account: Record<string, unknown>;
  create_time: number;
  perform_time: number;
  cancel_time: number;
  reason: number | null;
  /** our transaction id, a string (docs/protocols/payme.md#createtransaction) */
  transaction: string;
  fiscal: Partial<Record<"PERFORM" | "CANCEL", unknown>>;
};

/** Everything a decision depends on besides the records: injected, never read from a global. */
export type PaymeContext = {
  now: number;
  /** false for calls made with the sandbox TEST_KEY */
  livemode: boolean;
  /** PAYME_ACCOUNT_FIELD */
  accountField: string;
};

export type PaymeCurrent = { payment: PaymentRecord | null; order: OrderRecord | null };

/** A method's answer and what it writes ("ignored" writes nothing). */
export type PaymeOutcome = { reply: PaymeReply; decision: PaymentDecision };

/** Name of the ledger index GetStatement reads, per mode: sandbox transactions are kept apart. */
export function statementIndex(livemode: boolean): string {
  return livemode ? "statement:live" : "statement:test";
}

/** Payme's own name for each state, shown to people. */
const PROVIDER_STATUS: Record<PaymeState, string> = { 1: "created", 2: "performed", [-1]: "cancelled", [-2]: "refunded" };
/** Each state in the shared vocabulary: a created transaction holds the order until performed or cancelled. */
const PAYMENT_STATUS = { 1: "held", 2: "succeeded", [-1]: "cancelled", [-2]: "refunded" } as const satisfies Record<PaymeState, PaymentStatus>;

const Id = z.string().min(1).max(64);
const Timestamp = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const Account = z.record(z.string(), z.unknown());
/**
 * Payme's Amount (docs/protocols/payme.md#money): a positive integer of tiyin. Anything else is
 * a param of the wrong type, -32600 (#order-of-checks, step 8), refused before it is queued; an
 * integer that differs from the order's is -31001, decided against the ledger.
 */
const Amount = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

export const PARAMS = {
  CheckPerformTransaction: z.object({ amount: Amount, account: Account }),
  CreateTransaction: z.object({ id: Id, time: Timestamp, amount: Amount, account: Account }),
  PerformTransaction: z.object({ id: Id }),
  CancelTransaction: z.object({
    id: Id,
    reason: z.number().refine((r) => (PAYME_REASONS as readonly number[]).includes(r), "not a Payme cancel reason"),
  }),
  CheckTransaction: z.object({ id: Id }),
  GetStatement: z.object({ from: Timestamp, to: Timestamp }),
  SetFiscalData: z.object({
    id: Id,
    type: z.enum(["PERFORM", "CANCEL"]),
    fiscal_data: z.record(z.string(), z.unknown()),
  }),
} as const;

export type PaymeParams<M extends keyof typeof PARAMS> = z.infer<(typeof PARAMS)[M]>;

/** Method params, or -32600 naming the first offending field. */
export function parseParams<M extends keyof typeof PARAMS>(
  method: M,
  params: unknown,
): { ok: true; params: PaymeParams<M> } | { ok: false; reply: PaymeReply } {
  const parsed = PARAMS[method].safeParse(params);
  if (parsed.success) return { ok: true, params: parsed.data as PaymeParams<M> };
  const field = parsed.error.issues[0]?.path[0];
  return { ok: false, reply: rpcError(PAYME_ERRORS.INVALID_REQUEST, typeof field === "string" ? field : undefined) };
}

/** The transaction of this mode, or null: a sandbox transaction does not exist for live calls and vice versa. */
export function transactionOf(payment: PaymentRecord | null, livemode: boolean): PaymeTransaction | null {
  if (!payment || payment.facts.livemode !== livemode) return null;
  return payment.state as unknown as PaymeTransaction;
}

function expired(tx: PaymeTransaction, now: number): boolean {
  return now - tx.time > PAYME_TIMEOUT_MS;
}

/** The order id in `account[field]`: a string, or an integer Payme may send as a number. */
function accountOrderId(account: Record<string, unknown>, field: string): string | null {
  const value = account[field];
  const id = typeof value === "string" ? value.trim() : Number.isSafeInteger(value) ? String(value) : null;
  return id !== null && ORDER_ID_PATTERN.test(id) ? id : null;
}

const ignored = (reply: PaymeReply, reason: string): PaymeOutcome => ({ reply, decision: { kind: "ignored", reason } });

/**
 * CheckPerformTransaction's checks (README, "Payme"), shared by
 * CreateTransaction for a new id. A one-time order takes one transaction: once reserved or paid
 * it is not payable. Live and sandbox are two worlds: a sandbox call does not see live orders,
 * and a live call does not see test orders.
 */
export function checkOrder(
  params: { amount: number; account: Record<string, unknown> },
  order: OrderRecord | null,
  ctx: Pick<PaymeContext, "accountField" | "livemode">,
): PaymeReply | null {
  const accountField = ctx.accountField;
  if (accountOrderId(params.account, accountField) === null || order === null || order.livemode !== ctx.livemode) {
    return rpcError(PAYME_ERRORS.ACCOUNT_INVALID, accountField);
  }
  // Payme pays in tiyin, UZS minor units: an order in another currency can never match.
  if (order.currency !== "UZS" || !Number.isSafeInteger(params.amount) || params.amount !== order.amount) {
    return rpcError(PAYME_ERRORS.WRONG_AMOUNT);
  }
  if (order.status !== "awaiting_payment") return rpcError(PAYME_ERRORS.CANNOT_PERFORM);
  return null;
}

/** The order id a CheckPerform/Create call names, for the ledger to read that order. */
export function orderIdOf(params: { account: Record<string, unknown> }, accountField: string): string | null {
  return accountOrderId(params.account, accountField);
}

const FiscalItem = z.object({
  title: z.string().min(1),
  price: z.number().int().nonnegative(),
  count: z.number().positive(),
  code: z.string().min(1),
  package_code: z.string().min(1),
  vat_percent: z.number().nonnegative(),
  units: z.number().int().optional(),
  discount: z.number().int().nonnegative().optional(),
});

/** CheckPerformTransaction: side-effect free. `detail` is sent when every order item is a Payme fiscal item. */
export function checkPerform(
  params: PaymeParams<"CheckPerformTransaction">,
  order: OrderRecord | null,
  ctx: PaymeContext,
): PaymeReply {
  const refused = checkOrder(params, order, ctx);
  if (refused) return refused;
  const items = z.array(FiscalItem).min(1).safeParse(order!.items);
  return { result: { allow: true, ...(items.success ? { detail: { receipt_type: 0, items: items.data } } : {}) } };
}

function createdReply(tx: PaymeTransaction): PaymeReply {
  return { result: { create_time: tx.create_time, transaction: tx.transaction, state: tx.state } };
}

function performedReply(tx: PaymeTransaction): PaymeReply {
  return { result: { transaction: tx.transaction, perform_time: tx.perform_time, state: tx.state } };
}

function cancelledReply(tx: PaymeTransaction): PaymeReply {
  return { result: { transaction: tx.transaction, cancel_time: tx.cancel_time, state: tx.state } };
}

/**
 * Writes `next` as the payment's facts with at most one event. Money is settled from Perform on;
 * a refund gives all of it back. What that does to the order is the core's rule.
 */
function write(next: PaymeTransaction, ctx: PaymeContext, change: { at: number; event?: PaymentEventType; index?: boolean }): PaymentDecision {
  const occurredAt = new Date(change.at).toISOString();
  const settled = next.state === 2 || next.state === -2 ? next.amount : 0;
  return {
    kind: "applied",
    payment: {
      facts: {
        status: PAYMENT_STATUS[next.state],
        currency: "UZS",
        requested: next.amount,
        settled,
        refunded: next.state === -2 ? next.amount : 0,
        livemode: ctx.livemode,
      },
      providerStatus: PROVIDER_STATUS[next.state],
      at: occurredAt,
      state: next as unknown as Record<string, unknown>,
    },
    ...(change.index ? { index: { name: statementIndex(ctx.livemode), score: next.time } } : {}),
    events: change.event
      ? [
          {
            type: change.event,
            amount: next.amount,
            currency: "UZS",
            occurredAt,
            data: {
              state: next.state,
              paymeTime: next.time,
              transaction: next.transaction,
              ...(next.reason !== null ? { reason: next.reason } : {}),
            },
          },
        ]
      : [],
  };
}

/** A state-1 transaction whose 12 hours ran out: cancelled with reason 4 (the order is no longer held), -31008. */
function expire(tx: PaymeTransaction, ctx: PaymeContext): PaymeOutcome {
  const next: PaymeTransaction = { ...tx, state: -1, cancel_time: ctx.now, reason: REASON_TIMEOUT };
  return {
    reply: rpcError(PAYME_ERRORS.CANNOT_PERFORM),
    decision: write(next, ctx, { at: ctx.now, event: "payment.cancelled" }),
  };
}

/** Our transaction id: derived from Payme's, so every worker computes the same string. */
export function merchantTransactionId(paymeId: string): string {
  return `ph_${sha256Hex(`payme\u0000${paymeId}`).slice(0, 24)}`;
}

/** CreateTransaction (docs/protocols/payme.md#createtransaction): the by-id lookup first, because a created order is no longer payable. */
export function decideCreate(params: PaymeParams<"CreateTransaction">, current: PaymeCurrent, ctx: PaymeContext): PaymeOutcome {
  if (current.payment) {
    const tx = transactionOf(current.payment, ctx.livemode);
    if (!tx || tx.state !== 1) return ignored(rpcError(PAYME_ERRORS.CANNOT_PERFORM), "transaction is not active");
    if (expired(tx, ctx.now)) return expire(tx, ctx);
    return ignored(createdReply(tx), "repeat of CreateTransaction");
  }
  const refused = checkOrder(params, current.order, ctx);
  if (refused) return ignored(refused, "order refused the transaction");
  if (ctx.now - params.time > PAYME_TIMEOUT_MS) return ignored(rpcError(PAYME_ERRORS.CANNOT_PERFORM), "created over 12 hours ago");
  const tx: PaymeTransaction = {
    state: 1,
    time: params.time,
    amount: params.amount,
    account: params.account,
    create_time: ctx.now,
    perform_time: 0,
    cancel_time: 0,
    reason: null,
    transaction: merchantTransactionId(params.id),
    fiscal: {},
  };
  return {
    reply: createdReply(tx),
    decision: write(tx, ctx, { at: ctx.now, event: "payment.pending", index: true }),
  };
}

/** PerformTransaction (docs/protocols/payme.md#performtransaction): 1 → 2 once; a repeat returns the stored perform_time. */
export function decidePerform(current: PaymeCurrent, ctx: PaymeContext): PaymeOutcome {
  const tx = transactionOf(current.payment, ctx.livemode);
  if (!tx) return ignored(rpcError(PAYME_ERRORS.TRANSACTION_NOT_FOUND), "unknown transaction");
  if (tx.state === 2) return ignored(performedReply(tx), "repeat of PerformTransaction");
  if (tx.state !== 1) return ignored(rpcError(PAYME_ERRORS.CANNOT_PERFORM), "transaction is cancelled");
  if (expired(tx, ctx.now)) return expire(tx, ctx);
  // The money is taken whatever the order says now: the core counts it (overpaid, if so).
  const next: PaymeTransaction = { ...tx, state: 2, perform_time: ctx.now };
  return { reply: performedReply(next), decision: write(next, ctx, { at: ctx.now, event: "payment.succeeded" }) };
}

/** CancelTransaction (docs/protocols/payme.md#canceltransaction): 1 → -1, or 2 → -2 when the order is refundable (else -31007). First cancel wins. */
export function decideCancel(params: PaymeParams<"CancelTransaction">, current: PaymeCurrent, ctx: PaymeContext): PaymeOutcome {
  const tx = transactionOf(current.payment, ctx.livemode);
  if (!tx) return ignored(rpcError(PAYME_ERRORS.TRANSACTION_NOT_FOUND), "unknown transaction");
  if (tx.state === -1 || tx.state === -2) return ignored(cancelledReply(tx), "repeat of CancelTransaction");
  const order = current.order;
  if (tx.state === 1) {
    const next: PaymeTransaction = { ...tx, state: -1, cancel_time: ctx.now, reason: params.reason };
    return {
      reply: cancelledReply(next),
      decision: write(next, ctx, { at: ctx.now, event: "payment.cancelled" }),
    };
  }
  if (!order?.refundable) return ignored(rpcError(PAYME_ERRORS.CANNOT_CANCEL), "order is not refundable");
  const next: PaymeTransaction = { ...tx, state: -2, cancel_time: ctx.now, reason: params.reason };
  return { reply: cancelledReply(next), decision: write(next, ctx, { at: ctx.now, event: "payment.refunded" }) };
}

/** CheckTransaction (docs/protocols/payme.md#checktransaction): the stored values; unset times 0, unset reason null. */
export function checkTransaction(payment: PaymentRecord | null, ctx: Pick<PaymeContext, "livemode">): PaymeReply {
  const tx = transactionOf(payment, ctx.livemode);
  if (!tx) return rpcError(PAYME_ERRORS.TRANSACTION_NOT_FOUND);
  return {
    result: {
      create_time: tx.create_time,
      perform_time: tx.perform_time,
      cancel_time: tx.cancel_time,
      transaction: tx.transaction,
      state: tx.state,
      reason: tx.reason,
    },
  };
}

/** One GetStatement row (docs/protocols/payme.md#getstatement), from a transaction listed in the statement index. */
export function statementItem(payment: PaymentRecord): Record<string, unknown> {
  const tx = payment.state as unknown as PaymeTransaction;
  return {
    id: payment.providerPaymentId,
    time: tx.time,
    amount: tx.amount,
    account: tx.account,
    create_time: tx.create_time,
    perform_time: tx.perform_time,
    cancel_time: tx.cancel_time,
    transaction: tx.transaction,
    state: tx.state,
    reason: tx.reason,
  };
}

/** SetFiscalData (docs/protocols/payme.md#setfiscaldata): the receipt data is stored with the transaction; a repeat writes nothing. */
export function decideSetFiscalData(
  params: PaymeParams<"SetFiscalData">,
  current: PaymeCurrent,
  ctx: PaymeContext,
): PaymeOutcome {
  const tx = transactionOf(current.payment, ctx.livemode);
  if (!tx) return ignored(rpcError(PAYME_ERRORS.TRANSACTION_NOT_FOUND), "unknown transaction");
  const success: PaymeReply = { result: { success: true } };
  if (JSON.stringify(tx.fiscal[params.type]) === JSON.stringify(params.fiscal_data)) return ignored(success, "repeat of SetFiscalData");
  const next: PaymeTransaction = { ...tx, fiscal: { ...tx.fiscal, [params.type]: params.fiscal_data } };
  const decision = write(next, ctx, { at: ctx.now });
  if (decision.kind === "applied") decision.payment.at = current.payment!.at;
  return { reply: success, decision };
}
