import type IORedis from "ioredis";

/** Newest entries kept per order; an order rarely has more than a handful of jobs. */
const PER_ORDER = 500;
const TTL_S = 30 * 86_400;

export type IndexedJob = { queue: string; jobId: string; at: number };

/**
 * Jobs by the order they concern, so an operator can list an order's jobs without scanning a
 * queue. `{prefix}:jobindex:order:{orderId}` is a sorted set of "queue/jobId" by time (ms),
 * trimmed to the newest 500 and kept 30 days after its last write.
 */
export function createJobIndex(deps: { redis: Pick<IORedis, "multi" | "zrevrangebyscore">; prefix: string }) {
  const key = (orderId: string) => `${deps.prefix}:jobindex:order:${orderId}`;

  /** Records that a job of `queue` concerns `orderId`. */
  async function add(orderId: string, queue: string, jobId: string, at: number): Promise<void> {
    const k = key(orderId);
    await deps.redis
      .multi()
      .zadd(k, at, `${queue}/${jobId}`)
      .zremrangebyrank(k, 0, -(PER_ORDER + 1))
      .expire(k, TTL_S)
      .exec();
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

  return { add, list };
}

export type JobIndex = ReturnType<typeof createJobIndex>;
