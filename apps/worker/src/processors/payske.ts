import type { Ledger } from "@payhooks/core";
import { decidePayske, parsePayskeEvent, toPayskeNotification } from "@payhooks/payske";
import type { Emitter } from "../emitter";
import type { ProviderHandler } from "../processor";

/** Payske: event → mapped change → ledger → events. Unmapped types are recorded on the job only. */
export function createPayskeHandler(deps: { ledger: Ledger; emitter: Emitter; orderMetadataKey: string }): ProviderHandler {
  return async (envelope) => {
    const event = parsePayskeEvent(envelope.payload);
    const n = toPayskeNotification(event, deps.orderMetadataKey);
    if (!n) return { outcome: "ignored", reason: `event type ${event.type} changes no payment`, orderId: null, events: [] };
    const result = await deps.ledger.applyPayment({
      provider: "payske",
      providerPaymentId: n.paymentId,
      ...(n.orderId ? { orderId: n.orderId } : {}),
      decide: (current) => decidePayske(n, current),
    });
    const sent = await deps.emitter.flushPayment("payske", n.paymentId);
    return {
      outcome: result.kind,
      ...(result.kind === "ignored" ? { reason: result.reason } : {}),
      orderId: result.orderId,
      events: sent.map((e) => e.id),
    };
  };
}
