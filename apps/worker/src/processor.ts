import { UnrecoverableError, type Job } from "bullmq";
import {
  EnvelopeSchema,
  MoneyError,
  PayloadValidationError,
  type AppliedChange,
  type CallResult,
  type Envelope,
  type Ledger,
  type NotificationResult,
  type PaymentChange,
  type ProviderModule,
  type WorkerContext,
} from "@payhooks/core";
import type { Emitter } from "./emitter";
import { QUARANTINED } from "./metrics";

/** A notification job's return value. */
export type ProcessResult = NotificationResult;

/**
 * The tail every change shares: apply it through the ledger's compare-and-set, then send the
 * payment's events from the outbox — this run's, and any a crashed run left behind (on a replay
 * too: the change may be this very run's, whose reply was lost when Redis died). `inline`: the
 * merchant's first attempt is made now (notifications), not by a job (request–reply calls).
 */
export async function applyAndEmit(deps: { ledger: Ledger; emitter: Emitter }, change: PaymentChange, inline = false): Promise<AppliedChange> {
  const result = await deps.ledger.applyPayment(change);
  const sent = await deps.emitter.flushPayment(change.provider, change.providerPaymentId, inline);
  return { result, events: sent.map((e) => e.id) };
}

/**
 * How long before a call's `replyBy` a worker stops changing the ledger for it: the time the
 * compare-and-set, the events and the answer's trip back to the ingress may take. A fifth of
 * the caller's wait, at most 500 ms.
 */
export function lateMargin(waitMs: number): number {
  return Math.min(500, Math.max(0, Math.floor(waitMs / 5)));
}

/** The envelope of a job on `module`'s queue; input that can never succeed fails for good. */
function envelopeOf(module: ProviderModule, job: Job): Envelope {
  const parsed = EnvelopeSchema.safeParse(job.data);
  if (!parsed.success) throw new UnrecoverableError(`invalid envelope: ${parsed.error.issues[0]?.message ?? "?"}`);
  if (parsed.data.provider !== module.id) throw new UnrecoverableError(`envelope for ${parsed.data.provider} on the ${module.id} queue`);
  return parsed.data;
}

export type ProcessorDeps<C> = {
  ledger: Ledger;
  emitter: Emitter;
  /** the loaded configuration (a superset of every module's variables) */
  config: C;
  /** business clock: what a state machine records (CLOCK_OFFSET_MS applies) */
  clock: () => number;
  /** wall clock the ingress's replyBy is compared with */
  wallClock?: () => number;
};

/**
 * The one processor every provider queue runs, by the kind of the module's worker part:
 * - a notification is interpreted into a ledger change (or why it changes nothing), applied,
 *   and its events sent. What it cannot read (a bad envelope; a payload or money it cannot
 *   interpret: "quarantined") fails at once with UnrecoverableError; anything else (Redis
 *   trouble, contention) is thrown for a retry.
 * - a request–reply call (the lane Payme and Click share) is answered from the ledger unless it
 *   came after the ingress stopped waiting (`replyBy`): then it is not acted on, the provider has
 *   been told to retry.
 */
export function createProviderProcessor<C>(module: ProviderModule, deps: ProcessorDeps<C>): (job: Job) => Promise<ProcessResult | CallResult> {
  const worker = module.worker;
  if (worker.kind === "request-reply") {
    const wallClock = deps.wallClock ?? Date.now;
    return async (job) => {
      const envelope = envelopeOf(module, job);
      const { replyBy } = envelope;
      if (replyBy !== undefined && wallClock() > replyBy) return { late: true };
      // A change is made only while its answer can still reach the caller: decided past
      // `replyBy - margin`, it is not made, and the caller's retry (it heard "unavailable")
      // finds the ledger as it was. Without this a change committed just after the ingress gave
      // up would answer a retry as a repeat (Click's -4) though the first answer was an error.
      const deadline = replyBy === undefined ? Infinity : replyBy - lateMargin(replyBy - envelope.receivedAt);
      let tooLate = false;
      const ctx: WorkerContext<C> = {
        config: deps.config,
        ledger: deps.ledger,
        clock: deps.clock,
        apply: (change) =>
          applyAndEmit(deps, {
            ...change,
            decide: (current) => {
              if (wallClock() > deadline) {
                tooLate = true;
                return { kind: "ignored", reason: "the caller stopped waiting for this answer" };
              }
              return change.decide(current);
            },
          }),
      };
      const answer = await worker.answer(envelope, ctx);
      return tooLate ? { late: true } : answer;
    };
  }
  return async (job) => {
    const envelope = envelopeOf(module, job);
    try {
      if (envelope.unreadable) throw new PayloadValidationError(`body: ${envelope.unreadable} (its bytes are kept in rawBody, base64)`);
      const change = worker.interpret(envelope, deps.config);
      if ("ignore" in change) return { outcome: "ignored", reason: change.ignore, orderId: null, events: [] };
      // A notification's events go to the merchant in line: its provider is answered already.
      const { result, events } = await applyAndEmit(deps, change, true);
      return {
        outcome: result.kind,
        ...(result.kind === "ignored" ? { reason: result.reason } : {}),
        paymentId: change.providerPaymentId,
        orderId: result.orderId,
        events,
      };
    } catch (err) {
      // An authenticated delivery we cannot interpret: failed for good, kept and counted as
      // quarantined, re-processable with `payhooks retry` once payhooks reads it.
      if (err instanceof PayloadValidationError || err instanceof MoneyError) throw new UnrecoverableError(`${QUARANTINED}${err.message}`);
      throw err;
    }
  };
}
