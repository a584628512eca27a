import type { JobsOptions } from "bullmq";
import { sha256Hex } from "./crypto";
import { PROVIDER_IDS, type ProviderId } from "./provider";

/** Each provider's queue is named by its id and carries Envelopes (request–reply calls included). */
const PROVIDER_QUEUES = Object.fromEntries(PROVIDER_IDS.map((id) => [id, id])) as { readonly [P in ProviderId]: P };

/** Queue names. Provider queues carry Envelopes; the other two carry PaymentEvents. */
export const QUEUES = {
  ...PROVIDER_QUEUES,
  /** The merchant's own workers may consume this queue; payhooks only produces to it. */
  paymentEvents: "payment-events",
  /** Deliveries to MERCHANT_WEBHOOK_URL, consumed by the payhooks worker. */
  merchantWebhooks: "merchant-webhooks",
} as const satisfies Record<ProviderId | "paymentEvents" | "merchantWebhooks", string>;

/**
 * The worker's own housekeeping (the ledger's retention compaction, once a day through a BullMQ
 * job scheduler), worked by every worker process. Not in QUEUES: it carries no payment and no
 * event, so the dashboard, `payhooks status` and the metrics leave it out.
 */
export const MAINTENANCE_QUEUE = "ledger-maintenance";
export const LEDGER_COMPACTION_SCHEDULER = "ledger-compaction";

/** The provider whose queue `queue` is, or null for any other queue. */
export function providerOfQueue(queue: string): ProviderId | null {
  return PROVIDER_IDS.find((id) => QUEUES[id] === queue) ?? null;
}

const DAY_S = 86_400;

/**
 * Retries and retention per kind of job. Completed jobs are kept 7 days so a redelivery in
 * that window is deduplicated by job id before it reaches a worker; the ledger dedups forever.
 */
export const JOB_OPTIONS = {
  provider: {
    attempts: 8,
    backoff: { type: "exponential", delay: 1_000 },
    removeOnComplete: { age: 7 * DAY_S, count: 200_000 },
    removeOnFail: { age: 30 * DAY_S },
  },
  /**
   * One attempt: the ingress is waiting for this very job, and a failure is answered -32400,
   * which Payme retries (every method is idempotent). Kept a day as an audit trail of calls.
   */
  rpcCall: {
    attempts: 1,
    removeOnComplete: { age: DAY_S, count: 100_000 },
    removeOnFail: { age: 7 * DAY_S },
  },
  paymentEvent: {
    removeOnComplete: { age: 7 * DAY_S, count: 200_000 },
    removeOnFail: { age: 30 * DAY_S },
  },
  merchantWebhook: {
    // 2s, 4s, 8s … about 9 hours in all before the delivery is left failed for an operator.
    attempts: 15,
    backoff: { type: "exponential", delay: 2_000 },
    removeOnComplete: { age: 7 * DAY_S, count: 200_000 },
    removeOnFail: { age: 30 * DAY_S },
  },
} as const satisfies Record<string, JobsOptions>;

const READABLE = /^[A-Za-z0-9._-]{1,100}$/;

/**
 * A deterministic BullMQ job id from the parts that identify one delivery. BullMQ refuses ids
 * with ":" and all-digit ids, so the provider prefix is always there. Parts are joined with "~",
 * which no readable part contains, so two different part lists never give one id; parts that
 * are not plain tokens are replaced by a hash of the JSON list of all parts (never sanitised, which could).
 */
export function jobIdFor(provider: ProviderId, parts: readonly string[]): string {
  if (parts.every((p) => READABLE.test(p))) return `${provider}-${parts.join("~")}`;
  return `${provider}-h${sha256Hex(JSON.stringify(parts)).slice(0, 40)}`;
}
