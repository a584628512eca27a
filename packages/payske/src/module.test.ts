/**
 * Both instances of the Stripe-scheme module, pure: payskeModule (/webhooks/payske,
 * Payske-Signature, PAYSKE_*) and stripeModule (/webhooks/stripe, Stripe-Signature, STRIPE_*).
 * Stripe's signatures are made — and ours checked — by the real `stripe` package, so the
 * scheme is Stripe's own and not our reading of it.
 */
import Stripe from "stripe";
import { PayloadValidationError, jobIdFor, sha256Hex, type Envelope, type IngressDecision, type Logger, type WebhookRequest } from "@payhooks/core";
import { payskeModule, stripeModule } from "./module";
import { signForTest } from "./verify";

const stripe = new Stripe("sk_test_not_used_offline");
const LIVE = "whsec_moduleLiveSecret0123456789abcdef";
const TEST = "whsec_moduleTestSecret0123456789abcdef";
const NOW = 1_700_000_000_000;
const nowS = Math.floor(NOW / 1000);
const logger = {} as Logger;

const stripeConfig = stripeModule.config.schema.parse({ STRIPE_WEBHOOK_SECRET: LIVE, STRIPE_TEST_WEBHOOK_SECRET: TEST });
// Payske with the very same secrets: only the header and the id tell the two apart.
const payskeConfig = payskeModule.config.schema.parse({ PAYSKE_WEBHOOK_SECRET: LIVE, PAYSKE_TEST_WEBHOOK_SECRET: TEST });
const stripeState = stripeModule.ingress.setup({ config: stripeConfig, redis: null as never, prefix: "t", logger });
const payskeState = payskeModule.ingress.setup({ config: payskeConfig, redis: null as never, prefix: "t", logger });

const event = (over: Record<string, unknown> = {}, object: Record<string, unknown> = {}) =>
  JSON.stringify({
    id: "evt_module0001",
    object: "event",
    api_version: "2024-06-20",
    created: nowS,
    livemode: true,
    type: "payment_intent.succeeded",
    data: { object: { id: "pi_module0001", object: "payment_intent", amount: 4999, amount_received: 4999, currency: "usd", metadata: { order_id: "ord-1" }, ...object } },
    ...over,
  });

function request(path: string, body: string, headers: Record<string, string>, now = NOW): WebhookRequest {
  return { method: "POST", path, query: "", rawBody: Buffer.from(body), headers: { "content-type": "application/json", ...headers }, ip: "127.0.0.1", now };
}

const toStripe = (body: string, headers: Record<string, string>, now?: number) =>
  stripeModule.ingress.accept(request("/webhooks/stripe", body, headers, now), stripeState) as IngressDecision;
const toPayske = (body: string, headers: Record<string, string>, now?: number) =>
  payskeModule.ingress.accept(request("/webhooks/payske", body, headers, now), payskeState) as IngressDecision;

/** Signed by the `stripe` package itself. */
const stripeHeader = (body: string, secret = LIVE, timestamp = nowS) => stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp });

function enqueued(d: IngressDecision) {
  if (d.kind !== "enqueue") throw new Error(`expected enqueue, got ${d.kind}: ${d.kind === "reply" ? d.reply.body : ""}`);
  return d;
}
function refused(d: IngressDecision) {
  if (d.kind !== "reply") throw new Error(`expected a refusal, got ${d.kind}`);
  return { status: d.reply.status, error: (JSON.parse(d.reply.body) as { error: string }).error, outcome: d.reply.outcome };
}

describe("the two instances", () => {
  it("have their own id, route, header and variables", () => {
    expect([stripeModule.id, stripeModule.ingress.routes, stripeModule.secretHeaders]).toEqual(["stripe", [{ methods: ["POST"], path: "/webhooks/stripe" }], ["stripe-signature"]]);
    expect([payskeModule.id, payskeModule.ingress.routes, payskeModule.secretHeaders]).toEqual(["payske", [{ methods: ["POST"], path: "/webhooks/payske" }], ["payske-signature"]]);
    expect(stripeModule.config.secrets).toEqual(["STRIPE_WEBHOOK_SECRET", "STRIPE_TEST_WEBHOOK_SECRET"]);
    expect(stripeModule.config.enabled(stripeModule.config.schema.parse({}))).toBe(false);
    expect(stripeModule.config.enabled(stripeModule.config.schema.parse({ PAYSKE_WEBHOOK_SECRET: LIVE }))).toBe(false);
  });
});

describe("signatures across the two instances", () => {
  it("a body signed by Stripe (Stripe-Signature) verifies on stripeModule → job stripe-evt_…, live", () => {
    const body = event();
    const d = enqueued(toStripe(body, { "stripe-signature": stripeHeader(body) }));
    expect(d.jobId).toBe("stripe-evt_module0001");
    expect(d.jobName).toBe("payment_intent.succeeded");
    expect(d.delivery).toMatchObject({ rawBody: body, payload: JSON.parse(body), livemode: true, headers: { "content-type": "application/json" } });
    expect(JSON.stringify(d.delivery)).not.toContain(LIVE);
    expect(d.reply).toMatchObject({ status: 200, body: '{"received":true}' });
  });

  it("the same Stripe-signed request is refused by payskeModule (it reads Payske-Signature): 400, rejected_signature", () => {
    const body = event();
    expect(refused(toPayske(body, { "stripe-signature": stripeHeader(body) }))).toEqual({ status: 400, error: "missing_header", outcome: "rejected_signature" });
  });

  it("vice versa: Payske-Signature verifies on payskeModule (job payske-evt_…) and is refused by stripeModule", () => {
    const body = event();
    const header = { "payske-signature": signForTest(body, LIVE, nowS) };
    expect(enqueued(toPayske(body, header)).jobId).toBe("payske-evt_module0001");
    expect(refused(toStripe(body, header))).toEqual({ status: 400, error: "missing_header", outcome: "rejected_signature" });
  });

  it("our signer is Stripe's scheme: the real stripe package verifies what signForTest makes", () => {
    const body = event();
    const header = signForTest(body, LIVE, Math.floor(Date.now() / 1000));
    expect(stripe.webhooks.constructEvent(body, header, LIVE).id).toBe("evt_module0001");
    expect(() => stripe.webhooks.constructEvent(body, header, "whsec_other")).toThrow();
  });

  it("a Stripe signature by another secret, over another body, or too old → 400 naming why", () => {
    const body = event();
    expect(refused(toStripe(body, { "stripe-signature": stripeHeader(body, "whsec_notOurs") })).error).toBe("no_matching_signature");
    expect(refused(toStripe(event({ id: "evt_other" }), { "stripe-signature": stripeHeader(body) })).error).toBe("no_matching_signature");
    expect(refused(toStripe(body, { "stripe-signature": stripeHeader(body, LIVE, nowS - 301) })).error).toBe("timestamp_out_of_tolerance");
    expect(refused(toStripe(body, { "stripe-signature": "garbage" })).error).toBe("malformed_header");
  });

  it("verified only by the test secret → livemode false, whatever the body says", () => {
    const body = event({ livemode: true });
    expect(enqueued(toStripe(body, { "stripe-signature": stripeHeader(body, TEST) })).delivery.livemode).toBe(false);
    expect(enqueued(toPayske(body, { "payske-signature": signForTest(body, TEST, nowS) })).delivery.livemode).toBe(false);
    // The live secret and a body saying livemode false: test too.
    expect(enqueued(toStripe(event({ livemode: false }), { "stripe-signature": stripeHeader(event({ livemode: false })) })).delivery.livemode).toBe(false);
  });

  it("a signed body it cannot read is still one job of the module's id, named by its bytes", () => {
    const body = "{not json";
    const d = enqueued(toStripe(body, { "stripe-signature": stripeHeader(body) }));
    expect(d.jobId).toBe(jobIdFor("stripe", ["body", sha256Hex(body).slice(0, 32)]));
    expect(d.jobName).toBe("stripe.unreadable");
    expect(d.delivery).toMatchObject({ unreadable: "invalid_json", payload: null });
  });
});

describe("worker.interpret", () => {
  const envelope = (provider: "stripe" | "payske", body: string, livemode?: boolean): Envelope => ({
    provider,
    deliveryId: "d",
    receivedAt: NOW,
    rawBody: body,
    payload: JSON.parse(body) as unknown,
    headers: {},
    ...(livemode !== undefined ? { livemode } : {}),
  });
  const interpret = (m: typeof stripeModule | typeof payskeModule, e: Envelope, c: unknown) =>
    (m.worker as { interpret(e: Envelope, c: unknown): ReturnType<(typeof stripeModule.worker)["interpret"]> }).interpret(e, c);

  it("a payment_intent.succeeded → a change of the module's own provider, for the metadata's order", () => {
    const change = interpret(stripeModule, envelope("stripe", event(), true), stripeConfig);
    if ("ignore" in change) throw new Error(change.ignore);
    expect(change).toMatchObject({ provider: "stripe", providerPaymentId: "pi_module0001", orderId: "ord-1", livemode: true });
    expect(change.decide({ payment: null, order: null })).toMatchObject({ kind: "applied", payment: { facts: { status: "succeeded", settled: 4999, currency: "USD" } } });
    const payske = interpret(payskeModule, envelope("payske", event(), true), payskeConfig);
    expect(payske).toMatchObject({ provider: "payske", providerPaymentId: "pi_module0001" });
  });

  it("the mode the ingress established wins: a test event is a test payment, kept apart", () => {
    const change = interpret(stripeModule, envelope("stripe", event({ livemode: true }), false), stripeConfig);
    expect(change).toMatchObject({ providerPaymentId: "test-pi_module0001", livemode: false });
  });

  it("STRIPE_ORDER_METADATA_KEY names where the order id is", () => {
    const c = stripeModule.config.schema.parse({ STRIPE_WEBHOOK_SECRET: LIVE, STRIPE_ORDER_METADATA_KEY: "shop_order" });
    const change = interpret(stripeModule, envelope("stripe", event({}, { metadata: { shop_order: "ord-77", order_id: "not-this" } }), true), c);
    expect(change).toMatchObject({ orderId: "ord-77" });
  });

  it("a thin event or a type that moves no money → ignored with a reason; what it cannot read → PayloadValidationError", () => {
    expect(interpret(stripeModule, envelope("stripe", JSON.stringify({ id: "evt_t", object: "v2.core.event", type: "v1.billing.meter.error_report_triggered" })), stripeConfig)).toEqual({
      ignore: expect.stringMatching(/^thin event/),
    });
    expect(interpret(stripeModule, envelope("stripe", event({ type: "customer.created", data: { object: { id: "cus_1", object: "customer" } } })), stripeConfig)).toEqual({
      ignore: "event type customer.created changes no payment",
    });
    expect(() => interpret(stripeModule, envelope("stripe", event({}, { amount: -1 })), stripeConfig)).toThrow(PayloadValidationError);
  });
});
