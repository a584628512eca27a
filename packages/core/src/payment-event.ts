import { z } from "zod";
import { ORDER_STATUSES } from "./order-model";
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
  "payment.mode_mismatch",
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
  /**
   * The payment's ledger version this event reports: a later sequence describes a later state of
   * the same payment (events of one payment may arrive out of order at a consumer).
   */
  sequence: z.number().int().positive().optional(),
  data: z.record(z.string(), z.unknown()),
  /**
   * The order the payment is attached to, as this change left it (null: no order yet). `counted`
   * is what this payment counts toward it (0 when it was made for another amount, currency or mode).
   */
  order: z
    .object({
      status: z.enum(ORDER_STATUSES),
      paidAmount: z.number().int().nonnegative(),
      amount: z.number().int().positive(),
      currency: z.string().min(1),
      counted: z.number().int().nonnegative(),
    })
    .nullable()
    .optional(),
});

export type PaymentEvent = z.infer<typeof PaymentEventSchema>;
