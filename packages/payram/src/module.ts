import {
  JSON_REFUSALS,
  PayloadValidationError,
  authenticatedBody,
  jobIdFor,
  jsonReply,
  keptHeaders,
  type IngressDecision,
  type ProviderModule,
} from "@payhooks/core";
import { payramConfig, type PayramConfig, type PayramEnabled } from "./config";
import { decidePayram } from "./decide";
import { parsePayramNotification, payramJobId } from "./schemas";
import { payramSimulator } from "./simulator";
import { PAYRAM_API_KEY_HEADER, PAYRAM_SIGNATURE_HEADER, verifyPayramRequest } from "./verify";

const ACCEPTED = jsonReply(200, { message: "Webhook received successfully" });
const TEST_ACCEPTED = jsonReply(200, { message: "Test webhook received" });

type State = { secrets: readonly [string, ...string[]] };

/**
 * Payram (docs/protocols/payram.md): POST /webhooks/payram, raw body → X-Payram-Signature (or the
 * legacy API-Key) → enqueue → 200. A refused signature is 401. Every authenticated body is
 * acknowledged, even one the worker cannot interpret: Payram retries a refusal for two days and
 * the money would be lost; the worker quarantines it.
 */
export const payramModule = {
  id: "payram",
  config: payramConfig,
  ingress: {
    routes: [{ methods: ["POST"], path: "/webhooks/payram" }],
    setup: ({ config }): State => ({ secrets: [config.PAYRAM_WEBHOOK_SECRET] }),
    accept(request, { secrets }): IngressDecision {
      const { rawBody, headers } = request;
      const isTest = headers["x-webhook-test"]?.toLowerCase() === "true";
      const credentialsSent = headers[PAYRAM_SIGNATURE_HEADER] !== undefined || headers[PAYRAM_API_KEY_HEADER] !== undefined;
      // The dashboard's "Test connection" ping may come unsigned (docs/protocols/payram.md#test-ping);
      // a failed test deactivates the webhook, so it gets 200 — but a ping with bad credentials does not.
      if (isTest && !credentialsSent) return { kind: "reply", reply: TEST_ACCEPTED };
      const verified = verifyPayramRequest({ rawBody, headers, secrets, now: request.now });
      if (!verified.ok) return { kind: "reply", reply: jsonReply(401, { error: verified.reason }) };
      if (isTest) return { kind: "reply", reply: TEST_ACCEPTED };

      // Bytes that are no readable JSON are kept in base64 for the worker to quarantine.
      const { rawBody: kept, payload, unreadable, digest } = authenticatedBody(rawBody);
      let jobId = jobIdFor("payram", ["body", digest]);
      if (!unreadable) {
        try {
          jobId = payramJobId(parsePayramNotification(payload));
        } catch (err) {
          if (!(err instanceof PayloadValidationError)) throw err;
        }
      }
      return {
        kind: "enqueue",
        jobId,
        jobName: "payram.notification",
        delivery: { rawBody: kept, payload, ...(unreadable ? { unreadable } : {}), headers: keptHeaders(headers, ["content-type", "user-agent"]) },
        reply: ACCEPTED,
      };
    },
    refusals: JSON_REFUSALS,
  },
  worker: {
    kind: "notification",
    interpret(envelope) {
      const n = parsePayramNotification(envelope.payload);
      return {
        provider: "payram",
        providerPaymentId: n.referenceId,
        livemode: true, // Payram has no test mode
        decide: (current) => decidePayram(n, envelope.receivedAt, current),
      };
    },
  },
  sensitiveFields: ["customer_email"],
  secretHeaders: [PAYRAM_SIGNATURE_HEADER, PAYRAM_API_KEY_HEADER],
  simulator: payramSimulator,
} satisfies ProviderModule<typeof payramConfig.schema.shape, State, PayramEnabled>;

export type { PayramConfig };
