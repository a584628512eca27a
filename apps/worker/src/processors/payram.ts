import type { Ledger } from "@payhooks/core";
import { decidePayram, parsePayramNotification } from "@payhooks/payram";
import type { Emitter } from "../emitter";
import type { ProviderHandler } from "../processor";

/** Payram: notification → state machine over the ledger → events. */
export function createPayramHandler(deps: { ledger: Ledger; emitter: Emitter }): ProviderHandler {
  return async (envelope) => {
    const n = parsePayramNotification(envelope.payload);
    const result = await deps.ledger.applyPayment({
      provider: "payram",
      providerPaymentId: n.referenceId,
      decide: (current) => decidePayram(n, envelope.receivedAt, current),
    });
    const sent = await deps.emitter.flushPayment("payram", n.referenceId);
    return {
      outcome: result.kind,
      ...(result.kind === "ignored" ? { reason: result.reason } : {}),
      orderId: result.orderId,
      events: sent.map((e) => e.id),
    };
  };
}
