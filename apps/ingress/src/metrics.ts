import { performance } from "node:perf_hooks";
import type { Job, Queue } from "bullmq";
import type { RequestHandler, Response } from "express";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import {
  JOB_DURATION_BUCKETS_SECONDS,
  PROVIDER_IDS,
  REQUEST_OUTCOMES,
  createActivityTally,
  oldestWaitingAt,
  queueActivityWrites,
  readWorkerMetrics,
  duplicateAdds,
  type ActivityOutcome,
  type ProviderId,
  type Redis,
  type RequestOutcome,
  type RedisConnection,
  type WorkerMetricsSnapshot,
} from "@payhooks/core";
import { ExternalHistogram } from "./compat/prom-client";

export { REQUEST_OUTCOMES, type RequestOutcome };

/**
 * Upper bounds, in seconds, of the ack-latency histogram: an enqueue is a few ms; a Payme call
 * waits for a worker up to PAYME_RPC_TIMEOUT_MS (5 s by default).
 */
export const ACK_DURATION_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** The queue states `payhooks_queue_jobs` reports, read with one getJobCounts per queue. */
export const QUEUE_STATES = ["waiting", "active", "delayed", "failed"] as const;

const OUTCOME = "payhooksOutcome";
const PENDING = "payhooksOutcomePending";

/**
 * The outcome a response's status implies when the route named none: 2xx accepted, 401/403 a
 * refused signature or key, 5xx unavailable (Redis did not confirm, provider not configured),
 * any other 4xx (bad body, 413, 405) a refused payload.
 */
export function outcomeOfStatus(status: number): RequestOutcome {
  if (status >= 200 && status < 300) return "accepted";
  if (status === 401 || status === 403) return "rejected_signature";
  if (status >= 500) return "unavailable";
  return "rejected_payload";
}

/** What the routes use. Without metrics (tests that build the app bare) it only marks. */
export type RequestMetrics = {
  /** Mounted first on a webhook route: counts the request and times it until the response finishes. */
  track(provider: ProviderId): RequestHandler;
  /** Names the outcome when the status alone does not tell it (Payme's 200s, signature 400s). */
  mark(res: Response, outcome: RequestOutcome): void;
  /**
   * Marks a confirmed enqueue `accepted`, or `duplicate` when the job id already existed. The
   * check runs beside the response, never before it: the ack does not wait for it.
   */
  enqueued(res: Response, queue: Queue, job: Job): void;
};

/** Names a response's outcome (kept in `res.locals`; read when the response finishes). */
export function markOutcome(res: Response, outcome: RequestOutcome): void {
  res.locals[OUTCOME] = outcome;
}

export const NO_REQUEST_METRICS: RequestMetrics = {
  track: () => (_req, _res, next) => next(),
  mark: markOutcome,
  enqueued: (res) => markOutcome(res, "accepted"),
};

export type IngressMetrics = RequestMetrics & {
  registry: Registry;
  /** GET /metrics, Prometheus text format; mount it behind the admin token. */
  handler: RequestHandler;
  /** Writes the activity counts still in memory, once the requests still being labelled are (at shutdown). */
  flush(): Promise<void>;
};

/**
 * How long confirmed adds wait, off the acknowledgement's path, to be checked for duplicates
 * together: one pipeline of HGETs per window instead of one round trip per request. A request is
 * counted (accepted or duplicate) when its check settles, at most about this much after its answer.
 */
export const DUPLICATE_CHECK_MS = 50;

/**
 * The field of a job's own hash that counts the duplicate deliveries of it the ingress saw (a
 * redelivery of an accepted webhook is no job of its own): the operator console shows it as
 * "accepted, N duplicate deliveries".
 */
export const DUPLICATES_FIELD = "payhooksDuplicates";

/** HINCRBY on a job's hash only while the job exists: a removed job's key is not brought back without a TTL. */
const COUNT_DUPLICATE_LUA = `if redis.call("EXISTS", KEYS[1]) == 1 then return redis.call("HINCRBY", KEYS[1], ARGV[1], 1) end return 0`;

/** Counts duplicates on their jobs' hashes: one pipeline, after the check, off every answer's path; failures only lose the count. */
function countDuplicates(redis: Pick<Redis, "pipeline">, adds: ReadonlyArray<{ queue: Pick<Queue, "toKey">; job: Pick<Job, "id"> }>): void {
  if (adds.length === 0) return;
  const pipeline = redis.pipeline();
  for (const { queue, job } of adds) if (job.id) pipeline.eval(COUNT_DUPLICATE_LUA, 1, queue.toKey(job.id), DUPLICATES_FIELD);
  pipeline.exec().catch(() => undefined);
}

/** Checks confirmed adds for duplicates in batches (compat/bullmq duplicateAdds); never delays an answer. */
function createDuplicateBatcher(redis: Pick<Redis, "pipeline">, windowMs: number) {
  type Waiting = { queue: Pick<Queue, "toKey">; job: Pick<Job, "id" | "timestamp">; settle: (duplicate: boolean) => void };
  let waiting: Waiting[] = [];
  let timer: NodeJS.Timeout | null = null;
  const flush = (): void => {
    timer = null;
    const batch = waiting;
    waiting = [];
    duplicateAdds(redis, batch).then(
      (flags) => {
        batch.forEach((w, i) => w.settle(flags[i] ?? false));
        countDuplicates(redis, batch.filter((_, i) => flags[i]));
      },
      () => batch.forEach((w) => w.settle(false)), // the jobs are confirmed; only their labels are unknown
    );
  };
  return (queue: Pick<Queue, "toKey">, job: Pick<Job, "id" | "timestamp">): Promise<boolean> =>
    new Promise<boolean>((settle) => {
      waiting.push({ queue, job, settle });
      if (!timer) {
        timer = setTimeout(flush, windowMs);
        timer.unref();
      }
    });
}

/**
 * How long answered requests are summed in memory before one pipeline adds them to the
 * per-minute activity hashes (@payhooks/core activity.ts) the console's overview reads.
 */
export const ACTIVITY_FLUSH_MS = 500;
/** After a failed activity write (Redis down), the next try; the counts wait meanwhile (bounded by their retention). */
const ACTIVITY_RETRY_MS = 1_000;

/** What a request's outcome counts as on the overview; `unavailable` (5xx) is not a provider's doing and is left to /metrics. */
export function activityOutcomeOf(outcome: RequestOutcome): ActivityOutcome | null {
  switch (outcome) {
    case "accepted":
    case "duplicate":
      return outcome;
    case "rejected_signature":
    case "rejected_payload":
      return "refused";
    case "unavailable":
      return null;
    default: {
      const exhaustive: never = outcome;
      return exhaustive;
    }
  }
}

/**
 * Sums answered requests per minute and writes them every `flushMs` in one pipeline
 * (HINCRBYs, one EXPIRE per minute). Called when a response has finished, never before: an
 * acknowledgement's only Redis call stays its enqueue. A failed write keeps its counts for the next try.
 */
export function createActivityWriter(deps: { redis: Pick<Redis, "pipeline">; prefix: string; flushMs?: number; now?: () => number }) {
  const now = deps.now ?? Date.now;
  const tally = createActivityTally();
  let timer: NodeJS.Timeout | null = null;
  let writing: Promise<void> = Promise.resolve();

  function schedule(ms: number): void {
    if (timer) return;
    timer = setTimeout(() => void flush(), ms);
    timer.unref();
  }

  async function write(): Promise<void> {
    if (tally.size === 0) return;
    const counts = tally.take();
    try {
      const pipeline = deps.redis.pipeline();
      queueActivityWrites(pipeline, deps.prefix, counts);
      const failed = ((await pipeline.exec()) ?? []).find(([err]) => err);
      if (failed) throw failed[0];
    } catch {
      tally.restore(counts, now());
      schedule(ACTIVITY_RETRY_MS);
    }
  }

  /** Writes what waits now (one write at a time); resolves once it is written or kept for a retry. */
  function flush(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = null;
    writing = writing.then(write);
    return writing;
  }

  return {
    add(provider: ProviderId, outcome: ActivityOutcome, at = now()): void {
      tally.add(at, provider, outcome);
      schedule(deps.flushMs ?? ACTIVITY_FLUSH_MS);
    },
    flush,
  };
}

type QueueSample = { queue: string; counts: Record<(typeof QUEUE_STATES)[number], number>; oldestWaitingAgeSeconds: number };
type Snapshot = { queues: QueueSample[]; workers: WorkerMetricsSnapshot } | null;

/**
 * Prometheus metrics for GET /metrics on the admin port.
 * - Request counts and ack latency are this process's own (scrape every ingress's admin port).
 * - Queue depth and the worker figures are read from Redis when scraped: one getJobCounts,
 *   one LINDEX and one HGET per queue, and one HGETALL for the workers' hash. Concurrent
 *   collect callbacks of one scrape share those reads. When Redis does not answer, those series
 *   are left out and `payhooks_metrics_redis_up` is 0; the scrape itself still succeeds.
 */
export function createIngressMetrics(deps: {
  /** the producer connection */
  redis: RedisConnection;
  prefix: string;
  /** one Queue per queue of QUEUES, held (and closed) by the caller */
  queues: readonly Queue[];
  /** also export prom-client's default process and Node.js metrics. @defaultValue false */
  defaultMetrics?: boolean;
  /** how long confirmed adds wait to be checked for duplicates together. @defaultValue DUPLICATE_CHECK_MS */
  duplicateCheckMs?: number;
  /** how long answered requests are summed before one write to the activity hashes. @defaultValue ACTIVITY_FLUSH_MS */
  activityFlushMs?: number;
  now?: () => number;
}): IngressMetrics {
  const { redis, prefix, queues } = deps;
  const now = deps.now ?? Date.now;
  const registry = new Registry();
  if (deps.defaultMetrics) collectDefaultMetrics({ register: registry });

  async function readQueue(queue: Queue): Promise<QueueSample> {
    const [counts, created] = await Promise.all([queue.getJobCounts(...QUEUE_STATES), oldestWaitingAt(redis, queue)]);
    return {
      queue: queue.name,
      counts: Object.fromEntries(QUEUE_STATES.map((s) => [s, counts[s] ?? 0])) as QueueSample["counts"],
      oldestWaitingAgeSeconds: created !== null ? Math.max(0, now() - created) / 1000 : 0,
    };
  }

  let inFlight: Promise<Snapshot> | null = null;
  /** One Redis read per scrape, shared by every collect callback of that scrape. */
  function snapshot(): Promise<Snapshot> {
    inFlight ??= Promise.all([Promise.all(queues.map(readQueue)), readWorkerMetrics(redis, prefix)])
      .then(([q, workers]) => ({ queues: q, workers }))
      .catch(() => null)
      .finally(() => {
        inFlight = null;
      });
    return inFlight;
  }

  const requests = new Counter({
    name: "payhooks_webhook_requests_total",
    help: "Webhook requests this ingress process answered, by provider and outcome (accepted|duplicate|rejected_signature|rejected_payload|unavailable).",
    labelNames: ["provider", "outcome"],
    registers: [registry],
  });
  const ackDuration = new Histogram({
    name: "payhooks_webhook_ack_duration_seconds",
    help: "Time from a webhook request's start to its response's end, by provider (this ingress process).",
    labelNames: ["provider"],
    buckets: [...ACK_DURATION_BUCKETS_SECONDS],
    registers: [registry],
  });
  new Gauge({
    name: "payhooks_metrics_redis_up",
    help: "1 when this scrape read the queue and worker figures from Redis, 0 when Redis did not answer (those series are then absent).",
    registers: [registry],
    async collect() {
      this.set((await snapshot()) ? 1 : 0);
    },
  });
  new Gauge({
    name: "payhooks_queue_jobs",
    help: "Jobs in each queue by state (waiting|active|delayed|failed), read from Redis at scrape time.",
    labelNames: ["queue", "state"],
    registers: [registry],
    async collect() {
      this.reset();
      for (const q of (await snapshot())?.queues ?? []) {
        for (const state of QUEUE_STATES) this.set({ queue: q.queue, state }, q.counts[state]);
      }
    },
  });
  new Gauge({
    name: "payhooks_queue_oldest_waiting_age_seconds",
    help: "Age (since it was created) of the oldest job waiting in each queue; 0 when none waits.",
    labelNames: ["queue"],
    registers: [registry],
    async collect() {
      this.reset();
      for (const q of (await snapshot())?.queues ?? []) this.set({ queue: q.queue }, q.oldestWaitingAgeSeconds);
    },
  });
  // Every worker process feeds it through Redis; its series are read when scraped.
  new ExternalHistogram(
    {
      name: "payhooks_job_duration_seconds",
      help: "Time a worker spent on one job attempt, by queue and status (completed|failed); summed over every worker process through Redis.",
      labelNames: ["queue", "status"],
      buckets: JOB_DURATION_BUCKETS_SECONDS,
      registers: [registry],
    },
    async () => ((await snapshot())?.workers.durations ?? []).map((s) => ({ labels: { queue: s.queue, status: s.status }, buckets: s.buckets, count: s.count, sum: s.sumSeconds })),
  );
  new Counter({
    name: "payhooks_job_failures_total",
    help: "Failed job attempts in every worker process, by queue and kind (retrying: BullMQ runs it again; final: left failed; quarantined: left failed because its payload cannot be interpreted).",
    labelNames: ["queue", "kind"],
    registers: [registry],
    async collect() {
      this.reset();
      for (const f of (await snapshot())?.workers.failures ?? []) this.inc({ queue: f.queue, kind: f.kind }, f.count);
    },
  });
  new Counter({
    name: "payhooks_merchant_deliveries_total",
    help: "Merchant webhook delivery attempts in every worker process, by outcome (delivered|failed_attempt|exhausted).",
    labelNames: ["outcome"],
    registers: [registry],
    async collect() {
      this.reset();
      for (const d of (await snapshot())?.workers.deliveries ?? []) this.inc({ outcome: d.outcome }, d.count);
    },
  });
  // Every provider × outcome exists from the start at 0, so rate() and absent() work at once.
  for (const provider of PROVIDER_IDS) {
    for (const outcome of REQUEST_OUTCOMES) requests.inc({ provider, outcome }, 0);
  }

  const activity = createActivityWriter({ redis, prefix, now, ...(deps.activityFlushMs !== undefined ? { flushMs: deps.activityFlushMs } : {}) });
  /** requests whose duplicate check is still in flight: counted when it settles */
  const labelling = new Set<Promise<void>>();

  const track = (provider: ProviderId): RequestHandler => (_req, res, next) => {
    const started = performance.now();
    res.once("finish", () => {
      ackDuration.observe({ provider }, (performance.now() - started) / 1000);
      const answeredAt = now();
      // A duplicate check still in flight names the outcome when it settles.
      const pending = res.locals[PENDING] as Promise<void> | undefined;
      const count = () => {
        const outcome = (res.locals[OUTCOME] as RequestOutcome | undefined) ?? outcomeOfStatus(res.statusCode);
        requests.inc({ provider, outcome });
        const shown = activityOutcomeOf(outcome);
        if (shown) activity.add(provider, shown, answeredAt);
      };
      if (pending) {
        const counted = pending.then(count);
        labelling.add(counted);
        void counted.finally(() => labelling.delete(counted));
      } else count();
    });
    next();
  };

  const isDuplicate = createDuplicateBatcher(redis, deps.duplicateCheckMs ?? DUPLICATE_CHECK_MS);
  return {
    registry,
    track,
    mark: markOutcome,
    enqueued(res, queue, job) {
      markOutcome(res, "accepted");
      res.locals[PENDING] = isDuplicate(queue, job).then(
        (duplicate) => void (duplicate && markOutcome(res, "duplicate")),
        () => undefined, // the job is confirmed; only its label is unknown
      );
    },
    handler: async (_req, res) => {
      const text = await registry.metrics();
      res.status(200).type(registry.contentType).send(text);
    },
    flush: async () => {
      await Promise.all(labelling);
      await activity.flush();
    },
  };
}
