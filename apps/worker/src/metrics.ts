import { performance } from "node:perf_hooks";
import type { Job } from "bullmq";
import {
  addToWorkerMetrics,
  createActivityTally,
  deliveryIncrement,
  isFinalAttempt,
  isUnrecoverable,
  observationIncrements,
  providerOfQueue,
  type JobFailureKind,
  type JobObservation,
  type Logger,
  type MerchantDeliveryOutcome,
  type Redis,
} from "@payhooks/core";

/** The message prefix of a job failed because its payload cannot be interpreted (processor.ts). */
export const QUARANTINED = "quarantined: ";

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;

/**
 * Whether BullMQ leaves this failed attempt failed for good, as its private `Job.shouldRetryJob`
 * decides (mirrored in @payhooks/core's compat/bullmq): an UnrecoverableError, or no attempt left.
 * Called in the processor, while the attempt runs.
 */
export function failureKind(job: Pick<Job, "attemptsMade" | "opts">, err: unknown): JobFailureKind {
  if (isUnrecoverable(err) && err.message.startsWith(QUARANTINED)) return "quarantined";
  return isFinalAttempt(job, err) ? "final" : "retrying";
}

/** How long observations wait in memory before one MULTI adds them to Redis. */
export const METRICS_FLUSH_MS = 250;
/** After a failed write (Redis down), the next try; nothing is dropped meanwhile. */
const METRICS_RETRY_MS = 1_000;

/**
 * Times every job attempt and adds it to the Redis hash the ingress's /metrics renders
 * (`@payhooks/core` metrics-store). Attempts are summed in memory and written in one MULTI at
 * most every {@link METRICS_FLUSH_MS}, off the job's path: a MULTI per job was a tenth of a
 * worker's busy CPU in the profile (bench/), and a round trip inside every Payme reply. So a
 * finished job shows in /metrics within a quarter second, and a worker's `close()` writes what
 * is left. A write that fails keeps its increments for the next one and never fails a job.
 * A quarantined job of a provider queue also counts, in the same MULTI, in the per-minute
 * activity hashes the console's overview reads (@payhooks/core activity.ts).
 */
export function createWorkerMetrics(deps: { redis: Pick<Redis, "multi">; prefix: string; logger: Logger; flushMs?: number; now?: () => number }) {
  const flushMs = deps.flushMs ?? METRICS_FLUSH_MS;
  const now = deps.now ?? Date.now;
  const pending = new Map<string, number>();
  /** quarantined jobs per provider and minute */
  const activity = createActivityTally();
  let timer: NodeJS.Timeout | null = null;

  function schedule(ms: number): void {
    if (timer) return;
    timer = setTimeout(() => void flush(), ms);
    timer.unref();
  }

  function add(increments: Iterable<[string, number]>): void {
    for (const [field, by] of increments) pending.set(field, (pending.get(field) ?? 0) + by);
  }

  async function flush(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = null;
    if (pending.size === 0 && activity.size === 0) return;
    const batch = [...pending];
    pending.clear();
    const counts = activity.take();
    try {
      await addToWorkerMetrics(deps.redis, deps.prefix, batch, counts);
    } catch (err) {
      add(batch);
      activity.restore(counts, now());
      deps.logger.warn({ err: { message: (err as Error).message } }, "job metrics not written yet; kept for the next try");
      schedule(METRICS_RETRY_MS);
    }
  }

  function record(obs: JobObservation): void {
    add(observationIncrements(obs));
    schedule(flushMs);
  }

  function wrap<J extends Job, R>(queue: string, processor: (job: J) => Promise<R>, delivery: boolean): (job: J) => Promise<R> {
    return async (job: J): Promise<R> => {
      const started = performance.now();
      let value: R;
      try {
        value = await processor(job);
      } catch (err) {
        const kind = failureKind(job, err);
        const provider = kind === "quarantined" ? providerOfQueue(queue) : null;
        if (provider) activity.add(now(), provider, "quarantined");
        record({
          queue,
          durationMs: performance.now() - started,
          result: { status: "failed", kind },
          ...(delivery ? { delivery: kind === "retrying" ? "failed_attempt" : "exhausted" } : {}),
        });
        throw err;
      }
      record({
        queue,
        durationMs: performance.now() - started,
        result: { status: "completed" },
        ...(delivery ? { delivery: "delivered" } : {}),
      });
      return value;
    };
  }

  return {
    /** A provider queue's processor, timed and counted under `queue`. */
    instrument: <J extends Job, R>(queue: string, processor: (job: J) => Promise<R>) => wrap(queue, processor, false),
    /** A merchant delivery attempt made outside a job (the first one, in line): counted, not timed as a job. */
    recordDelivery(outcome: MerchantDeliveryOutcome): void {
      add([deliveryIncrement(outcome)]);
      schedule(flushMs);
    },
    /** The merchant-webhooks processor: also counts each attempt as delivered / failed_attempt / exhausted. */
    instrumentDelivery: <J extends Job, R>(queue: string, processor: (job: J) => Promise<R>) => wrap(queue, processor, true),
    /** Writes what is waiting now (at shutdown, after the workers closed). */
    flush,
  };
}
