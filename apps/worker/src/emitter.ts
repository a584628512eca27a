import type { Queue } from "bullmq";
import { JOB_OPTIONS, QUEUES, type JobIndex, type Ledger, type Logger, type PaymentEvent, type ProviderId } from "@payhooks/core";

export type Emitter = ReturnType<typeof createEmitter>;

/**
 * Moves PaymentEvents from the ledger's outbox to the queues. The ledger writes an event in the
 * same atomic step as the change it describes; this enqueues it with jobId = event id (so a
 * second enqueue of the same event is a no-op) and only then clears it from the outbox. A worker
 * that dies in between leaves the event in the outbox: the job's retry or the sweeper sends it.
 * Each queue is optional (`payment-events` with PAYMENT_EVENTS_QUEUE=true, `merchant-webhooks`
 * with MERCHANT_WEBHOOK_URL); with neither, an event is just cleared from the outbox.
 */
export function createEmitter(deps: {
  ledger: Ledger;
  /** null unless PAYMENT_EVENTS_QUEUE=true */
  paymentEvents: Queue | null;
  merchantWebhooks: Queue | null;
  logger: Logger;
  /** when given, every event job is findable by its order (`payhooks jobs … --order`) */
  jobIndex?: JobIndex;
}) {
  async function emit(event: PaymentEvent): Promise<void> {
    if (deps.paymentEvents) {
      await deps.paymentEvents.add(event.type, event, { ...JOB_OPTIONS.paymentEvent, jobId: event.id });
    }
    if (deps.merchantWebhooks) {
      await deps.merchantWebhooks.add("merchant.deliver", event, { ...JOB_OPTIONS.merchantWebhook, jobId: event.id });
    }
    if (deps.jobIndex && event.orderId) {
      // An index for operators, written in batches beside the event's path (job-index.ts).
      const at = Date.parse(event.occurredAt) || Date.now();
      if (deps.paymentEvents) deps.jobIndex.add(event.orderId, QUEUES.paymentEvents, event.id, at);
      if (deps.merchantWebhooks) deps.jobIndex.add(event.orderId, QUEUES.merchantWebhooks, event.id, at);
    }
    // Only after every configured queue has it (and also when none is: the event goes nowhere).
    await deps.ledger.markEmitted(event);
  }

  /** Sends every event of this payment still in the outbox (this run's and any a crash left). */
  async function flushPayment(provider: ProviderId, providerPaymentId: string): Promise<PaymentEvent[]> {
    const events = await deps.ledger.pendingEvents(provider, providerPaymentId);
    // In the order the ledger wrote them: a later version describes a later state of the payment.
    events.sort((a, b) => (a.sequence ?? 0) - (b.sequence ?? 0) || a.occurredAt.localeCompare(b.occurredAt));
    for (const event of events) await emit(event);
    return events;
  }

  /**
   * Sends the outbox entries that are due: those an order PUT wrote (due at once: the merchant
   * learns of payments attached to a new order) and those a worker that died left behind.
   * Run every second by every worker process; `ageMs` holds back the most recent (tests).
   */
  async function sweep(ageMs = 0): Promise<number> {
    const events = await deps.ledger.dueEvents(ageMs);
    for (const event of events) await emit(event);
    if (events.length > 0) deps.logger.info({ count: events.length }, "sent due events from the outbox");
    return events.length;
  }

  return { flushPayment, sweep };
}
