import type { Ledger } from "@payhooks/core";
import { decidePayram, parsePayramNotification } from "@payhooks/payram";
import type { Emitter } from "../emitter";
import { applyAndEmit, type ProviderHandler } from "../processor";

/** Payram: notification → state machine over the ledger → events. */
export function createPayramHandler(deps: { ledger: Ledger; emitter: Emitter }): ProviderHandler {
  return async (envelope) => {
    const n = parsePayramNotification(envelope.payload);
    return applyAndEmit(deps, {
      provider: "payram",
      providerPaymentId: n.referenceId,
      livemode: true, // Payram has no test mode
      decide: (current) => decidePayram(n, envelope.receivedAt, current),
    });
  };
}
