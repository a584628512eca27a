/**
 * The one place payhooks reads BullMQ's private formats or mirrors its private decisions.
 *
 * Checked against bullmq 6.7.0, pinned exactly in every package.json that declares it. On an
 * upgrade, re-check (bullmq.int.test.ts fails when one of these changes):
 * - A job is the hash `queue.toKey(id)` with its creation time (ms) in the field `timestamp`, the
 *   `timestamp` of the Job that `Queue.add` returned. An add of an id already taken leaves the
 *   stored job as it was, yet still returns a Job built on the client with a timestamp of its own
 *   (addStandardJob-*.lua answers the id either way).
 * - The wait list `queue.toKey("wait")`: adds LPUSH, workers take from the right, so its tail is
 *   the oldest job waiting.
 * - The failed set `queue.toKey("failed")`: a sorted set of job ids scored by when each failed
 *   (ms; moveToFinished-*.lua), the order `Queue.getJobs(["failed"])` lists.
 * - `Job#shouldRetryJob` (private, classes/job.js): another attempt while
 *   `attemptsMade + 1 < opts.attempts` and the error is no UnrecoverableError (by class or by
 *   name). It also stops at the queue's `maxStartedAttempts` and when a custom backoff strategy
 *   answers -1; payhooks uses neither (JOB_OPTIONS: exponential backoff).
 */
import { UnrecoverableError, type Job, type Queue } from "bullmq";
import type IORedis from "ioredis";

/**
 * Which of `adds` found their id taken (true: a duplicate), from the stored jobs' `timestamp`
 * against each returned Job's: one pipeline of HGETs, one round trip for them all. A job with
 * no id, or a read that failed, counts as new; two adds of one id within the same millisecond
 * both count as new.
 */
export async function duplicateAdds(
  redis: Pick<IORedis, "pipeline">,
  adds: ReadonlyArray<{ queue: Pick<Queue, "toKey">; job: Pick<Job, "id" | "timestamp"> }>,
): Promise<boolean[]> {
  const pipeline = redis.pipeline();
  for (const { queue, job } of adds) if (job.id) pipeline.hget(queue.toKey(job.id), "timestamp");
  const replies = (await pipeline.exec()) ?? [];
  let i = 0;
  return adds.map(({ job }) => {
    if (!job.id) return false;
    const [err, stored] = replies[i++] ?? [null, null];
    return !err && stored !== null && Number(stored) !== job.timestamp;
  });
}

/** When the stored job `jobId` of `queue` was created (ms), or null when there is no such job. One HGET. */
export async function storedJobTimestamp(redis: Pick<IORedis, "hget">, queue: Pick<Queue, "toKey">, jobId: string): Promise<number | null> {
  const stored = await redis.hget(queue.toKey(jobId), "timestamp");
  return stored === null ? null : Number(stored);
}

/**
 * When the oldest job waiting in `queue` was created (ms), or null when none waits: one LINDEX
 * and one HGET, whatever the queue's length.
 */
export async function oldestWaitingAt(redis: Pick<IORedis, "lindex" | "hget">, queue: Pick<Queue, "toKey">): Promise<number | null> {
  const oldestId = await redis.lindex(queue.toKey("wait"), -1);
  return oldestId ? await storedJobTimestamp(redis, queue, oldestId) : null;
}

/** Whether BullMQ takes `err` for an UnrecoverableError: no retry, whatever attempts are left. */
export function isUnrecoverable(err: unknown): err is Error {
  return err instanceof UnrecoverableError || (err instanceof Error && err.name === "UnrecoverableError");
}

/**
 * Whether BullMQ leaves `job` failed for good after the attempt that threw `err`, as its
 * `Job#shouldRetryJob` decides. Call it while the attempt runs (in the processor): `attemptsMade`
 * counts the attempts finished before this one, since BullMQ increments it after the processor.
 */
export function isFinalAttempt(job: Pick<Job, "attemptsMade" | "opts">, err: unknown): boolean {
  return isUnrecoverable(err) || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

/**
 * The `limit` jobs that failed last across `queues`, newest first: one ZREVRANGE per queue in
 * one pipeline, whatever the sets' sizes. Only ids and times: the caller loads the few it shows
 * (rather than `limit` whole jobs, raw bodies included, of every queue).
 */
export async function newestFailed<Q extends Pick<Queue, "toKey">>(
  redis: Pick<IORedis, "pipeline">,
  queues: readonly Q[],
  limit: number,
): Promise<Array<{ queue: Q; jobId: string; failedAt: number }>> {
  if (limit <= 0 || queues.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const queue of queues) pipeline.zrevrange(queue.toKey("failed"), 0, limit - 1, "WITHSCORES");
  const replies = (await pipeline.exec()) ?? [];
  const all: Array<{ queue: Q; jobId: string; failedAt: number }> = [];
  replies.forEach(([err, rows], i) => {
    if (err) throw err;
    const list = rows as string[];
    for (let j = 0; j + 1 < list.length; j += 2) all.push({ queue: queues[i]!, jobId: list[j]!, failedAt: Number(list[j + 1]) });
  });
  return all.sort((a, b) => b.failedAt - a.failedAt).slice(0, limit);
}

/**
 * When a delayed job is due (ms since the epoch), from its score in the queue's delayed set,
 * which BullMQ 6 writes as the due time × 0x1000 plus a counter; null when it is not there.
 * (`job.timestamp + job.delay` is only right before the first retry: `timestamp` stays the
 * creation time while `delay` becomes the last backoff.)
 */
export async function delayedUntil(redis: Pick<IORedis, "zscore">, queue: Pick<Queue, "toKey">, jobId: string): Promise<number | null> {
  const score = await redis.zscore(queue.toKey("delayed"), jobId);
  return score === null ? null : Math.floor(Number(score) / 0x1000);
}

/**
 * Names BullMQ gives a queue's own keys (`{prefix}:{queue}:{name}`): a "job id" equal to one of
 * them, or with a `:` (a job's own sub-keys: `:lock`, `:logs` …), names no job, and reading it
 * as a job hash would read another kind of key.
 */
const QUEUE_KEY_NAMES: ReadonlySet<string> = new Set([
  "wait", "paused", "meta", "id", "delayed", "active", "completed", "failed", "prioritized", "priority", "pc",
  "events", "stalled", "stalled-check", "limiter", "marker", "repeat", "de", "waiting-children", "metrics",
]);

/** Whether `jobId` can name a job (see QUEUE_KEY_NAMES), before it is read as one. */
export function canBeJobId(jobId: string): boolean {
  return jobId.length > 0 && jobId.length <= 512 && !jobId.includes(":") && !QUEUE_KEY_NAMES.has(jobId);
}

