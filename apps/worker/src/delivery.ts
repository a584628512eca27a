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

/**
 * Delivers one PaymentEvent to the merchant's URL. `webhook-id` is the event id, the same on
 * every retry, so the merchant can deduplicate; each attempt is signed with its own timestamp.
 * Anything but a 2xx within the timeout throws, and BullMQ retries with backoff.
 */
export function createMerchantDeliveryProcessor(deps: { url: string; secret: string; timeoutMs: number; now?: () => number }) {
  const now = deps.now ?? Date.now;
  return async (job: Job<PaymentEvent>): Promise<{ status: number }> => {
    const event = job.data;
    const body = JSON.stringify(event);
    const timestamp = Math.floor(now() / 1000);
    let response: Response;
    try {
      response = await fetch(deps.url, {
        method: "POST",
        redirect: "manual",
        signal: AbortSignal.timeout(deps.timeoutMs),
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
      throw new MerchantDeliveryError(`merchant endpoint unreachable: ${(err as Error).message}`, { cause: err });
    }
    await response.arrayBuffer().catch(() => undefined);
    if (response.status < 200 || response.status > 299) {
      throw new MerchantDeliveryError(`merchant endpoint answered ${response.status}`);
    }
    return { status: response.status };
  };
}
