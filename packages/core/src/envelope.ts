import { z } from "zod";
import { PROVIDER_IDS } from "./provider";

/**
 * What the ingress puts on a provider queue: everything the worker needs, nothing secret.
 * `rawBody` is the verified body as received (UTF-8 text), `payload` its parsed form.
 * Only headers that matter downstream are kept; signatures and keys never are.
 */
export const EnvelopeSchema = z.object({
  provider: z.enum(PROVIDER_IDS),
  deliveryId: z.string().min(1),
  /** ms since epoch when the ingress accepted the request */
  receivedAt: z.number().int().nonnegative(),
  rawBody: z.string(),
  payload: z.unknown(),
  /**
   * Set when an authenticated body is no JSON document the ingress can read (`invalid_json`:
   * not UTF-8 or not JSON; `json_too_deep`): it is still acknowledged and queued, `rawBody` then
   * holds its bytes in base64 and `payload` is null, and the worker quarantines the job.
   */
  unreadable: z.enum(["invalid_json", "json_too_deep"]).optional(),
  headers: z.record(z.string(), z.string()),
  /** false for a provider's sandbox/test traffic (Payme's TEST_KEY); absent means live */
  livemode: z.boolean().optional(),
  /**
   * Request–reply only (Payme): ms since epoch after which the ingress no longer awaits the
   * answer. A worker that picks the job up later does not act on it; the caller has retried.
   */
  replyBy: z.number().int().nonnegative().optional(),
});

export type Envelope = z.infer<typeof EnvelopeSchema>;
