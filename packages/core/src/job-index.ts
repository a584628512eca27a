import type IORedis from "ioredis";

/** Newest entries kept per order; an order rarely has more than a handful of jobs. */
const PER_ORDER = 500;
const TTL_S = 30 * 86_400;

export type IndexedJob = { queue: string; jobId: string; at: number };

/**
 * Jobs by the order they concern, so an operator can list an order's jobs without scanning a
 * queue. `{prefix}:jobindex:order:{orderId}` is a sorted set of "queue/jobId" by time (ms),
 * trimmed to the newest 500 and kept 30 days after its last write.
 *
 * Writes are gathered for `flushMs` (0: the rest of this tick) and written together, one pipeline:
 * ZADD, ZREMRANGEBYRANK and EXPIRE once per order however many of its jobs came in the window
 * (an event's provider job and delivery job usually do). `add` resolves once its entry is written.
 */
export function createJobIndex(deps: { redis: Pick<IORedis, "pipeline" | "zrevrangebyscore">; prefix: string; flushMs?: number }) {
  const key = (orderId: string) => `${deps.prefix}:jobindex:order:${orderId}`;
  /** per index key: its members and scores, waiting for the next write */
  let waiting = new Map<string, Array<string | number>>();
  let written: Promise<void> | null = null;

  async function write(): Promise<void> {
    if (waiting.size === 0) return;
    const batch = waiting;
    waiting = new Map();
    written = null;
    const pipeline = deps.redis.pipeline();
    for (const [k, scoresAndMembers] of batch) {
      pipeline.zadd(k, ...scoresAndMembers).zremrangebyrank(k, 0, -(PER_ORDER + 1)).expire(k, TTL_S);
    }
    const replies = (await pipeline.exec()) ?? [];
    const failed = replies.find(([err]) => err);
    if (failed) throw failed[0];
  }

  /** Records that a job of `queue` concerns `orderId`; resolves once written. */
  function add(orderId: string, queue: string, jobId: string, at: number): Promise<void> {
    const k = key(orderId);
    const entries = waiting.get(k) ?? [];
    entries.push(at, `${queue}/${jobId}`);
    waiting.set(k, entries);
    written ??= new Promise<void>((resolve) => setTimeout(resolve, deps.flushMs ?? 0)).then(write);
    return written;
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

  /** Writes what is waiting now (at shutdown). */
  const flush = (): Promise<void> => write();

  return { add, flush, list };
}

export type JobIndex = ReturnType<typeof createJobIndex>;
