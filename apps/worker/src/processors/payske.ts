import type { Ledger } from "@payhooks/core";
import { decidePayske, parsePayskeEvent, toPayskeNotification } from "@payhooks/payske";
import type { Emitter } from "../emitter";
import { applyAndEmit, type ProviderHandler } from "../processor";

/** Payske: event → mapped change → ledger → events. Unmapped types are recorded on the job only. */
export function createPayskeHandler(deps: { ledger: Ledger; emitter: Emitter; orderMetadataKey: string }): ProviderHandler {
  return async (envelope) => {
    const event = parsePayskeEvent(envelope.payload);
    const n = toPayskeNotification(event, deps.orderMetadataKey);
    if (!n) return { outcome: "ignored", reason: `event type ${event.type} changes no payment`, orderId: null, events: [] };
    return applyAndEmit(deps, {
      provider: "payske",
      providerPaymentId: n.paymentId,
      ...(n.orderId ? { orderId: n.orderId } : {}),
      decide: (current) => decidePayske(n, current),
    });
  };
}
