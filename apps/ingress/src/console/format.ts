import { currencyExponent, formatMinorUnits } from "@payhooks/core";
import { maskJobField } from "../dashboard";

/** Integer minor units as a decimal amount with its currency, for display only ("49.99 USD"). */
export function money(amount: number | null | undefined, currency: string | null | undefined): string {
  if (amount === null || amount === undefined) return "—";
  if (!currency) return String(amount);
  try {
    return `${formatMinorUnits(amount, currencyExponent(currency))} ${currency}`;
  } catch {
    return `${amount} (minor units) ${currency}`;
  }
}

/** ms since epoch as UTC with milliseconds ("2026-03-01 12:00:00.123 UTC"). */
export function when(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  return `${new Date(ms).toISOString().replace("T", " ").slice(0, 23)} UTC`;
}

/** A free-text value from a job or a note (an error message), masked as the dashboard masks job data. */
export function maskedText(value: string | null | undefined): string {
  if (!value) return "";
  const masked = maskJobField(value);
  return typeof masked === "string" ? masked : "[redacted]";
}

/** A job's data or result, masked (dashboard rules: sensitive keys, raw bodies, e-mails, card numbers) and pretty-printed. */
export function maskedJson(value: unknown): string {
  return JSON.stringify(maskJobField(value ?? null), null, 2) ?? "null";
}

export const CONSOLE_ORDER_HREF = (orderId: string) => `/console/orders/${encodeURIComponent(orderId)}`;
export const CONSOLE_JOB_HREF = (queue: string, jobId: string) => `/console/jobs/${encodeURIComponent(queue)}/${encodeURIComponent(jobId)}`;
