import type { Job, Queue } from "bullmq";
import { ORDER_ID_PATTERN, PROVIDER_IDS, QUEUES, canBeJobId, delayedUntil, type DeliveryAttemptNote, type OrderView, type PaymentEvent, type ProviderId } from "@payhooks/core";
import type { QueueKey } from "../dashboard";
import { DUPLICATES_FIELD } from "../metrics";
import type { ConsoleDeps } from "./deps";

/** The worker's mark on a provider job it could not interpret (apps/worker/src/metrics.ts QUARANTINED). */
export const QUARANTINED_PREFIX = "quarantined: ";

const EVENT_ID = /^evt_[0-9a-f]{32}$/;
const QUEUE_KEYS = Object.keys(QUEUES) as QueueKey[];
const KEY_OF_NAME = new Map<string, QueueKey>(QUEUE_KEYS.map((k) => [QUEUES[k], k]));
const PROVIDER_QUEUES: ReadonlySet<string> = new Set(PROVIDER_IDS);

/** A queue's key by its name (`merchant-webhooks` → `merchantWebhooks`), or undefined for none of ours. */
export function queueKeyOf(name: string): QueueKey | undefined {
  return KEY_OF_NAME.get(name);
}

/** The Queue a queue name (one of QUEUES) stands for; callers checked it with queueKeyOf. */
export function queueOf(deps: Pick<ConsoleDeps, "queues">, name: string): Queue {
  return deps.queues[queueKeyOf(name)!] as Queue;
}

export type FoundJob = { queue: string; job: Job };

/**
 * A job by id in the given queues (all of QUEUES by default): one HGETALL per queue tried, never
 * a listing. A provider's job ids start with its id and an event's job id is the event id, so
 * usually one or two queues are tried.
 */
export async function findJob(deps: Pick<ConsoleDeps, "queues">, jobId: string, queueNames?: readonly string[]): Promise<FoundJob | null> {
  if (!canBeJobId(jobId)) return null;
  const names = queueNames ?? candidateQueues(jobId);
  const found = await Promise.all(
    names.map(async (name) => {
      const key = queueKeyOf(name);
      const job = key ? await (deps.queues[key] as Queue).getJob(jobId) : undefined;
      return job ? { queue: name, job } : null;
    }),
  );
  return found.find((f) => f !== null) ?? null;
}

function candidateQueues(jobId: string): string[] {
  if (EVENT_ID.test(jobId)) return [QUEUES.merchantWebhooks, QUEUES.paymentEvents];
  const provider = PROVIDER_IDS.find((p) => jobId.startsWith(`${p}-`) || jobId.startsWith(`replay-`));
  if (provider && jobId.startsWith(`${provider}-`)) return [provider];
  return QUEUE_KEYS.map((k) => QUEUES[k]);
}

/** The order a job concerns: an event's orderId, or what the worker resolved for a provider job. */
export function orderOfJob(job: Job): string | null {
  const fromData = (job.data as { orderId?: unknown } | null)?.orderId;
  if (typeof fromData === "string") return fromData;
  const fromResult = (job.returnvalue as { orderId?: unknown } | null)?.orderId;
  return typeof fromResult === "string" ? fromResult : null;
}

export type SearchMatch =
  | { kind: "order"; orderId: string }
  | { kind: "payment"; provider: ProviderId; paymentId: string; orderId: string | null; via: "payment" | "reference" }
  | { kind: "event"; eventId: string; orderId: string }
  | { kind: "job"; queue: string; jobId: string; orderId: string | null };

/**
 * What `q` names: an order id, a provider's payment id (Payme transaction id, Payram reference,
 * Payske/Stripe PaymentIntent, RoboKassa InvId, Click id — each provider's payment hash, or a
 * reference an order registered), a PaymentEvent id (the job index's event hashes) or a job id
 * (its hash in each candidate queue). A fixed number of reads, whatever Redis holds: no SCAN, no
 * KEYS, no listing of a queue.
 */
export async function search(deps: ConsoleDeps, q: string): Promise<SearchMatch[]> {
  const query = q.trim();
  if (!query || query.length > 256) return [];
  const refKey = (provider: string) => `${deps.prefix}:ledger:ref:${provider}:${query}`; // ledger.ts key layout: P:ref:{provider}:{paymentId}
  const [order, eventOrder, payments, refs, job] = await Promise.all([
    ORDER_ID_PATTERN.test(query) ? deps.ledger.getOrder(query) : Promise.resolve(null),
    EVENT_ID.test(query) ? deps.jobIndex.orderOfEvent(query) : Promise.resolve(null),
    Promise.all(PROVIDER_IDS.map((p) => deps.ledger.getPayment(p, query))),
    (deps.redis.pipeline(PROVIDER_IDS.map((p) => ["get", refKey(p)])).exec() ?? Promise.resolve([])) as Promise<Array<[Error | null, unknown]> | null>,
    findJob(deps, query),
  ]);
  const matches: SearchMatch[] = [];
  if (order) matches.push({ kind: "order", orderId: order.orderId });
  if (eventOrder) matches.push({ kind: "event", eventId: query, orderId: eventOrder });
  PROVIDER_IDS.forEach((provider, i) => {
    const payment = payments[i];
    if (payment) matches.push({ kind: "payment", provider, paymentId: query, orderId: payment.orderId, via: "payment" });
    const [err, ref] = refs?.[i] ?? [null, null];
    if (!payment && !err && typeof ref === "string") matches.push({ kind: "payment", provider, paymentId: query, orderId: ref, via: "reference" });
  });
  if (job) matches.push({ kind: "job", queue: job.queue, jobId: query, orderId: orderOfJob(job.job) });
  return matches;
}

export type RowAction = { action: "retry" | "run-now" | "reprocess"; queue: string; jobId: string };

/** One line of an order's timeline as the page shows it. */
export type TimelineRow = { at: number } & (
  | {
      kind: "received";
      provider: string;
      queue: string;
      jobId: string;
      /** accepted: processed; quarantined: kept unreadable; failed: retries used up; pending: not processed yet */
      outcome: "accepted" | "quarantined" | "failed" | "pending";
      duplicates: number;
      state: string;
      error: string | null;
      action?: RowAction;
    }
  | { kind: "ledger"; provider: string; paymentId: string | null; result: string; reason: string | null; events: string[]; jobId: string; queue: string }
  | { kind: "event"; eventId: string; event: PaymentEvent | null }
  | { kind: "attempt"; note: DeliveryAttemptNote }
  | {
      kind: "delivery-job";
      jobId: string;
      name: string;
      state: string;
      attemptsMade: number;
      attemptsAllowed: number;
      error: string | null;
      nextRunAt: number | null;
      action?: RowAction;
    }
);

export type OrderPage = { order: OrderView | null; rows: TimelineRow[] };

/** What a failed or delayed job offers an operator: retry (failed), run now (delayed), re-process (quarantined). */
export function actionFor(queue: string, job: Job, state: string): RowAction | undefined {
  if (state === "delayed") return { action: "run-now", queue, jobId: job.id! };
  if (state !== "failed") return undefined;
  const quarantined = PROVIDER_QUEUES.has(queue) && (job.failedReason ?? "").startsWith(QUARANTINED_PREFIX);
  return { action: quarantined ? "reprocess" : "retry", queue, jobId: job.id! };
}

/**
 * The order and one timeline of everything that touched it, oldest first: deliveries received
 * (provider jobs), the ledger changes they made, PaymentEvents, merchant delivery attempts and
 * delivery jobs. Reads the order's job index and each job it names by id (one HGETALL and a
 * state lookup each), never a queue listing.
 */
export async function loadOrderPage(deps: ConsoleDeps, orderId: string): Promise<OrderPage> {
  const [order, entries] = await Promise.all([deps.ledger.getOrder(orderId), deps.jobIndex.timeline(orderId)]);
  const jobs = await Promise.all(
    entries.map(async (e) => {
      if (!("job" in e)) return null;
      const key = queueKeyOf(e.job.queue);
      const job = key ? await (deps.queues[key] as Queue).getJob(e.job.jobId) : undefined;
      if (!job) return null;
      const [state, duplicates] = await Promise.all([
        job.getState(),
        PROVIDER_QUEUES.has(e.job.queue) ? deps.redis.hget((deps.queues[key!] as Queue).toKey(job.id!), DUPLICATES_FIELD) : Promise.resolve(null),
      ]);
      const nextRunAt = state === "delayed" ? await delayedUntil(deps.redis, deps.queues[key!] as Queue, job.id!) : null;
      return { job, state, duplicates: Number(duplicates ?? 0) || 0, nextRunAt };
    }),
  );

  const rows: TimelineRow[] = [];
  const events = new Map<string, { at: number; event: PaymentEvent | null }>();
  const producedAt = new Map<string, number>();
  const seeEvent = (eventId: string, at: number, event: PaymentEvent | null) => {
    const known = events.get(eventId);
    if (!known) events.set(eventId, { at, event });
    else {
      if (!known.event && event) known.event = event;
      known.at = Math.min(known.at, at);
    }
  };
  entries.forEach((entry, i) => {
    if ("note" in entry) {
      rows.push({ at: entry.at, kind: "attempt", note: entry.note });
      seeEvent(entry.note.eventId, entry.at, null);
      return;
    }
    const found = jobs[i];
    const { queue, jobId } = entry.job;
    if (!found) {
      if (EVENT_ID.test(jobId)) seeEvent(jobId, entry.at, null);
      return; // removed by its retention
    }
    const { job, state, duplicates, nextRunAt } = found;
    if (PROVIDER_QUEUES.has(queue)) {
      const error = job.failedReason || null;
      const outcome =
        state === "completed" ? "accepted" : state === "failed" ? (error?.startsWith(QUARANTINED_PREFIX) ? "quarantined" : "failed") : "pending";
      const receivedAt = Number((job.data as { receivedAt?: unknown } | null)?.receivedAt) || job.timestamp;
      const action = actionFor(queue, job, state);
      rows.push({ at: receivedAt, kind: "received", provider: queue, queue, jobId, outcome, duplicates, state, error, ...(action ? { action } : {}) });
      const result = job.returnvalue as { outcome?: string; reason?: string; paymentId?: string; events?: string[] } | null;
      if (state === "completed" && result && typeof result.outcome === "string") {
        const evts = Array.isArray(result.events) ? result.events.filter((id) => typeof id === "string") : [];
        // The change is made while the job runs, before its first merchant attempt (in line).
        const doneAt = job.processedOn ?? job.finishedOn ?? receivedAt;
        rows.push({ at: doneAt, kind: "ledger", provider: queue, paymentId: result.paymentId ?? null, result: result.outcome, reason: result.reason ?? null, events: evts, jobId, queue });
        for (const id of evts) {
          seeEvent(id, doneAt, null);
          if (!producedAt.has(id)) producedAt.set(id, doneAt); // shown right after the change that produced it
        }
      }
      return;
    }
    // payment-events and merchant-webhooks jobs carry the PaymentEvent itself.
    const event = job.data as PaymentEvent;
    seeEvent(event.id, Date.parse(event.occurredAt) || entry.at, event);
    if (queue === QUEUES.merchantWebhooks) {
      const action = actionFor(queue, job, state);
      rows.push({
        at: job.timestamp,
        kind: "delivery-job",
        jobId,
        name: job.name,
        state,
        attemptsMade: job.attemptsMade,
        attemptsAllowed: job.opts.attempts ?? 1,
        // BullMQ keeps the last failure's reason after a later success: shown only while it matters.
        error: state === "failed" || state === "delayed" ? job.failedReason || null : null,
        nextRunAt,
        ...(action ? { action } : {}),
      });
    }
  });
  for (const [eventId, { at, event }] of events) rows.push({ at: producedAt.get(eventId) ?? at, kind: "event", eventId, event });
  // Oldest first; at one instant, in the order things happen.
  const rank: Record<TimelineRow["kind"], number> = { received: 0, ledger: 1, event: 2, attempt: 3, "delivery-job": 4 };
  rows.sort((a, b) => a.at - b.at || rank[a.kind] - rank[b.kind]);
  return { order, rows };
}
