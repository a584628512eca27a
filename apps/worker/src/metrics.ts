import { performance } from "node:perf_hooks";
import { UnrecoverableError, type Job } from "bullmq";
import { recordJobObservation, type JobFailureKind, type JobObservation, type Logger, type Redis } from "@payhooks/core";

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;

/**
 * Whether BullMQ leaves this failed attempt failed for good: the same test as BullMQ 6's
 * `Job.shouldRetryJob` (private): an UnrecoverableError, or no attempt left. `attemptsMade`
 * counts the attempts finished before this one (BullMQ increments it after the processor).
 */
export function failureKind(job: Pick<Job, "attemptsMade" | "opts">, err: unknown): JobFailureKind {
  const unrecoverable = err instanceof UnrecoverableError || (err instanceof Error && err.name === "UnrecoverableError");
  return unrecoverable || job.attemptsMade + 1 >= (job.opts.attempts ?? 1) ? "final" : "retrying";
}

/**
 * Times every job attempt and adds it to the Redis hash the ingress's /metrics renders
 * (`@payhooks/core` metrics-store): one MULTI per attempt, awaited before the processor
 * returns, so a job BullMQ reports finished is already counted. A metrics write that fails is
 * logged and never fails or retries the job.
 */
export function createWorkerMetrics(deps: { redis: Pick<Redis, "multi">; prefix: string; logger: Logger }) {
  async function record(obs: JobObservation): Promise<void> {
    try {
      await recordJobObservation(deps.redis, deps.prefix, obs);
    } catch (err) {
      deps.logger.warn({ err: { message: (err as Error).message }, queue: obs.queue }, "job metrics not recorded");
    }
  }

  function wrap<J extends Job, R>(queue: string, processor: (job: J) => Promise<R>, delivery: boolean): (job: J) => Promise<R> {
    return async (job: J): Promise<R> => {
      const started = performance.now();
      let value: R;
      try {
        value = await processor(job);
      } catch (err) {
        const kind = failureKind(job, err);
        await record({
          queue,
          durationMs: performance.now() - started,
          result: { status: "failed", kind },
          ...(delivery ? { delivery: kind === "final" ? "exhausted" : "failed_attempt" } : {}),
        });
        throw err;
      }
      await record({
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
    /** The merchant-webhooks processor: also counts each attempt as delivered / failed_attempt / exhausted. */
    instrumentDelivery: <J extends Job, R>(queue: string, processor: (job: J) => Promise<R>) => wrap(queue, processor, true),
  };
}
