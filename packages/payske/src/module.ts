import { JSON_REFUSALS, authenticatedBody, jobIdFor, jsonReply, keptHeaders, type IngressDecision, type ProviderId, type ProviderModule } from "@payhooks/core";
import { payskeConfigFor, type PayskeSettings } from "./config";
import { decidePayske } from "./decide";
import { parsePayskeEvent, payskeJobId, readPayskeDelivery, toPayskeNotification } from "./schemas";
import { payskeSimulatorFor } from "./simulator";
import { verifyPayskeSignature } from "./verify";

const RECEIVED = jsonReply(200, { received: true });

/**
 * One endpoint of the Stripe signature scheme (docs/protocols/payske.md): Payske at
 * /webhooks/payske, and Stripe itself at /webhooks/stripe — the same protocol under another id,
 * header, route and set of variables.
 *
 * Raw body → signature (live secrets, then test secrets) → enqueue → `200 {"received":true}`.
 * A refused signature is 400 (the provider retries 4xx, so a fixed secret heals). Every
 * authenticated delivery is acknowledged once it is in Redis, even one the worker cannot
 * interpret (an older or newer API version, a thin event, bytes that are no JSON): refusing it
 * would make the provider retry for days and then disable the endpoint.
 */
export function createPayskeModule<Id extends ProviderId, P extends string>(options: {
  id: Id;
  /** the variables' prefix: PAYSKE_WEBHOOK_SECRET, STRIPE_WEBHOOK_SECRET … */
  prefix: P;
  path: string;
  /** lower-cased */
  signatureHeader: string;
}) {
  const { id, path, signatureHeader } = options;
  const config = payskeConfigFor(options.prefix, id);
  const { part, settings } = config;
  type Shape = typeof part.schema.shape;
  return {
    id,
    config: part,
    ingress: {
      routes: [{ methods: ["POST"], path }],
      setup: ({ config: c }): PayskeSettings => settings(c),
      accept(request, s): IngressDecision {
        const { rawBody, headers } = request;
        const check = (secrets: readonly string[]) =>
          verifyPayskeSignature({ rawBody, header: headers[signatureHeader], secrets, now: request.now, toleranceSeconds: s.toleranceSeconds });
        const live = check(s.secrets);
        const verified = live.ok ? live : check(s.testSecrets);
        if (!verified.ok) {
          // The live verdict names the problem unless only the test secrets got further.
          const reason = !live.ok && live.reason !== "no_matching_signature" ? live.reason : verified.reason;
          // A 400 like a bad payload: the status alone cannot tell them apart.
          return { kind: "reply", reply: jsonReply(400, { error: reason }, "rejected_signature") };
        }
        const { rawBody: kept, payload, unreadable, digest } = authenticatedBody(rawBody);
        const delivery = readPayskeDelivery(payload);
        // An event we cannot read is still one delivery: its id when it has one, else its bytes.
        const jobId = delivery.id ? payskeJobId({ id: delivery.id }, id) : jobIdFor(id, ["body", digest]);
        return {
          kind: "enqueue",
          jobId,
          jobName: delivery.type ?? `${id}.unreadable`,
          delivery: {
            rawBody: kept,
            payload,
            ...(unreadable ? { unreadable } : {}),
            headers: keptHeaders(headers, ["content-type", "user-agent"]),
            // Mode is the secret's word first: a test secret never makes a live event.
            livemode: live.ok && delivery.livemode !== false,
          },
          reply: RECEIVED,
        };
      },
      refusals: JSON_REFUSALS,
    },
    worker: {
      kind: "notification",
      interpret(envelope, c) {
        if (readPayskeDelivery(envelope.payload).thin) return { ignore: "thin event: it carries no object and moves no money" };
        const event = parsePayskeEvent(envelope.payload);
        const parsed = toPayskeNotification(event, settings(c).orderMetadataKey);
        if (!parsed) return { ignore: `event type ${event.type} changes no payment` };
        // The mode the ingress established from the secret that verified the event.
        const n = { ...parsed, livemode: envelope.livemode ?? parsed.livemode };
        return {
          provider: id,
          // Test and live payments never share a record: a test event cannot touch a live payment.
          providerPaymentId: n.livemode ? n.paymentId : `test-${n.paymentId}`,
          livemode: n.livemode,
          ...(n.orderId ? { orderId: n.orderId } : {}),
          decide: (current) => decidePayske(n, current),
        };
      },
    },
    sensitiveFields: ["customer_details", "billing_details", "shipping", "receipt_email", "customer_email"],
    secretHeaders: [signatureHeader],
    simulator: payskeSimulatorFor({ provider: id, path, signatureHeader, settings, secretVariable: config.names.secret }),
  } satisfies ProviderModule<Shape, PayskeSettings>;
}

/** Payske at /webhooks/payske (PAYSKE_* variables). */
export const payskeModule = createPayskeModule({ id: "payske", prefix: "PAYSKE", path: "/webhooks/payske", signatureHeader: "payske-signature" });

/** Stripe itself at /webhooks/stripe (STRIPE_* variables, `Stripe-Signature`), events with provider "stripe". */
export const stripeModule = createPayskeModule({ id: "stripe", prefix: "STRIPE", path: "/webhooks/stripe", signatureHeader: "stripe-signature" });
