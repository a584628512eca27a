import { z } from "zod";
import { PROVIDER_IDS } from "./provider";

export const PAYMENT_EVENT_TYPES = [
  "payment.pending",
  "payment.partially_paid",
  "payment.succeeded",
  "payment.overpaid",
  "payment.cancelled",
  "payment.refunded",
  "payment.failed",
  "payment.amount_mismatch",
  "payment.disputed",
  "payment.unknown_status",
] as const;

export const PaymentEventTypeSchema = z.enum(PAYMENT_EVENT_TYPES);
export type PaymentEventType = z.infer<typeof PaymentEventTypeSchema>;

/** The normalized event every ledger change produces; `amount` is integer minor units of `currency`. */
export const PaymentEventSchema = z.object({
  id: z.string().regex(/^evt_[0-9a-f]{32}$/),
  type: PaymentEventTypeSchema,
  provider: z.enum(PROVIDER_IDS),
  providerPaymentId: z.string().min(1),
  orderId: z.string().nullable(),
  amount: z.number().int().nonnegative().nullable(),
  currency: z.string().min(1).nullable(),
  /** ISO 8601 */
  occurredAt: z.string(),
  livemode: z.boolean(),
  data: z.record(z.string(), z.unknown()),
});

export type PaymentEvent = z.infer<typeof PaymentEventSchema>;
