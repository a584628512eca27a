import { Queue, type Job, type JobType } from "bullmq";
import {
  QUEUES,
  createJobIndex,
  createLedger,
  oldestWaitingAt,
  redactForDisplay,
  type Ledger,
  type PaymentRecord,
  type ProviderId,
  type RedisConnection,
} from "@payhooks/core";
import { SENSITIVE_FIELDS } from "@payhooks/providers";

/** The keys the provider modules name as sensitive, masked along with the generic ones. */
const SENSITIVE_KEYS: ReadonlySet<string> = new Set(SENSITIVE_FIELDS);

export const QUEUE_NAMES = Object.values(QUEUES) as string[];
export const STATES = ["failed", "delayed", "active", "waiting", "completed"] as const;
export type State = (typeof STATES)[number];

/** A failure the CLI turns into its exit code and a one-line message. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}
export const EXIT = { notFound: 1, usage: 2, redis: 3 } as const;

export type Ops = ReturnType<typeof createOps>;

/** "90s", "30m", "1h", "7d" → ms. */
export function parseSince(text: string): number {
  const m = /^(\d+)\s*(s|m|h|d)$/.exec(text.trim());
  if (!m) throw new CliError(`--since ${JSON.stringify(text)}: use a duration such as 90s, 30m, 1h or 7d`, EXIT.usage);
  return Number(m[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "s" | "m" | "h" | "d"];
}

export type DeliveryRow = {
  at: string;
  event: string;
  attempt: number;
  via: "inline" | "job";
  status: number | null;
  ms: number;
  error: string | null;
  nextRetryAt: string | null;
};

export type JobRow = {
  queue: string;
  id: string;
  state: string;
  provider: string | null;
  order: string | null;
  attempts: string;
  nextRetry: string | null;
  lastError: string | null;
  createdAt: string;
};

function providerOf(job: Job): string | null {
  const p = (job.data as { provider?: unknown } | null)?.provider;
  return typeof p === "string" ? p : null;
}

/** The order a job concerns: an event's orderId, or what the worker resolved for a provider job. */
function orderOf(job: Job): string | null {
  const fromData = (job.data as { orderId?: unknown } | null)?.orderId;
  if (typeof fromData === "string") return fromData;
  const fromResult = (job.returnvalue as { orderId?: unknown } | null)?.orderId;
  return typeof fromResult === "string" ? fromResult : null;
}

/** Operator operations over the queues and the ledger, shared by every `payhooks` command. */
export function createOps(deps: { redis: RedisConnection; prefix: string; now?: () => number }) {
  const now = deps.now ?? Date.now;
  const queues = new Map<string, Queue>();
  const ledger: Ledger = createLedger({ redis: deps.redis, prefix: deps.prefix });
  const index = createJobIndex({ redis: deps.redis, prefix: deps.prefix });

  function queue(name: string): Queue {
    if (!QUEUE_NAMES.includes(name)) throw new CliError(`unknown queue ${JSON.stringify(name)}: one of ${QUEUE_NAMES.join(", ")}`, EXIT.usage);
    let q = queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: deps.redis, prefix: deps.prefix });
      queues.set(name, q);
    }
    return q;
  }

  async function job(queueName: string, jobId: string): Promise<Job> {
    const found = await queue(queueName).getJob(jobId);
    if (!found) throw new CliError(`no job ${jobId} in queue ${queueName}`, EXIT.notFound);
    return found;
  }

  async function row(queueName: string, j: Job, state?: string): Promise<JobRow> {
    const st = state ?? (await j.getState());
    const allowed = j.opts.attempts ?? 1;
    return {
      queue: queueName,
      id: j.id!,
      state: st,
      provider: providerOf(j),
      order: orderOf(j),
      attempts: `${j.attemptsMade}/${allowed}`,
      nextRetry: st === "delayed" ? new Date(j.timestamp + (j.delay ?? 0)).toISOString() : null,
      lastError: j.failedReason || null,
      createdAt: new Date(j.timestamp).toISOString(),
    };
  }

  /** Per queue: counts, the oldest waiting job's age, and the workers connected to it. */
  async function status() {
    return Promise.all(
      QUEUE_NAMES.map(async (name) => {
        const q = queue(name);
        const [counts, oldestAt, workers] = await Promise.all([
          q.getJobCounts("waiting", "active", "delayed", "failed", "completed", "prioritized"),
          oldestWaitingAt(deps.redis, q),
          q.getWorkersCount(),
        ]);
        return {
          queue: name,
          waiting: (counts["waiting"] ?? 0) + (counts["prioritized"] ?? 0),
          active: counts["active"] ?? 0,
          delayed: counts["delayed"] ?? 0,
          failed: counts["failed"] ?? 0,
          completed: counts["completed"] ?? 0,
          oldestWaitingSeconds: oldestAt !== null ? Math.max(0, Math.round((now() - oldestAt) / 1000)) : null,
          workers,
        };
      }),
    );
  }

  /** Newest first. `order` reads the job index (never a scan); the other filters apply to what is read. */
  async function jobs(opts: { queue: string; state?: State; provider?: string; order?: string; since?: number; limit: number }): Promise<JobRow[]> {
    const q = queue(opts.queue);
    const since = opts.since !== undefined ? now() - opts.since : 0;
    let rows: JobRow[];
    if (opts.order) {
      const entries = (await index.list(opts.order, since, 1_000)).filter((e) => e.queue === opts.queue);
      const found = await Promise.all(entries.map((e) => q.getJob(e.jobId)));
      rows = await Promise.all(found.filter((j): j is Job => j !== undefined).map((j) => row(opts.queue, j)));
      if (opts.state) rows = rows.filter((r) => r.state === opts.state);
    } else {
      const state = opts.state ?? "failed";
      // Read a little more than asked when filtering by provider or time, newest first.
      const read = opts.provider || opts.since !== undefined ? Math.max(opts.limit * 5, 200) : opts.limit;
      const found = await q.getJobs([state as JobType], 0, read - 1, false);
      rows = await Promise.all(found.map((j) => row(opts.queue, j, state)));
    }
    return rows
      .filter((r) => (opts.provider ? r.provider === opts.provider : true))
      .filter((r) => Date.parse(r.createdAt) >= since)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
      .slice(0, opts.limit);
  }

  /**
   * An order's merchant delivery attempts, oldest first, from its timeline in the job index (an
   * attempt made in line leaves no job): the event, attempt number, in line or by a job, the
   * merchant's status, duration, error and when the next attempt is due.
   */
  async function deliveries(orderId: string): Promise<DeliveryRow[]> {
    const rows: DeliveryRow[] = [];
    for (const entry of await index.timeline(orderId)) {
      if (!("note" in entry) || entry.note.kind !== "attempt") continue;
      const n = entry.note;
      rows.push({
        at: new Date(entry.at).toISOString(),
        event: n.eventId,
        attempt: n.attempt,
        via: n.via,
        status: n.status,
        ms: Math.round(n.durationMs),
        error: n.error ?? null,
        nextRetryAt: n.nextRetryAt !== undefined ? new Date(n.nextRetryAt).toISOString() : null,
      });
    }
    return rows;
  }

  /** The ledger payment a job touched, if any: from its result, or from an event's own fields. */
  async function ledgerEntry(j: Job): Promise<PaymentRecord | null> {
    const data = j.data as { provider?: ProviderId; providerPaymentId?: string } | null;
    const result = j.returnvalue as { paymentId?: string } | null;
    const provider = data?.provider;
    const paymentId = data?.providerPaymentId ?? result?.paymentId;
    return provider && paymentId ? ledger.getPayment(provider, paymentId) : null;
  }

  /** One job in full, fit to show: data redacted, every attempt's error with a trimmed stack. */
  async function show(queueName: string, jobId: string) {
    const j = await job(queueName, jobId);
    const entry = await ledgerEntry(j);
    return {
      ...(await row(queueName, j)),
      name: j.name,
      processedBy: j.processedBy ?? null,
      processedOn: j.processedOn ? new Date(j.processedOn).toISOString() : null,
      finishedOn: j.finishedOn ? new Date(j.finishedOn).toISOString() : null,
      data: redactForDisplay(j.data, "", SENSITIVE_KEYS),
      result: j.returnvalue ?? null,
      errors: (j.stacktrace ?? []).map((stack) => stack.split("\n").slice(0, 6).join("\n")),
      ledger: entry ? redactForDisplay(entry, "", SENSITIVE_KEYS) : null,
    };
  }

  /** What `retry` acts on: failed jobs (run again) and delayed ones (a retry's backoff, or a delay: run now). */
  const RETRYABLE = ["failed", "delayed"] as const;
  type Retryable = (typeof RETRYABLE)[number];

  /** Runs one job now: a failed one again, a delayed one without waiting for its time. */
  async function runNow(j: Job, state: Retryable): Promise<void> {
    if (state === "failed") await j.retry("failed");
    else await j.promote();
  }

  /**
   * Re-runs a failed job, or runs a delayed job now (promote). Processors are idempotent: a retry
   * can never apply a payment twice.
   */
  async function retry(queueName: string, jobId: string): Promise<JobRow & { was: Retryable }> {
    const j = await job(queueName, jobId);
    const state = await j.getState();
    if (state !== "failed" && state !== "delayed") {
      throw new CliError(`job ${jobId} is ${state}: only failed and delayed jobs are retried`, EXIT.notFound);
    }
    await runNow(j, state);
    return { ...(await row(queueName, j, "waiting")), was: state };
  }

  /**
   * Every job of the queue in `states` (created within `since`), oldest state first as listed;
   * with `dryRun`, only the list. A job that left its state meanwhile (it ran, or its delay ended)
   * is left alone and reported with `skipped`.
   */
  async function retryAll(
    queueName: string,
    states: readonly Retryable[],
    since: number | undefined,
    dryRun: boolean,
  ): Promise<Array<JobRow & { skipped?: string }>> {
    const rows: Array<JobRow & { skipped?: string }> = [];
    for (const state of states) {
      rows.push(...(await jobs({ queue: queueName, state, limit: 10_000, ...(since !== undefined ? { since } : {}) })));
    }
    if (dryRun) return rows;
    for (const r of rows) {
      const j = await queue(queueName).getJob(r.id);
      const now = j ? await j.getState() : "gone";
      if (!j || now !== r.state) {
        r.skipped = `now ${now}`;
        continue;
      }
      try {
        await runNow(j, r.state as Retryable);
      } catch (err) {
        r.skipped = (err as Error).message;
      }
    }
    return rows;
  }

  /** `--all-failed`: every failed job of the queue. */
  async function retryAllFailed(queueName: string, since: number | undefined, dryRun: boolean): Promise<JobRow[]> {
    return retryAll(queueName, ["failed"], since, dryRun);
  }

  /**
   * Runs a completed job's data again as a new job and waits for its result (a no-op for the
   * ledger when nothing changed — the result says so). Payme calls lose their reply deadline.
   */
  async function replay(queueName: string, jobId: string, timeoutMs = 30_000) {
    const j = await job(queueName, jobId);
    const state = await j.getState();
    if (state !== "completed") throw new CliError(`job ${jobId} is ${state}: only completed jobs are replayed (retry failed ones)`, EXIT.notFound);
    const { replyBy: _deadline, ...data } = j.data as Record<string, unknown>;
    const replayId = `replay-${now()}-${jobId}`;
    const before = await ledgerEntry(j);
    const added = await queue(queueName).add(j.name, data, { attempts: 1, jobId: replayId, removeOnComplete: { age: 7 * 86_400 } });
    const deadline = now() + timeoutMs;
    for (;;) {
      const s = await added.getState();
      if (s === "completed" || s === "failed") break;
      if (now() > deadline) throw new CliError(`replay ${replayId} did not finish within ${timeoutMs / 1000} s: is a worker running?`, EXIT.notFound);
      await new Promise((r) => setTimeout(r, 50));
    }
    const done = (await queue(queueName).getJob(replayId))!;
    const after = await ledgerEntry(done);
    return {
      replayJobId: replayId,
      state: await done.getState(),
      result: done.returnvalue ?? null,
      error: done.failedReason || null,
      ledgerChanged: JSON.stringify(before) !== JSON.stringify(after),
    };
  }

  async function close(): Promise<void> {
    await Promise.all([...queues.values()].map((q) => q.close()));
  }

  return { status, jobs, deliveries, show, retry, retryAll, retryAllFailed, replay, close };
}
