import { randomUUID } from "node:crypto";
import type { Queue, QueueEvents } from "bullmq";
import { JOB_OPTIONS, jobIdFor, type Envelope } from "@payhooks/core";
import { enqueue } from "./enqueue";

export type RpcClient = ReturnType<typeof createRpcClient>;

type Settle = (value: { ok: true; value: unknown } | { ok: false; reason: string }) => void;

/**
 * Request–reply over BullMQ for Payme: enqueue a call, await the worker's return value.
 * One QueueEvents per process dispatches completions to the waiting calls by job id — one
 * listener however many calls are in flight (a `waitUntilFinished` per call adds a listener
 * each, and Node warns past ten). Every call is bounded by `timeoutMs` from its start.
 */
export function createRpcClient(deps: { queue: Queue; events: QueueEvents; timeoutMs: number; now?: () => number }) {
  const now = deps.now ?? Date.now;
  const waiting = new Map<string, Settle>();

  deps.events.on("completed", ({ jobId, returnvalue }) => waiting.get(jobId)?.({ ok: true, value: returnvalue }));
  deps.events.on("failed", ({ jobId, failedReason }) => waiting.get(jobId)?.({ ok: false, reason: failedReason }));

  /**
   * Resolves with the job's return value, or `{ ok: false }` when Redis refused the job, the
   * worker failed it, or no answer came within the bound. The job carries `replyBy`, so a
   * worker that finds it after the bound does not act on it.
   */
  async function call(
    name: string,
    envelope: Omit<Envelope, "deliveryId" | "replyBy">,
  ): Promise<{ ok: true; value: unknown } | { ok: false; reason: string }> {
    const started = now();
    const jobId = jobIdFor(envelope.provider, [name, randomUUID()]);
    let timer: NodeJS.Timeout | undefined;
    const answer = new Promise<{ ok: true; value: unknown } | { ok: false; reason: string }>((resolve) => {
      waiting.set(jobId, resolve);
      timer = setTimeout(() => resolve({ ok: false, reason: "timeout" }), deps.timeoutMs);
    });
    try {
      const data: Envelope = { ...envelope, deliveryId: jobId, replyBy: started + deps.timeoutMs };
      // The listener is registered before the add: a worker quicker than this await is still heard.
      await enqueue(deps.queue, name, data, { ...JOB_OPTIONS.rpcCall, jobId }, deps.timeoutMs);
      return await answer;
    } catch {
      return { ok: false, reason: "enqueue_failed" };
    } finally {
      clearTimeout(timer);
      waiting.delete(jobId);
    }
  }

  return { call };
}
