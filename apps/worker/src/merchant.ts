import type { Job, JobsOptions, Queue } from "bullmq";
import { JOB_OPTIONS, OUTBOX_GRACE_MS, QUEUES, isFinalAttempt, type DeliveryAttemptNote, type JobIndex, type MerchantDeliveryOutcome, type PaymentEvent } from "@payhooks/core";
import { MerchantDeliveryError, type MerchantDeliveryProcessor } from "./delivery";

/** A `merchant-webhooks` job for an event nobody has tried to deliver yet (the sweep's, the request–reply lane's). */
export const DELIVER_JOB = "merchant.deliver";
/** A `merchant-webhooks` job for an event whose first attempt was made in line and failed. */
export const RETRY_JOB = "merchant.retry";

/**
 * Once a first attempt in line fails, or has been running longer than {@link SLOW_ATTEMPT_MS}
 * (a merchant that hangs), events go straight to `merchant-webhooks` jobs for this long; then
 * one attempt at a time probes the merchant in line until one succeeds within the bound. So a
 * merchant that is down, slow or hanging holds up the jobs whose attempts had already started,
 * and after that at most one job at a time.
 */
export const INLINE_PAUSE_MS = 5_000;
export const SLOW_ATTEMPT_MS = 1_000;
/** How long an event's claim outlives the attempt's deadline (or covers an enqueue). */
const CLAIM_MARGIN_MS = 5_000;

/**
 * The retry job of an event whose first attempt (in line) failed: the same schedule as a
 * delivery made by jobs alone (attempts 2 s, 4 s, 8 s … apart, 15 in all), so attempt 2 waits
 * 2 s and the job's own backoff starts at 4 s.
 */
export function retryJobOptions(eventId: string): JobsOptions {
  const base = JOB_OPTIONS.merchantWebhook;
  return { ...base, jobId: eventId, attempts: base.attempts - 1, delay: base.backoff.delay, backoff: { ...base.backoff, delay: base.backoff.delay * 2 } };
}

/** The attempt number a job's run is, counting the attempt made in line before a retry job. */
export function attemptNumber(job: Pick<Job, "name" | "attemptsMade">): number {
  return job.attemptsMade + 1 + (job.name === RETRY_JOB ? 1 : 0);
}

/** When BullMQ runs the job again after this failed run (exponential backoff), or undefined when it will not. */
export function nextRetryAt(job: Pick<Job, "attemptsMade" | "opts">, err: unknown, now: number): number | undefined {
  if (isFinalAttempt(job, err)) return undefined;
  const backoff = job.opts.backoff;
  const delay = typeof backoff === "number" ? backoff : (backoff?.delay ?? 0);
  const type = typeof backoff === "number" ? "fixed" : backoff?.type;
  // BullMQ: delay × 2^(attemptsMade − 1), attemptsMade counting this failed run.
  return now + (type === "exponential" ? delay * 2 ** job.attemptsMade : delay);
}

/**
 * Merchant delivery, first attempt in line: the job that changed a payment (its notification
 * job) POSTs the payment's event to the merchant at once, and only an event that was not
 * delivered becomes a `merchant-webhooks` job, for the retries. An event delivered at the first
 * attempt so costs no job of its own. Every attempt, in line or by a job, is written to the
 * order's timeline (job-index notes) and counted in the delivery metrics.
 *
 * The outbox guarantee is unchanged: the event stays in the ledger's outbox until it was
 * delivered or its retry job exists (the emitter clears it after this returns), so a worker
 * that dies mid-attempt leaves it for the job's retry or the sweep. The attempt's deadline
 * (MERCHANT_WEBHOOK_TIMEOUT_MS) must end before the sweep would send the event again
 * (OUTBOX_GRACE_MS): with a longer timeout, every event goes to a job.
 */
export function createMerchantLane(deps: {
  delivery: Pick<MerchantDeliveryProcessor, "send">;
  queue: Pick<Queue, "add">;
  /** the ledger's claimEvent: one sender per outbox event at a time */
  claim: (eventId: string, ttlMs: number) => Promise<boolean>;
  timeoutMs: number;
  /** MERCHANT_FIRST_ATTEMPT: whether a notification job makes the first attempt itself */
  firstAttempt: "inline" | "job";
  jobIndex?: Pick<JobIndex, "add" | "note">;
  metrics?: { recordDelivery(outcome: MerchantDeliveryOutcome): void };
  now?: () => number;
}) {
  const now = deps.now ?? Date.now;
  const inlineAllowed = deps.firstAttempt === "inline" && deps.timeoutMs <= OUTBOX_GRACE_MS / 2;
  /**
   * The merchant answered the last attempt in line with a 2xx within SLOW_ATTEMPT_MS: every
   * notification job attempts in line. Otherwise none until `pausedUntil`, then one at a time.
   */
  let healthy = true;
  let pausedUntil = 0;
  let probing = false;

  /** Whether an attempt in line may start now; a false `healthy` lets one probe through. */
  function mayAttempt(at: number): { probe: boolean } | null {
    if (healthy) return { probe: false };
    if (at < pausedUntil || probing) return null;
    probing = true;
    return { probe: true };
  }

  function pause(): void {
    healthy = false;
    pausedUntil = Math.max(pausedUntil, now() + INLINE_PAUSE_MS);
  }

  function note(event: PaymentEvent, attempt: Omit<DeliveryAttemptNote, "kind" | "eventId">, at: number): void {
    if (event.orderId) deps.jobIndex?.note(event.orderId, { kind: "attempt", eventId: event.id, ...attempt }, at);
  }

  /** Adds the event's `merchant-webhooks` job and indexes it under its order at `at`. */
  async function enqueue(event: PaymentEvent, name: string, options: JobsOptions, at: number): Promise<void> {
    await deps.queue.add(name, event, options);
    if (event.orderId) deps.jobIndex?.add(event.orderId, QUEUES.merchantWebhooks, event.id, at);
  }

  /** One attempt; what the timeline keeps of it. */
  async function attempt(event: PaymentEvent): Promise<{ ok: boolean; status: number | null; durationMs: number; error?: string; err?: unknown }> {
    const started = now();
    try {
      const { status } = await deps.delivery.send(event);
      return { ok: true, status, durationMs: now() - started };
    } catch (err) {
      const status = err instanceof MerchantDeliveryError ? err.status : null;
      return { ok: false, status, durationMs: now() - started, error: (err as Error).message, err };
    }
  }

  /**
   * Delivers `event` now when `inline` (a notification job's event) and the merchant has been
   * answering (never throws for the merchant's sake), or leaves it to a `merchant-webhooks` job:
   * the retry job when this attempt failed, a delivery job when none was made. Resolves once the
   * event is delivered or its job exists — or at once with "elsewhere" when another run holds
   * the event's claim (two jobs of one payment both found it in the outbox: that run delivers
   * it and clears it from the outbox, and this one must leave it there), or when the event has
   * already left the outbox (another run sent it after this one read it).
   */
  async function deliver(event: PaymentEvent, inline: boolean): Promise<"delivered" | "queued" | "elsewhere"> {
    const at = now();
    const gate = inline && inlineAllowed ? mayAttempt(at) : null;
    let claimed: boolean;
    try {
      claimed = await deps.claim(event.id, (gate ? deps.timeoutMs : 0) + CLAIM_MARGIN_MS);
    } catch (err) {
      if (gate?.probe) probing = false;
      throw err;
    }
    if (!claimed) {
      if (gate?.probe) probing = false;
      return "elsewhere";
    }
    if (!gate) {
      await enqueue(event, DELIVER_JOB, { ...JOB_OPTIONS.merchantWebhook, jobId: event.id }, at);
      return "queued";
    }
    // A merchant that hangs stops the other jobs' attempts once this one has run too long.
    let tooSlow = false;
    const slow = setTimeout(() => {
      tooSlow = true;
      pause();
    }, SLOW_ATTEMPT_MS);
    const result = await attempt(event);
    clearTimeout(slow);
    if (gate.probe) probing = false;
    // Only a probe's quick success ends a pause: an attempt that began before the pause says
    // nothing about the merchant since.
    if (!result.ok || tooSlow) pause();
    else if (gate.probe) healthy = true;
    if (result.ok) {
      deps.metrics?.recordDelivery("delivered");
      note(event, { attempt: 1, via: "inline", status: result.status, durationMs: result.durationMs, final: true }, at);
      return "delivered";
    }
    const options = retryJobOptions(event.id);
    deps.metrics?.recordDelivery("failed_attempt");
    note(event, { attempt: 1, via: "inline", status: result.status, durationMs: result.durationMs, error: result.error, nextRetryAt: now() + (options.delay ?? 0) }, at);
    // Indexed after the attempt's note (a timeline in the same millisecond sorts by member).
    await enqueue(event, RETRY_JOB, options, Math.max(now(), at + 1));
    return "queued";
  }

  /** The `merchant-webhooks` processor: each run is one attempt, written to the order's timeline. */
  function processor(send: (job: Job<PaymentEvent>) => Promise<{ status: number }>): (job: Job<PaymentEvent>) => Promise<{ status: number }> {
    return async (job) => {
      const event = job.data;
      const at = now();
      try {
        const value = await send(job);
        note(event, { attempt: attemptNumber(job), via: "job", status: value.status, durationMs: now() - at, final: true }, at);
        return value;
      } catch (err) {
        const status = err instanceof MerchantDeliveryError ? err.status : null;
        const next = nextRetryAt(job, err, now());
        note(
          event,
          { attempt: attemptNumber(job), via: "job", status, durationMs: now() - at, error: (err as Error).message, ...(next === undefined ? { final: true } : { nextRetryAt: next }) },
          at,
        );
        throw err;
      }
    };
  }

  return { deliver, processor };
}

export type MerchantLane = ReturnType<typeof createMerchantLane>;
