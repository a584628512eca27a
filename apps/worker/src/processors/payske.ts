import type { Ledger } from "@payhooks/core";
import { decidePayske, parsePayskeEvent, readPayskeDelivery, toPayskeNotification } from "@payhooks/payske";
import type { Emitter } from "../emitter";
import { applyAndEmit, type ProviderHandler } from "../processor";

/**
 * Payske: event → mapped change → ledger → events. Unmapped types and thin events are recorded
 * on the job only. An event that cannot be read throws PayloadValidationError: the job is
 * quarantined (failed, kept, `payhooks retry` after an upgrade).
 */
export function createPayskeHandler(deps: { ledger: Ledger; emitter: Emitter; orderMetadataKey: string }): ProviderHandler {
  return async (envelope) => {
    if (readPayskeDelivery(envelope.payload).thin) {
      return { outcome: "ignored", reason: "thin event: it carries no object and moves no money", orderId: null, events: [] };
    }
    const event = parsePayskeEvent(envelope.payload);
    const parsed = toPayskeNotification(event, deps.orderMetadataKey);
    if (!parsed) return { outcome: "ignored", reason: `event type ${event.type} changes no payment`, orderId: null, events: [] };
    // The mode the ingress established from the secret that verified the event.
    const n = { ...parsed, livemode: envelope.livemode ?? parsed.livemode };
    return applyAndEmit(deps, {
      provider: "payske",
      // Test and live payments never share a record: a test event cannot touch a live payment.
      providerPaymentId: n.livemode ? n.paymentId : `test-${n.paymentId}`,
      livemode: n.livemode,
      ...(n.orderId ? { orderId: n.orderId } : {}),
      decide: (current) => decidePayske(n, current),
    });
  };
}
