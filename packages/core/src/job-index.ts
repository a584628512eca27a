import type IORedis from "ioredis";
import type { Logger } from "./logger";

/** After a failed write (Redis down or read-only), the next try; entries wait meanwhile. */
const RETRY_MS = 1_000;
/** Index keys kept waiting through failed writes at most; past it the oldest are dropped, and said so. */
const MAX_WAITING_KEYS = 50_000;

/** Newest entries kept per order; an order rarely has more than a handful of jobs. */
const PER_ORDER = 500;
const TTL_S = 30 * 86_400;
const DAY_MS = 86_400_000;
/** Days of event-id hashes kept (and looked up): the job index's own retention. */
const EVENT_DAYS = 30;
const EVENT_ID = /^evt_[0-9a-f]{32}$/;
/** Queues whose job id is a PaymentEvent id. */
const EVENT_QUEUES: ReadonlySet<string> = new Set(["merchant-webhooks", "payment-events"]);

export type IndexedJob = { queue: string; jobId: string; at: number };

/**
 * One merchant delivery attempt, as the order's timeline keeps it: made in line by the job that
 * changed the payment (`via: "inline"`, the first attempt) or by a `merchant-webhooks` job
 * (`via: "job"`, the retries). `status` is the merchant's HTTP status (null when none came);
 * `nextRetryAt` is when the next attempt is due (absent after a success or the last attempt).
 */
export type DeliveryAttemptNote = {
  kind: "attempt";
  eventId: string;
  /** 1 for the first attempt */
  attempt: number;
  via: "inline" | "job";
  status: number | null;
  durationMs: number;
  error?: string;
  nextRetryAt?: number;
  /** no attempt follows: delivered, or left failed for an operator */
  final?: boolean;
};

/** What an order's timeline holds besides job references. */
export type TimelineNote = DeliveryAttemptNote;

/** One line of an order's timeline: a job that concerns it, or a note (a delivery attempt). */
export type TimelineEntry = { at: number } & ({ job: { queue: string; jobId: string } } | { note: TimelineNote });

/**
 * Jobs by the order they concern, so an operator can list an order's jobs without scanning a
 * queue, and the order's merchant delivery attempts (an attempt made in line leaves no job).
 * `{prefix}:jobindex:order:{orderId}` is a sorted set by time (ms) of "queue/jobId" members and
 * of notes (JSON objects, `{"kind":…}`), trimmed to the newest 500 and kept 30 days after its
 * last write.
 *
 * Writes are gathered for `flushMs` (0: the next turn of the event loop) and written together, one
 * pipeline: ZADD, ZREMRANGEBYRANK and EXPIRE once per order however many of its jobs came in the
 * window (an event's provider job and delivery job usually do), off the jobs' path. A write that
 * fails keeps its entries for the next try (logged once per failed write). The index is for
 * people: entries still waiting when a worker dies are lost; the jobs are not.
 *
 * Event ids (of notes and of `merchant-webhooks`/`payment-events` jobs, whose job id is the
 * event id) also go, in the same pipeline, to `{prefix}:jobindex:events:{YYYY-MM-DD}`, a hash
 * event id → order id per day of writing, kept 30 days: `orderOfEvent` finds an event's order.
 */
export function createJobIndex(deps: {
  redis: Pick<IORedis, "pipeline" | "zrevrangebyscore">;
  prefix: string;
  flushMs?: number;
  logger?: Pick<Logger, "warn">;
  /** wall clock: which day's event-id hash a write goes to. @defaultValue Date.now */
  now?: () => number;
}) {
  const now = deps.now ?? Date.now;
  const key = (orderId: string) => `${deps.prefix}:jobindex:order:${orderId}`;
  /** The event ids written on `day` (YYYY-MM-DD, UTC) → their order: search by event id. */
  const eventsKey = (day: string) => `${deps.prefix}:jobindex:events:${day}`;
  const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  /** per index key: its members and scores, waiting for the next write */
  let waiting = new Map<string, Array<string | number>>();
  /** event id → order id, waiting for the next write (with the timeline entries) */
  let waitingEvents = new Map<string, string>();
  let timer: NodeJS.Timeout | null = null;

  function schedule(ms: number): void {
    if (timer) return;
    timer = setTimeout(() => void write(), ms);
  }

  /** Writes what waits; resolves true when it is written (or nothing waited), false when it is kept for a retry. */
  async function write(): Promise<boolean> {
    if (timer) clearTimeout(timer);
    timer = null;
    if (waiting.size === 0 && waitingEvents.size === 0) return true;
    const batch = waiting;
    const events = waitingEvents;
    waiting = new Map();
    waitingEvents = new Map();
    try {
      const pipeline = deps.redis.pipeline();
      for (const [k, scoresAndMembers] of batch) {
        pipeline.zadd(k, ...scoresAndMembers).zremrangebyrank(k, 0, -(PER_ORDER + 1)).expire(k, TTL_S);
      }
      if (events.size > 0) {
        // By the day of the write, so a day's hash lives 30 days after its last write whatever
        // the events' own times; a lookup reads the last 30 days' hashes.
        const k = eventsKey(dayOf(now()));
        pipeline.hset(k, Object.fromEntries(events)).expire(k, TTL_S);
      }
      const failed = ((await pipeline.exec()) ?? []).find(([err]) => err);
      if (failed) throw failed[0];
      return true;
    } catch (err) {
      // Back in front of what came since, within the bound.
      for (const [k, entries] of waiting) batch.set(k, [...(batch.get(k) ?? []), ...entries]);
      const keys = [...batch.keys()];
      for (const k of keys.slice(0, Math.max(0, keys.length - MAX_WAITING_KEYS))) batch.delete(k);
      waiting = batch;
      for (const [id, orderId] of waitingEvents) events.set(id, orderId);
      const ids = [...events.keys()];
      for (const id of ids.slice(0, Math.max(0, ids.length - MAX_WAITING_KEYS))) events.delete(id);
      waitingEvents = events;
      deps.logger?.warn({ err: { message: (err as Error).message }, orders: waiting.size }, "job index not written; kept for the next try");
      schedule(RETRY_MS);
      return false;
    }
  }

  function enqueue(orderId: string, at: number, member: string): void {
    const k = key(orderId);
    const entries = waiting.get(k) ?? [];
    entries.push(at, member);
    waiting.set(k, entries);
    schedule(deps.flushMs ?? 0);
  }

  /** Records that a job of `queue` concerns `orderId`, written within `flushMs` (never awaited on a job's path). */
  function add(orderId: string, queue: string, jobId: string, at: number): void {
    if (EVENT_QUEUES.has(queue) && EVENT_ID.test(jobId)) waitingEvents.set(jobId, orderId);
    enqueue(orderId, at, `${queue}/${jobId}`);
  }

  /** Records a note on the order's timeline (a delivery attempt), written like `add`. */
  function note(orderId: string, entry: TimelineNote, at: number): void {
    // `at` inside too: two identical attempts at different times stay two members.
    if (EVENT_ID.test(entry.eventId)) waitingEvents.set(entry.eventId, orderId);
    enqueue(orderId, at, JSON.stringify({ ...entry, at }));
  }

  /**
   * The order a PaymentEvent concerns, by its id (a hash, so it cannot be read back from the id):
   * one HGET per day of the last 30 days' hashes, in one pipeline. Null when none has it.
   */
  async function orderOfEvent(eventId: string): Promise<string | null> {
    if (!EVENT_ID.test(eventId)) return null;
    const pipeline = deps.redis.pipeline();
    const today = now();
    for (let d = 0; d <= EVENT_DAYS; d++) pipeline.hget(eventsKey(dayOf(today - d * DAY_MS)), eventId);
    for (const [err, value] of (await pipeline.exec()) ?? []) if (!err && typeof value === "string") return value;
    return null;
  }

  /** A member as a timeline entry, or null for one this version cannot read. */
  function parse(member: string, at: number): TimelineEntry | null {
    if (member.startsWith("{")) {
      try {
        const { at: _at, ...note } = JSON.parse(member) as TimelineNote & { at?: number };
        return typeof note.kind === "string" ? { at, note } : null;
      } catch {
        return null;
      }
    }
    const slash = member.indexOf("/");
    return slash > 0 ? { at, job: { queue: member.slice(0, slash), jobId: member.slice(slash + 1) } } : null;
  }

  async function range(orderId: string, since: number, limit: number): Promise<TimelineEntry[]> {
    const rows = await deps.redis.zrevrangebyscore(key(orderId), "+inf", since, "WITHSCORES", "LIMIT", 0, limit);
    const out: TimelineEntry[] = [];
    for (let i = 0; i < rows.length; i += 2) {
      const entry = parse(rows[i]!, Number(rows[i + 1]));
      if (entry) out.push(entry);
    }
    return out;
  }

  /** The order's jobs, newest first, not older than `since` (ms). */
  async function list(orderId: string, since = 0, limit = 100): Promise<IndexedJob[]> {
    const out: IndexedJob[] = [];
    // Notes share the set: read every entry (at most PER_ORDER), then keep `limit` jobs.
    for (const e of await range(orderId, since, PER_ORDER)) if ("job" in e && out.length < limit) out.push({ ...e.job, at: e.at });
    return out;
  }

  /** The order's timeline, oldest first: its jobs and notes of the newest `limit` entries. */
  async function timeline(orderId: string, limit = 500): Promise<TimelineEntry[]> {
    return (await range(orderId, 0, limit)).reverse();
  }

  /** Writes what is waiting now (at shutdown, and where a reader must see it at once); true when all is written. */
  const flush = (): Promise<boolean> => write();

  return { add, note, flush, list, timeline, orderOfEvent };
}

export type JobIndex = ReturnType<typeof createJobIndex>;
