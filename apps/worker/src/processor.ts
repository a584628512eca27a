import { UnrecoverableError, type Job } from "bullmq";
import { EnvelopeSchema, MoneyError, PayloadValidationError, type Envelope, type Ledger, type ProviderId } from "@payhooks/core";
import type { Emitter } from "./emitter";
import { QUARANTINED } from "./metrics";

export type ProcessResult = {
  outcome: "applied" | "ignored";
  reason?: string;
  /** the ledger payment the job touched, when it got that far */
  paymentId?: string;
  orderId: string | null;
  events: string[];
};

export type ProviderHandler = (envelope: Envelope) => Promise<ProcessResult>;

/**
 * The tail every notification handler shares: apply the decision to the ledger, then send the
 * payment's events from the outbox (this run's and any a crashed run left behind).
 */
export async function applyAndEmit(
  deps: { ledger: Ledger; emitter: Emitter },
  request: Parameters<Ledger["applyPayment"]>[0],
): Promise<ProcessResult> {
  const result = await deps.ledger.applyPayment(request);
  const sent = await deps.emitter.flushPayment(request.provider, request.providerPaymentId);
  return {
    outcome: result.kind,
    ...(result.kind === "ignored" ? { reason: result.reason } : {}),
    paymentId: request.providerPaymentId,
    orderId: result.orderId,
    events: sent.map((e) => e.id),
  };
}

/**
 * Wraps a provider's handler as a BullMQ processor: the envelope is re-validated, and input
 * that can never succeed (bad envelope; a payload or money it cannot read, "quarantined") fails
 * at once with UnrecoverableError; anything else (Redis trouble, contention) is thrown for a retry.
 */
export function createProcessor(provider: ProviderId, handle: ProviderHandler) {
  return async (job: Job): Promise<ProcessResult> => {
    const parsed = EnvelopeSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`invalid envelope: ${parsed.error.issues[0]?.message ?? "?"}`);
    if (parsed.data.provider !== provider) {
      throw new UnrecoverableError(`envelope for ${parsed.data.provider} on the ${provider} queue`);
    }
    try {
      if (parsed.data.unreadable) throw new PayloadValidationError(`body: ${parsed.data.unreadable} (its bytes are kept in rawBody, base64)`);
      return await handle(parsed.data);
    } catch (err) {
      // An authenticated delivery we cannot interpret: failed for good, kept and counted as
      // quarantined, re-processable with `payhooks retry` once payhooks reads it.
      if (err instanceof PayloadValidationError || err instanceof MoneyError) throw new UnrecoverableError(`${QUARANTINED}${err.message}`);
      throw err;
    }
  };
}
