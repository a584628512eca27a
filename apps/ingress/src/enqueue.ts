import type { Job, JobsOptions, Queue } from "bullmq";

/** Raised when Redis did not confirm an enqueue: the provider must get a 5xx and retry. */
export class EnqueueUnavailableError extends Error {
  readonly code = "unavailable";
  constructor(cause: unknown) {
    super("the queue did not confirm the job", { cause });
    this.name = "EnqueueUnavailableError";
  }
}

/**
 * Adds a job and resolves only once Redis has it. The producer connection has no offline queue
 * and a 1 s command timeout; the race below also bounds a stuck add. If the bound fires and
 * the add lands later anyway, the provider's retry carries the same job id and is deduplicated.
 * Resolves with the Job BullMQ returns (built on the client, also for a duplicate id).
 */
export async function enqueue<T>(
  queue: Queue,
  name: string,
  data: T,
  options: JobsOptions & { jobId: string },
  timeoutMs: number,
): Promise<Job> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`enqueue timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([queue.add(name, data, options), timeout]);
  } catch (err) {
    throw new EnqueueUnavailableError(err);
  } finally {
    clearTimeout(timer);
  }
}
