import { createHmac } from "node:crypto";
import type { Readable } from "node:stream";
import type { Job } from "bullmq";
import type { PaymentEvent } from "@payhooks/core";
import { Agent, request } from "undici";

/** The HMAC key of a Standard Webhooks secret: the base64-decoded part after `whsec_`. */
function signingKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith("whsec_") ? secret.slice(6) : secret, "base64");
}

/** `v1,<base64 HMAC-SHA256 of ${id}.${timestamp}.${body}>`, the body hashed in place (not copied into a new string). */
function sign(key: Buffer, id: string, timestampSec: number, body: string): string {
  return `v1,${createHmac("sha256", key).update(`${id}.${timestampSec}.`).update(body).digest("base64")}`;
}

/**
 * Standard Webhooks signature (standardwebhooks.com): base64 HMAC-SHA256, keyed with the
 * base64-decoded part of `whsec_…`, over `${id}.${timestamp}.${body}`, sent as `v1,<sig>`.
 * (The delivery processor decodes its key once, not per call like this.)
 */
export function signStandardWebhook(secret: string, id: string, timestampSec: number, body: string): string {
  return sign(signingKey(secret), id, timestampSec, body);
}

export class MerchantDeliveryError extends Error {
  /** the merchant's HTTP status, when an answer came */
  readonly status: number | null;
  constructor(message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options);
    this.name = "MerchantDeliveryError";
    this.status = options?.status ?? null;
  }
}

/** How much of the merchant's response body is read by default (MERCHANT_WEBHOOK_MAX_RESPONSE_BYTES). */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024;

/** How many connections to the merchant a processor keeps by default (main.ts passes one per attempt that can be under way). */
export const DEFAULT_CONNECTIONS = 10;

/**
 * An idle pooled connection is closed after this long, or sooner when the merchant's
 * `Keep-Alive: timeout=` says so (less two seconds, undici's keepAliveTimeoutThreshold): shorter than the common server defaults
 * (Node's 5 s, nginx's 75 s), so the pool lets a connection go before the server does rather
 * than POST on one the server is closing.
 */
const KEEP_ALIVE_TIMEOUT_MS = 4_000;
/** The longest a merchant's `Keep-Alive: timeout=` hint may keep an idle connection. */
const KEEP_ALIVE_MAX_TIMEOUT_MS = 60_000;

/**
 * Reads at most about `maxBytes` of a response body (whole chunks, so one chunk more at worst)
 * and keeps none of it. A body that ends within the bound is read to its end, so its connection
 * goes back to the pool; one that goes on is destroyed, which closes its connection instead of
 * draining it. Rejects when `signal` aborts first.
 */
async function readBounded(body: Readable, maxBytes: number, signal: AbortSignal): Promise<number> {
  let read = 0;
  // undici destroys the body when the request's signal aborts; this makes sure of it.
  const onAbort = () => body.destroy(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
  signal.addEventListener("abort", onAbort, { once: true });
  body.on("error", () => undefined); // surfaced by the loop below; never an unhandled 'error'
  try {
    if (maxBytes <= 0) return 0;
    // Leaving the loop early (the bound reached, or an error) destroys the body.
    for await (const chunk of body) {
      read += (chunk as Buffer).byteLength;
      if (read >= maxBytes) break;
    }
    return read;
  } finally {
    signal.removeEventListener("abort", onAbort);
    if (!body.readableEnded) body.destroy();
  }
}

/**
 * A merchant delivery processor: a BullMQ processor function, plus `close()` for the worker's
 * shutdown, which closes its connection pool once the requests in flight are done.
 */
export type MerchantDeliveryProcessor = ((job: Job<PaymentEvent>) => Promise<{ status: number }>) & {
  /** one attempt for `event`, outside any job (the worker's first attempt, in line) */
  send(event: PaymentEvent): Promise<{ status: number }>;
  close(): Promise<void>;
};

/**
 * Delivers one PaymentEvent to the merchant's URL. `webhook-id` is the event id, the same on
 * every retry, so the merchant can deduplicate; each attempt is signed with its own timestamp
 * (the body serialized once and hashed once per attempt, the key decoded once per processor).
 * Anything but a 2xx within the timeout throws, and BullMQ retries with backoff. The timeout
 * covers the whole attempt, connecting, headers and body; at most `maxResponseBytes` of the body
 * are read (the rest is discarded unread, its connection closed); a redirect is not followed, so
 * a 3xx is a failed attempt.
 *
 * Requests go over a keep-alive pool of at most `connections` connections to the merchant (one
 * request at a time on each, no pipelining): main.ts passes as many as there can be attempts
 * under way at once (the jobs of every queue that makes them), so each has its connection. A connection is closed when an answer's body runs
 * past `maxResponseBytes` (or the deadline), so such a merchant costs a connection per event.
 */
export function createMerchantDeliveryProcessor(deps: {
  url: string;
  secret: string;
  timeoutMs: number;
  /** @defaultValue DEFAULT_MAX_RESPONSE_BYTES (64 KiB) */
  maxResponseBytes?: number;
  /** The pool's size: the most connections open to the merchant at once. @defaultValue DEFAULT_CONNECTIONS */
  connections?: number;
  now?: () => number;
}): MerchantDeliveryProcessor {
  const now = deps.now ?? Date.now;
  const maxResponseBytes = deps.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const key = signingKey(deps.secret);
  const timedOut = () => `merchant endpoint did not answer within ${deps.timeoutMs} ms`;
  const agent = new Agent({
    connections: deps.connections ?? DEFAULT_CONNECTIONS,
    pipelining: 1,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    keepAliveMaxTimeout: KEEP_ALIVE_MAX_TIMEOUT_MS,
    // The attempt's own deadline (the signal below) is what ends it; these only back it up.
    connect: { timeout: deps.timeoutMs },
    headersTimeout: deps.timeoutMs,
    bodyTimeout: deps.timeoutMs,
  });
  // Chunks of the answer buffered ahead of the reader: no more than the bound needs.
  const highWaterMark = Math.min(Math.max(maxResponseBytes, 1024), 64 * 1024);

  const send = async (event: PaymentEvent): Promise<{ status: number }> => {
    const body = JSON.stringify(event);
    const timestamp = Math.floor(now() / 1000);
    // One deadline for the attempt: connecting, the answer's headers and reading its body.
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new Error(timedOut())), deps.timeoutMs);
    const { signal } = deadline;
    try {
      let response: Awaited<ReturnType<typeof request>>;
      try {
        // A request waiting for a free connection of the pool is not ended by its signal until
        // one frees (undici 6); every attempt has the same deadline and started before it, so
        // the busy one's deadline always comes first: the wait stays within this one.
        response = await request(deps.url, {
          dispatcher: agent,
          method: "POST",
          maxRedirections: 0,
          signal,
          highWaterMark,
          headers: {
            "content-type": "application/json",
            "user-agent": "payhooks",
            "webhook-id": event.id,
            "webhook-timestamp": String(timestamp),
            "webhook-signature": sign(key, event.id, timestamp, body),
          },
          body,
        });
      } catch (err) {
        throw new MerchantDeliveryError(signal.aborted ? timedOut() : `merchant endpoint unreachable: ${(err as Error).message}`, { cause: err });
      }
      try {
        await readBounded(response.body, maxResponseBytes, signal);
      } catch (err) {
        const why = signal.aborted ? `${timedOut()} (its body was still coming)` : `merchant endpoint's answer broke off: ${(err as Error).message}`;
        throw new MerchantDeliveryError(why, { cause: err, status: response.statusCode });
      }
      if (response.statusCode < 200 || response.statusCode > 299) {
        throw new MerchantDeliveryError(`merchant endpoint answered ${response.statusCode}`, { status: response.statusCode });
      }
      return { status: response.statusCode };
    } finally {
      clearTimeout(timer);
    }
  };
  const deliver = (job: Job<PaymentEvent>) => send(job.data);
  return Object.assign(deliver, { send, close: () => agent.close() });
}
