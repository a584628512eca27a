import { z } from "zod";
import { PayloadValidationError, currencyExponent, jobIdFor, toMinorUnits } from "@payhooks/core";

export const PAYRAM_STATUSES = ["OPEN", "PARTIALLY_FILLED", "FILLED", "OVER_FILLED", "CANCELLED", "UNDEFINED"] as const;
export type PayramStatus = (typeof PAYRAM_STATUSES)[number];

const Amount = z.union([z.number(), z.string().max(64)]);

/**
 * Payram's webhook body, merged from both published schemas (docs/protocols/payram.md#fields-read). Loose: unknown
 * fields are kept. `status` is read with `payment_state` as the fallback name.
 */
export const PayramWebhookSchema = z
  .looseObject({
    reference_id: z.string().min(1).max(256),
    status: z.string().min(1).max(64).optional(),
    payment_state: z.string().min(1).max(64).optional(),
    invoice_id: z.string().max(256).nullish(),
    customer_id: z.string().max(256).nullish(),
    amount: Amount.nullish(),
    filled_amount: Amount.nullish(),
    filled_amount_in_usd: Amount.nullish(),
    currency: z.string().regex(/^[A-Za-z0-9]{2,10}$/).nullish(),
    // unix seconds; bounded to year 9999 so it always makes a valid Date
    timestamp: z.union([z.number().int().nonnegative().max(253_402_300_799), z.string().regex(/^\d{1,11}$/)]).nullish(),
  })
  .refine((b) => b.status !== undefined || b.payment_state !== undefined, {
    message: "status is required",
    path: ["status"],
  });
export type PayramWebhook = z.infer<typeof PayramWebhookSchema>;

/** A Payram notification in our terms: statuses normalized, money in integer minor units. */
export type PayramNotification = {
  referenceId: string;
  status: PayramStatus;
  /** the status as sent, kept for audit when it was unknown */
  rawStatus: string;
  currency: string;
  /** requested amount, minor units of `currency` */
  amount: number | null;
  /** received so far, minor units of `currency` */
  filledAmount: number | null;
  /** received so far in USD cents */
  filledAmountUsd: number | null;
  /** ms since epoch, from Payram's `timestamp` (seconds) when sent */
  timestampMs: number | null;
  /** the exact filled_amount text, part of the delivery id */
  filledRaw: string | null;
};

/** `CANCELED` (payments FAQ) is `CANCELLED` (specs); anything unknown is `UNDEFINED` (docs/protocols/payram.md#status-mapping). */
export function normalizePayramStatus(raw: string): PayramStatus {
  const upper = raw.trim().toUpperCase();
  if (upper === "CANCELED") return "CANCELLED";
  return (PAYRAM_STATUSES as readonly string[]).includes(upper) ? (upper as PayramStatus) : "UNDEFINED";
}

/**
 * Parses a verified body (already JSON-decoded, still `unknown`) into a notification.
 * Throws PayloadValidationError naming the field for anything that cannot be processed.
 */
export function parsePayramNotification(body: unknown): PayramNotification {
  const parsed = PayramWebhookSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new PayloadValidationError(`${issue.path.join(".") || "body"}: ${issue.message}`);
  }
  const b = parsed.data;
  const rawStatus = (b.status ?? b.payment_state)!;
  const currency = (b.currency ?? "USD").toUpperCase();
  const money = (field: string, value: string | number | null | undefined, cur: string): number | null => {
    if (value === null || value === undefined) return null;
    try {
      return toMinorUnits(value, currencyExponent(cur));
    } catch (err) {
      throw new PayloadValidationError(`${field}: ${(err as Error).message}`);
    }
  };
  return {
    referenceId: b.reference_id,
    status: normalizePayramStatus(rawStatus),
    rawStatus,
    currency,
    amount: money("amount", b.amount, currency),
    filledAmount: money("filled_amount", b.filled_amount, currency),
    filledAmountUsd: money("filled_amount_in_usd", b.filled_amount_in_usd, "USD"),
    timestampMs: b.timestamp === null || b.timestamp === undefined ? null : Number(b.timestamp) * 1000,
    filledRaw: b.filled_amount === null || b.filled_amount === undefined ? null : String(b.filled_amount),
  };
}

/**
 * The delivery id, `payram-{reference_id}~{status}~{filled_amount|na}` (docs/protocols/payram.md#retries-and-idempotency):
 * Payram's dedupe key. A redelivery is the same BullMQ job; a new fill is a new one.
 */
export function payramJobId(n: PayramNotification): string {
  return jobIdFor("payram", [n.referenceId, n.status === "UNDEFINED" ? n.rawStatus : n.status, n.filledRaw ?? "na"]);
}
