import type { Queue } from "bullmq";
import type { JobIndex, Ledger, Logger, Redis } from "@payhooks/core";
import type { QueueKey } from "../dashboard";

/**
 * What every console page and action is built from, wired once in main.ts. Pages read through
 * these only: the ledger, the job index and a job's own hash by id — never a scan of Redis.
 */
export type ConsoleDeps = {
  ledger: Ledger;
  /** one Queue per queue of QUEUES, by its key (`payme`, `paymentEvents`, `merchantWebhooks` …) */
  queues: Record<QueueKey, Queue>;
  /** the producer connection the queues use (non-blocking commands only) */
  redis: Redis;
  /** QUEUE_PREFIX as the queues use it (hash-tagged against a Redis Cluster) */
  prefix: string;
  jobIndex: Pick<JobIndex, "timeline" | "list">;
  logger: Logger;
  /** ms since epoch; injected so tests and pages agree on "now" */
  now: () => number;
};
