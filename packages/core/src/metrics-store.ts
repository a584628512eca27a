import type IORedis from "ioredis";
import { queueActivityWrites, type ActivityCounts } from "./activity";

/**
 * Worker metrics aggregated in Redis. Workers have no HTTP port and several run at once, so each
 * one adds its observations to one hash, `{QUEUE_PREFIX}:metrics:worker` (a worker sums them in
 * memory and writes them in one MULTI at most every quarter second);
 * the ingress reads the hash (one HGETALL) when /metrics is scraped and renders it, so the
 * figures cover every worker process. Both sides use this file, so the bucket boundaries and
 * the field names cannot drift apart.
 *
 * Fields (every value an integer, written with HINCRBY):
 * - `dur|{queue}|{status}|le|{bound}`: jobs whose duration fell in the bucket whose upper bound is
 *   `bound` seconds (`+Inf` above the last), NOT cumulative — the reader accumulates them;
 * - `dur|{queue}|{status}|count` and `dur|{queue}|{status}|sum_us` (microseconds);
 * - `fail|{queue}|{kind}`: failed attempts, `retrying` (BullMQ retries it) or `final`;
 * - `delivery|{outcome}`: merchant delivery attempts by outcome.
 * Queue names never contain `|` (ours are in QUEUES; BullMQ refuses `:`).
 */

/**
 * Upper bounds, in seconds, of the job-duration histogram (`payhooks_job_duration_seconds`).
 * A Payme call must be answered well within PAYME_RPC_TIMEOUT_MS (5 s); a merchant delivery
 * may take up to MERCHANT_WEBHOOK_TIMEOUT_MS (10 s), hence the tail.
 */
export const JOB_DURATION_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

export const JOB_STATUSES = ["completed", "failed"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/**
 * `retrying`: BullMQ will run the job again; `final`: the job is left in the failed set;
 * `quarantined`: left failed because its payload cannot be interpreted (an authenticated delivery
 * from an API version payhooks does not read), kept for `payhooks retry` after an upgrade.
 */
export const JOB_FAILURE_KINDS = ["retrying", "final", "quarantined"] as const;
export type JobFailureKind = (typeof JOB_FAILURE_KINDS)[number];

/**
 * One per merchant delivery attempt: `delivered` (a 2xx), `failed_attempt` (no 2xx, BullMQ
 * retries it), `exhausted` (no 2xx on the last attempt: the delivery stays failed).
 */
export const MERCHANT_DELIVERY_OUTCOMES = ["delivered", "failed_attempt", "exhausted"] as const;
export type MerchantDeliveryOutcome = (typeof MERCHANT_DELIVERY_OUTCOMES)[number];

/** The hash every worker writes and the ingress reads. */
export function workerMetricsKey(prefix: string): string {
  return `${prefix}:metrics:worker`;
}

/** One finished attempt of one job, as a worker saw it. */
export type JobObservation = {
  queue: string;
  durationMs: number;
  result: { status: "completed" } | { status: "failed"; kind: JobFailureKind };
  /** merchant-webhooks jobs only */
  delivery?: MerchantDeliveryOutcome;
};

/** The bucket an observation falls in: the first bound >= the duration (Prometheus `le`). */
export function durationBucket(seconds: number): string {
  const bound = JOB_DURATION_BUCKETS_SECONDS.find((b) => seconds <= b);
  return bound === undefined ? "+Inf" : String(bound);
}

/** The increment of one merchant delivery attempt, whether a job or the worker's first attempt in line made it. */
export function deliveryIncrement(outcome: MerchantDeliveryOutcome): [field: string, by: number] {
  return [`delivery|${outcome}`, 1];
}

/** The HINCRBY increments one finished attempt adds to the shared hash (3 to 5 fields). */
export function observationIncrements(obs: JobObservation): Array<[field: string, by: number]> {
  const series = `dur|${obs.queue}|${obs.result.status}`;
  const durationMs = Math.max(0, obs.durationMs);
  const increments: Array<[string, number]> = [
    [`${series}|le|${durationBucket(durationMs / 1000)}`, 1],
    [`${series}|count`, 1],
    [`${series}|sum_us`, Math.round(durationMs * 1000)],
  ];
  if (obs.result.status === "failed") increments.push([`fail|${obs.queue}|${obs.result.kind}`, 1]);
  if (obs.delivery) increments.push(deliveryIncrement(obs.delivery));
  return increments;
}

/**
 * Adds increments to the shared hash, and `activity` counts to the per-minute activity hashes
 * (activity.ts), in one MULTI; throws when Redis did not take them all.
 */
export async function addToWorkerMetrics(
  redis: Pick<IORedis, "multi">,
  prefix: string,
  increments: Iterable<[string, number]>,
  activity?: ActivityCounts,
): Promise<void> {
  const key = workerMetricsKey(prefix);
  const multi = redis.multi();
  for (const [field, by] of increments) multi.hincrby(key, field, by);
  if (activity) queueActivityWrites(multi, prefix, activity);
  const replies = await multi.exec();
  const failed = replies?.find(([err]) => err);
  if (!replies || failed) throw failed?.[0] ?? new Error("worker metrics transaction was discarded");
}

export type DurationSeries = {
  queue: string;
  status: JobStatus;
  /** cumulative counts, one per JOB_DURATION_BUCKETS_SECONDS bound (Prometheus `le` buckets) */
  buckets: number[];
  count: number;
  sumSeconds: number;
};

export type WorkerMetricsSnapshot = {
  durations: DurationSeries[];
  failures: Array<{ queue: string; kind: JobFailureKind; count: number }>;
  deliveries: Array<{ outcome: MerchantDeliveryOutcome; count: number }>;
};

const isIn = <T extends string>(list: readonly T[], value: string | undefined): value is T =>
  value !== undefined && (list as readonly string[]).includes(value);

/**
 * Reads the shared hash (one HGETALL) into series ready to render. Unknown fields are skipped;
 * a stored bucket bound that is not in today's list counts in the next larger bound.
 */
export async function readWorkerMetrics(redis: Pick<IORedis, "hgetall">, prefix: string): Promise<WorkerMetricsSnapshot> {
  const hash = await redis.hgetall(workerMetricsKey(prefix));
  const durations = new Map<string, DurationSeries & { raw: Array<[number, number]> }>();
  const failures: WorkerMetricsSnapshot["failures"] = [];
  const deliveries: WorkerMetricsSnapshot["deliveries"] = [];
  for (const [field, text] of Object.entries(hash)) {
    const value = Number(text);
    if (!Number.isFinite(value)) continue;
    const parts = field.split("|");
    if (parts[0] === "dur" && parts.length >= 4) {
      const [, queue, status, kind, bound] = parts;
      if (!queue || !isIn(JOB_STATUSES, status)) continue;
      const id = `${queue}|${status}`;
      let series = durations.get(id);
      if (!series) {
        series = { queue, status, buckets: [], count: 0, sumSeconds: 0, raw: [] };
        durations.set(id, series);
      }
      if (kind === "count") series.count = value;
      else if (kind === "sum_us") series.sumSeconds = value / 1e6;
      else if (kind === "le" && bound !== undefined && bound !== "+Inf") series.raw.push([Number(bound), value]);
    } else if (parts[0] === "fail" && parts.length === 3) {
      const [, queue, kind] = parts;
      if (queue && isIn(JOB_FAILURE_KINDS, kind)) failures.push({ queue, kind, count: value });
    } else if (parts[0] === "delivery" && parts.length === 2) {
      if (isIn(MERCHANT_DELIVERY_OUTCOMES, parts[1])) deliveries.push({ outcome: parts[1], count: value });
    }
  }
  const series = [...durations.values()].map(({ raw, ...s }) => ({
    ...s,
    buckets: JOB_DURATION_BUCKETS_SECONDS.map((b) => raw.reduce((n, [bound, v]) => (bound <= b ? n + v : n), 0)),
  }));
  return { durations: series, failures, deliveries };
}
