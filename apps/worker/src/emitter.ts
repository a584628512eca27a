import type { Queue } from "bullmq";
import { JOB_OPTIONS, QUEUES, type JobIndex, type Ledger, type Logger, type PaymentEvent, type ProviderId } from "@payhooks/core";
import type { MerchantLane } from "./merchant";

export type Emitter = ReturnType<typeof createEmitter>;

/**
 * Moves PaymentEvents from the ledger's outbox to their destinations. The ledger writes an event
 * in the same atomic step as the change it describes; this enqueues it with jobId = event id (so
 * a second enqueue of the same event is a no-op), or delivers it to the merchant in line (the
 * first attempt, `merchant.ts`; only a failed one becomes a job), and only then clears it from
 * the outbox. A worker that dies in between leaves the event in the outbox: the job's retry or
 * the sweeper sends it. Each destination is optional (`payment-events` with
 * PAYMENT_EVENTS_QUEUE=true, the merchant with MERCHANT_WEBHOOK_URL); with neither, an event is
 * just cleared from the outbox.
 */
export function createEmitter(deps: {
  ledger: Ledger;
  /** null unless PAYMENT_EVENTS_QUEUE=true */
  paymentEvents: Queue | null;
  /** merchant delivery (merchant.ts), null unless MERCHANT_WEBHOOK_URL is set */
  merchant: Pick<MerchantLane, "deliver"> | null;
  logger: Logger;
  /** when given, every event job is findable by its order (`payhooks jobs … --order`) */
  jobIndex?: JobIndex;
}) {
  /** `inline`: the merchant's first attempt may be made now (a notification job's events). */
  async function emit(event: PaymentEvent, inline: boolean): Promise<void> {
    if (deps.paymentEvents) {
      await deps.paymentEvents.add(event.type, event, { ...JOB_OPTIONS.paymentEvent, jobId: event.id });
      // An index for operators, written in batches beside the event's path (job-index.ts).
      if (event.orderId) deps.jobIndex?.add(event.orderId, QUEUES.paymentEvents, event.id, Date.parse(event.occurredAt) || Date.now());
    }
    // Another run of this payment is sending this event: it clears it from the outbox.
    if (deps.merchant && (await deps.merchant.deliver(event, inline)) === "elsewhere") return;
    // Only after every destination has it (and also when there is none: the event goes nowhere).
    await deps.ledger.markEmitted(event);
  }

  /**
   * Sends every event of this payment still in the outbox (this run's and any a crash left).
   * `inline`: a notification job's, whose merchant delivery is attempted at once; the
   * request–reply lane's answer cannot wait for the merchant, so its events are jobs.
   */
  async function flushPayment(provider: ProviderId, providerPaymentId: string, inline = false): Promise<PaymentEvent[]> {
    const events = await deps.ledger.pendingEvents(provider, providerPaymentId);
    // In the order the ledger wrote them: a later version describes a later state of the payment.
    events.sort((a, b) => (a.sequence ?? 0) - (b.sequence ?? 0) || a.occurredAt.localeCompare(b.occurredAt));
    for (const event of events) await emit(event, inline);
    return events;
  }

  /**
   * Sends the outbox entries that are due: those an order PUT wrote (due at once: the merchant
   * learns of payments attached to a new order) and those a worker that died left behind.
   * Run every second by every worker process; `ageMs` holds back the most recent (tests).
   */
  async function sweep(ageMs = 0): Promise<number> {
    const events = await deps.ledger.dueEvents(ageMs);
    for (const event of events) await emit(event, false);
    if (events.length > 0) deps.logger.info({ count: events.length }, "sent due events from the outbox");
    return events.length;
  }

  return { flushPayment, sweep };
}
