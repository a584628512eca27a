import { UnrecoverableError, type Job } from "bullmq";
import { EnvelopeSchema, type Ledger, type PaymentDecision } from "@payhooks/core";
import {
  PAYME_ERRORS,
  checkPerform,
  checkTransaction,
  decideCancel,
  decideCreate,
  decidePerform,
  decideSetFiscalData,
  orderIdOf,
  parseCall,
  parseParams,
  rpcError,
  statementIndex,
  statementItem,
  type PaymeContext,
  type PaymeCurrent,
  type PaymeOutcome,
  type PaymeReply,
} from "@payhooks/payme";
import type { Emitter } from "../emitter";

/**
 * A Payme job's return value: the ingress wraps `reply` in the JSON-RPC response. `orderId` is the
 * order the call concerns (the account's for Check/Create, the stored transaction's otherwise;
 * null when it names none): the worker indexes the job under it (`payhooks jobs payme --order`).
 */
export type PaymeJobResult =
  | { reply: PaymeReply; outcome: "applied" | "ignored" | "read"; events: string[]; orderId: string | null }
  /** picked up after the ingress stopped waiting: not acted on, Payme has had -32400 and retries */
  | { late: true };

/**
 * The Payme processor: one JSON-RPC call per job, answered from the ledger. Transitions are
 * decided by the pure functions of @payhooks/payme and written through the ledger's
 * compare-and-set, so concurrent calls on one transaction or one order end in one state.
 */
export function createPaymeProcessor(deps: {
  ledger: Ledger;
  emitter: Emitter;
  accountField: string;
  /** business clock: create/perform/cancel times and the 12-hour rule */
  clock: () => number;
  /** wall clock the ingress's replyBy is compared with */
  wallClock?: () => number;
}) {
  const { ledger, emitter, accountField, clock } = deps;
  const wallClock = deps.wallClock ?? Date.now;

  /** Runs a transition through the ledger and returns the answer of the decision that stuck. */
  async function transition(
    id: string,
    orderId: string | null,
    decide: (current: PaymeCurrent, ctx: PaymeContext) => PaymeOutcome,
    livemode: boolean,
  ): Promise<PaymeJobResult> {
    let reply: PaymeReply | undefined;
    const result = await ledger.applyPayment({
      provider: "payme",
      providerPaymentId: id,
      ...(orderId ? { orderId } : {}),
      livemode,
      decide: (current): PaymentDecision => {
        const outcome = decide(current, { now: clock(), livemode, accountField });
        reply = outcome.reply;
        return outcome.decision;
      },
    });
    // On a replay too: the change may be this very run's (its ledger-cas ran, the reply was lost
    // when Redis died, ioredis re-sent the script and it found the change made) or a dead run's;
    // either way its events wait in the payment's outbox, and nothing else sends them soon.
    const sent = await emitter.flushPayment("payme", id);
    // The transaction's order as stored (or, for a Create refused before anything was stored, the account's).
    return { reply: reply!, outcome: result.kind, events: sent.map((e) => e.id), orderId: result.orderId ?? orderId };
  }

  return async (job: Job): Promise<PaymeJobResult> => {
    const envelope = EnvelopeSchema.safeParse(job.data);
    if (!envelope.success || envelope.data.provider !== "payme") throw new UnrecoverableError("invalid payme envelope");
    if (envelope.data.replyBy !== undefined && wallClock() > envelope.data.replyBy) return { late: true };
    const parsed = parseCall(envelope.data.payload);
    if (!parsed.ok) return { reply: parsed.reply, outcome: "read", events: [], orderId: null };
    const { method, params } = parsed.call;
    const livemode = envelope.data.livemode ?? true;
    const read = (reply: PaymeReply, orderId: string | null = null): PaymeJobResult => ({ reply, outcome: "read", events: [], orderId });

    switch (method) {
      case "CheckPerformTransaction": {
        const p = parseParams(method, params);
        if (!p.ok) return read(p.reply);
        const orderId = orderIdOf(p.params, accountField);
        const order = orderId ? await ledger.getOrderRecord(orderId) : null;
        return read(checkPerform(p.params, order, { now: clock(), livemode, accountField }), orderId);
      }
      case "CreateTransaction": {
        const p = parseParams(method, params);
        if (!p.ok) return read(p.reply);
        return transition(p.params.id, orderIdOf(p.params, accountField), (c, ctx) => decideCreate(p.params, c, ctx), livemode);
      }
      case "PerformTransaction": {
        const p = parseParams(method, params);
        if (!p.ok) return read(p.reply);
        return transition(p.params.id, null, (c, ctx) => decidePerform(c, ctx), livemode);
      }
      case "CancelTransaction": {
        const p = parseParams(method, params);
        if (!p.ok) return read(p.reply);
        return transition(p.params.id, null, (c, ctx) => decideCancel(p.params, c, ctx), livemode);
      }
      case "SetFiscalData": {
        const p = parseParams(method, params);
        if (!p.ok) return read(p.reply);
        return transition(p.params.id, null, (c, ctx) => decideSetFiscalData(p.params, c, ctx), livemode);
      }
      case "CheckTransaction": {
        const p = parseParams(method, params);
        if (!p.ok) return read(p.reply);
        const payment = await ledger.getPayment("payme", p.params.id);
        return read(checkTransaction(payment, { livemode }), payment?.orderId ?? null);
      }
      case "GetStatement": {
        const p = parseParams(method, params);
        if (!p.ok) return read(p.reply);
        const { from, to } = p.params;
        const rows = from > to ? [] : await ledger.listIndexed("payme", statementIndex(livemode), from, to);
        return read({ result: { transactions: rows.filter((r) => r.facts.livemode === livemode).map(statementItem) } });
      }
      case "ChangePassword":
        // The ingress answers it and never enqueues it: a password must not sit in a job.
        return read(rpcError(PAYME_ERRORS.METHOD_NOT_FOUND, method));
      default: {
        const exhaustive: never = method;
        return exhaustive;
      }
    }
  };
}
