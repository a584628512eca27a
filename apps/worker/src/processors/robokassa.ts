import { PayloadValidationError, type Ledger } from "@payhooks/core";
import { decideRobokassa, readNotice, robokassaPaymentId } from "@payhooks/robokassa";
import type { Emitter } from "../emitter";
import { applyAndEmit, type ProviderHandler } from "../processor";

/** RoboKassa: a verified ResultURL notice → the invoice's payment, once per InvId and mode. */
export function createRobokassaHandler(deps: {
  ledger: Ledger;
  emitter: Emitter;
  orderParam: string | null;
  currency: string;
}): ProviderHandler {
  return async (envelope) => {
    const read = readNotice(envelope.payload as Record<string, string>, deps.orderParam);
    if (!read.ok) throw new PayloadValidationError(read.reason);
    const n = read.notice;
    const paymentId = robokassaPaymentId(n);
    return applyAndEmit(deps, {
      provider: "robokassa",
      providerPaymentId: paymentId,
      livemode: n.livemode,
      ...(n.orderId ? { orderId: n.orderId } : {}),
      decide: (current) => decideRobokassa(n, current, deps.currency, envelope.receivedAt),
    });
  };
}
