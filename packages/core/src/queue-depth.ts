import type { Queue } from "bullmq";
import type IORedis from "ioredis";

/**
 * When the oldest job waiting in `queue` was created (ms), or null when none waits. BullMQ
 * LPUSHes new jobs and workers take from the right, so the tail of the wait list is the oldest:
 * one LINDEX and one HGET, whatever the queue's length.
 */
export async function oldestWaitingAt(redis: Pick<IORedis, "lindex" | "hget">, queue: Pick<Queue, "toKey">): Promise<number | null> {
  const oldestId = await redis.lindex(queue.toKey("wait"), -1);
  const created = oldestId ? await redis.hget(queue.toKey(oldestId), "timestamp") : null;
  return created ? Number(created) : null;
}
