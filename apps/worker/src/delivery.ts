import type { Job } from "bullmq";
import { hmacSha256, type PaymentEvent } from "@payhooks/core";

/**
 * Standard Webhooks signature (standardwebhooks.com): base64 HMAC-SHA256, keyed with the
 * base64-decoded part of `whsec_…`, over `${id}.${timestamp}.${body}`, sent as `v1,<sig>`.
 */
export function signStandardWebhook(secret: string, id: string, timestampSec: number, body: string): string {
  const key = Buffer.from(secret.startsWith("whsec_") ? secret.slice(6) : secret, "base64");
  return `v1,${hmacSha256(key, `${id}.${timestampSec}.${body}`).toString("base64")}`;
}

export class MerchantDeliveryError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "MerchantDeliveryError";
  }
}

/** How much of the merchant's response body is read by default (MERCHANT_WEBHOOK_MAX_RESPONSE_BYTES). */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * Reads at most about `maxBytes` of a response body (whole chunks, so one chunk more at worst)
 * and keeps none of it, then cancels the stream: the rest is never read, the connection is closed
 * instead of drained. Rejects when `signal` aborts first.
 */
async function readBounded(response: Response, maxBytes: number, signal: AbortSignal): Promise<number> {
  if (!response.body) return 0;
  const reader = response.body.getReader();
  let onAbort = (): void => undefined;
  // fetch errors the body when its signal aborts; this makes sure a read never outlives the deadline.
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  let read = 0;
  try {
    while (read < maxBytes) {
      const chunk = await Promise.race([reader.read(), aborted]);
      if (chunk.done) return read;
      read += chunk.value.byteLength;
    }
    return read;
  } finally {
    signal.removeEventListener("abort", onAbort);
    void reader.cancel().catch(() => undefined);
  }
}

/**
 * Delivers one PaymentEvent to the merchant's URL. `webhook-id` is the event id, the same on
 * every retry, so the merchant can deduplicate; each attempt is signed with its own timestamp.
 * Anything but a 2xx within the timeout throws, and BullMQ retries with backoff. The timeout
 * covers the whole attempt, headers and body; at most `maxResponseBytes` of the body are read
 * (the rest is discarded unread); a redirect is not followed, so a 3xx is a failed attempt.
 */
export function createMerchantDeliveryProcessor(deps: {
  url: string;
  secret: string;
  timeoutMs: number;
  /** @defaultValue DEFAULT_MAX_RESPONSE_BYTES (64 KiB) */
  maxResponseBytes?: number;
  now?: () => number;
}) {
  const now = deps.now ?? Date.now;
  const maxResponseBytes = deps.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  return async (job: Job<PaymentEvent>): Promise<{ status: number }> => {
    const event = job.data;
    const body = JSON.stringify(event);
    const timestamp = Math.floor(now() / 1000);
    // One deadline for the attempt: connecting, the answer's headers and reading its body.
    const signal = AbortSignal.timeout(deps.timeoutMs);
    const timedOut = () => `merchant endpoint did not answer within ${deps.timeoutMs} ms`;
    let response: Response;
    try {
      response = await fetch(deps.url, {
        method: "POST",
        redirect: "manual",
        signal,
        headers: {
          "content-type": "application/json",
          "user-agent": "payhooks",
          "webhook-id": event.id,
          "webhook-timestamp": String(timestamp),
          "webhook-signature": signStandardWebhook(deps.secret, event.id, timestamp, body),
        },
        body,
      });
    } catch (err) {
      throw new MerchantDeliveryError(signal.aborted ? timedOut() : `merchant endpoint unreachable: ${(err as Error).message}`, { cause: err });
    }
    try {
      await readBounded(response, maxResponseBytes, signal);
    } catch (err) {
      const why = signal.aborted ? `${timedOut()} (its body was still coming)` : `merchant endpoint's answer broke off: ${(err as Error).message}`;
      throw new MerchantDeliveryError(why, { cause: err });
    }
    if (response.status < 200 || response.status > 299) {
      throw new MerchantDeliveryError(`merchant endpoint answered ${response.status}`);
    }
    return { status: response.status };
  };
}
