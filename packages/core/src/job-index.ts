import type IORedis from "ioredis";
import type { Logger } from "./logger";

/** After a failed write (Redis down or read-only), the next try; entries wait meanwhile. */
const RETRY_MS = 1_000;
/** Index keys kept waiting through failed writes at most; past it the oldest are dropped, and said so. */
const MAX_WAITING_KEYS = 50_000;

/** Newest entries kept per order; an order rarely has more than a handful of jobs. */
const PER_ORDER = 500;
const TTL_S = 30 * 86_400;

export type IndexedJob = { queue: string; jobId: string; at: number };

/**
 * Jobs by the order they concern, so an operator can list an order's jobs without scanning a
 * queue. `{prefix}:jobindex:order:{orderId}` is a sorted set of "queue/jobId" by time (ms),
 * trimmed to the newest 500 and kept 30 days after its last write.
 *
 * Writes are gathered for `flushMs` (0: the next turn of the event loop) and written together, one
 * pipeline: ZADD, ZREMRANGEBYRANK and EXPIRE once per order however many of its jobs came in the
 * window (an event's provider job and delivery job usually do), off the jobs' path. A write that
 * fails keeps its entries for the next try (logged once per failed write). The index is for
 * people: entries still waiting when a worker dies are lost; the jobs are not.
 */
export function createJobIndex(deps: { redis: Pick<IORedis, "pipeline" | "zrevrangebyscore">; prefix: string; flushMs?: number; logger?: Pick<Logger, "warn"> }) {
  const key = (orderId: string) => `${deps.prefix}:jobindex:order:${orderId}`;
  /** per index key: its members and scores, waiting for the next write */
  let waiting = new Map<string, Array<string | number>>();
  let timer: NodeJS.Timeout | null = null;

  function schedule(ms: number): void {
    if (timer) return;
    timer = setTimeout(() => void write(), ms);
  }

  /** Writes what waits; resolves true when it is written (or nothing waited), false when it is kept for a retry. */
  async function write(): Promise<boolean> {
    if (timer) clearTimeout(timer);
    timer = null;
    if (waiting.size === 0) return true;
    const batch = waiting;
    waiting = new Map();
    try {
      const pipeline = deps.redis.pipeline();
      for (const [k, scoresAndMembers] of batch) {
        pipeline.zadd(k, ...scoresAndMembers).zremrangebyrank(k, 0, -(PER_ORDER + 1)).expire(k, TTL_S);
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
      deps.logger?.warn({ err: { message: (err as Error).message }, orders: waiting.size }, "job index not written; kept for the next try");
      schedule(RETRY_MS);
      return false;
    }
  }

  /** Records that a job of `queue` concerns `orderId`, written within `flushMs` (never awaited on a job's path). */
  function add(orderId: string, queue: string, jobId: string, at: number): void {
    const k = key(orderId);
    const entries = waiting.get(k) ?? [];
    entries.push(at, `${queue}/${jobId}`);
    waiting.set(k, entries);
    schedule(deps.flushMs ?? 0);
  }

  /** The order's jobs, newest first, not older than `since` (ms). */
  async function list(orderId: string, since = 0, limit = 100): Promise<IndexedJob[]> {
    const rows = await deps.redis.zrevrangebyscore(key(orderId), "+inf", since, "WITHSCORES", "LIMIT", 0, limit);
    const out: IndexedJob[] = [];
    for (let i = 0; i < rows.length; i += 2) {
      const member = rows[i]!;
      const slash = member.indexOf("/");
      out.push({ queue: member.slice(0, slash), jobId: member.slice(slash + 1), at: Number(rows[i + 1]) });
    }
    return out;
  }

  /** Writes what is waiting now (at shutdown, and where a reader must see it at once); true when all is written. */
  const flush = (): Promise<boolean> => write();

  return { add, flush, list };
}

export type JobIndex = ReturnType<typeof createJobIndex>;
