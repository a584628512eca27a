/**
 * Stripe itself at /webhooks/stripe (the Payske module's second instance, STRIPE_* variables,
 * `Stripe-Signature`) over HTTP against real ingress and worker processes, a private
 * redis-server (or, in the e2e:cluster project, a private Redis Cluster) and a real merchant
 * endpoint. Deliveries are signed by the `stripe` package's own generateTestHeaderString. Payske
 * is configured alongside with other secrets: the two endpoints must never accept each other's
 * deliveries, and every record and event must say "stripe".
 */
import { randomBytes } from "node:crypto";
import { Queue } from "bullmq";
import Stripe from "stripe";
import { Webhook } from "standardwebhooks";
import { PaymentEventSchema, QUEUES, createLedger, jobIdFor, type PaymentEvent } from "@payhooks/core";
import {
  adminClient,
  drained,
  startIngress,
  startMerchantEndpoint,
  startTestRedis,
  startWorker,
  waitFor,
  type NodeProcess,
  type TestRedis,
} from "@payhooks/testing";

const STRIPE_SECRET = "whsec_e2eStripeLiveSecret0123456789abcd";
const STRIPE_TEST_SECRET = "whsec_e2eStripeTestSecret0123456789abc";
const PAYSKE_SECRET = "whsec_e2ePayskeSecret0123456789abcdefgh";
const ADMIN_TOKEN = "e2e-admin-token-0123456789";
const MERCHANT_SECRET = `whsec_${randomBytes(32).toString("base64")}`;
/** STRIPE_ORDER_METADATA_KEY: not Payske's default order_id */
const ORDER_KEY = "shop_order";
/** STRIPE_TOLERANCE_SECONDS: tighter than the default 300 */
const TOLERANCE_S = 60;
const PREFIX = "stp";
const stripe = new Stripe("sk_test_not_used_offline");

let redis: TestRedis;
let merchant: Awaited<ReturnType<typeof startMerchantEndpoint>>;
let ingress: Awaited<ReturnType<typeof startIngress>>;
let worker: NodeProcess;
let stripeQueue: Queue;
let payskeQueue: Queue;
let merchantQueue: Queue;

beforeAll(async () => {
  redis = await startTestRedis();
  merchant = await startMerchantEndpoint();
  const env = {
    REDIS_URL: redis.url,
    QUEUE_PREFIX: PREFIX,
    STRIPE_WEBHOOK_SECRET: STRIPE_SECRET,
    STRIPE_TEST_WEBHOOK_SECRET: STRIPE_TEST_SECRET,
    STRIPE_TOLERANCE_SECONDS: String(TOLERANCE_S),
    STRIPE_ORDER_METADATA_KEY: ORDER_KEY,
    PAYSKE_WEBHOOK_SECRET: PAYSKE_SECRET,
    ADMIN_TOKEN,
    MERCHANT_WEBHOOK_URL: merchant.url,
    MERCHANT_WEBHOOK_SECRET: MERCHANT_SECRET,
  };
  [ingress, worker] = await Promise.all([startIngress(env), startWorker(env)]);
  const queue = (name: string) => new Queue(name, { connection: redis.client(), prefix: redis.prefix(PREFIX) });
  [stripeQueue, payskeQueue, merchantQueue] = [queue(QUEUES.stripe), queue(QUEUES.payske), queue(QUEUES.merchantWebhooks)];
}, 30_000);

afterAll(async () => {
  await Promise.all([stripeQueue?.close(), payskeQueue?.close(), merchantQueue?.close()]);
  await Promise.all([ingress?.proc.stop(), worker?.stop()]);
  await merchant?.close();
  await redis?.remove();
});

let seq = 0;
const nowS = () => Math.floor(Date.now() / 1000);

function event(type: string, object: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { id: `evt_stp${++seq}x${Date.now()}`, object: "event", api_version: "2024-06-20", created: nowS(), livemode: true, pending_webhooks: 1, request: { id: null, idempotency_key: null }, type, data: { object }, ...extra };
}

const paymentIntent = (id: string, amount: number, orderId: string | null, key = ORDER_KEY) => ({
  id,
  object: "payment_intent",
  amount,
  amount_received: amount,
  currency: "usd",
  status: "succeeded",
  metadata: orderId ? { [key]: orderId } : {},
});

type Sent = { status: number; body: Record<string, unknown> };

/** POSTs a body to an endpoint under a header, signed by the `stripe` package unless `header` is given. */
async function deliver(
  body: string,
  options: { secret?: string; timestamp?: number; header?: string; headerName?: string; path?: string } = {},
): Promise<Sent> {
  const header =
    options.header ?? stripe.webhooks.generateTestHeaderString({ payload: body, secret: options.secret ?? STRIPE_SECRET, timestamp: options.timestamp ?? nowS() });
  const res = await fetch(`${ingress.url}${options.path ?? "/webhooks/stripe"}`, {
    method: "POST",
    headers: { "content-type": "application/json; charset=utf-8", [options.headerName ?? "Stripe-Signature"]: header },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function putOrder(orderId: string, amount: number, extra: Record<string, unknown> = {}) {
  expect(await adminClient(ingress.adminUrl, ADMIN_TOKEN).putOrder(orderId, { amount, currency: "USD", ...extra })).toBe(201);
}
const order = (orderId: string) => adminClient(ingress.adminUrl, ADMIN_TOKEN).getOrder(orderId);
const jobIdOf = (eventId: string, provider: "stripe" | "payske" = "stripe") => jobIdFor(provider, [eventId]);
const idOf = (body: string) => (JSON.parse(body) as { id: string }).id;

/** Every PaymentEvent the merchant endpoint received, each verified with the merchant secret. */
function delivered(): PaymentEvent[] {
  return merchant.received.map((d) =>
    PaymentEventSchema.parse(
      new Webhook(MERCHANT_SECRET).verify(d.body, {
        "webhook-id": String(d.headers["webhook-id"]),
        "webhook-timestamp": String(d.headers["webhook-timestamp"]),
        "webhook-signature": String(d.headers["webhook-signature"]),
      }),
    ),
  );
}

/** The merchant's events for one payment, once `atLeast` arrived and every queue is drained. */
async function eventsOf(paymentId: string, atLeast = 0): Promise<PaymentEvent[]> {
  const of = () => delivered().filter((e) => e.providerPaymentId === paymentId);
  await waitFor(() => of().length >= atLeast || undefined, `${atLeast} merchant events for ${paymentId}`);
  await drained([stripeQueue, payskeQueue, merchantQueue]);
  await new Promise((r) => setTimeout(r, 200)); // an extra event would have a moment to arrive
  return of();
}

const settled = () => drained([stripeQueue, payskeQueue]);

it("a stripe-signed payment_intent.succeeded at /webhooks/stripe: 200 {received:true}, paid, a stripe event and a stripe ledger payment", async () => {
  await putOrder("stp-order-1", 4_999);
  const body = JSON.stringify(event("payment_intent.succeeded", paymentIntent("pi_stp_1", 4_999, "stp-order-1")));
  const res = await fetch(`${ingress.url}/webhooks/stripe`, {
    method: "POST",
    headers: { "content-type": "application/json; charset=utf-8", "Stripe-Signature": stripe.webhooks.generateTestHeaderString({ payload: body, secret: STRIPE_SECRET }) },
    body,
  });
  expect(res.status).toBe(200);
  expect(await res.text()).toBe('{"received":true}');

  const job = await stripeQueue.getJob(jobIdOf(idOf(body)));
  expect(job).toBeDefined();
  expect(job!.data).toMatchObject({ provider: "stripe", livemode: true });
  await settled();
  expect(await payskeQueue.getJob(jobIdOf(idOf(body), "payske"))).toBeUndefined();
  expect(await order("stp-order-1")).toMatchObject({
    status: "paid",
    paidAmount: 4_999,
    payments: [expect.objectContaining({ provider: "stripe", providerPaymentId: "pi_stp_1", status: "succeeded", settled: 4_999, counted: 4_999, livemode: true })],
  });

  const [e, ...more] = await eventsOf("pi_stp_1", 1);
  expect(more).toEqual([]);
  expect(e).toMatchObject({ type: "payment.succeeded", provider: "stripe", providerPaymentId: "pi_stp_1", orderId: "stp-order-1", amount: 4_999, currency: "USD", livemode: true });

  const ledger = createLedger({ redis: redis.client(), prefix: redis.prefix(PREFIX) });
  expect(await ledger.getPayment("stripe", "pi_stp_1")).toMatchObject({ provider: "stripe", providerPaymentId: "pi_stp_1", orderId: "stp-order-1", attached: true });
  expect(await ledger.getPayment("payske", "pi_stp_1")).toBeNull();
});

it("reads the order id under STRIPE_ORDER_METADATA_KEY, not Payske's default order_id", async () => {
  await putOrder("stp-order-2", 1_500);
  const body = JSON.stringify(event("payment_intent.succeeded", paymentIntent("pi_stp_2", 1_500, "stp-order-2", "order_id")));
  expect(await deliver(body)).toEqual({ status: 200, body: { received: true } });
  await settled();
  expect(await order("stp-order-2")).toMatchObject({ status: "awaiting_payment", payments: [] });
  const [e] = await eventsOf("pi_stp_2", 1);
  expect(e).toMatchObject({ provider: "stripe", orderId: null });
});

describe("the two endpoints never accept each other's deliveries: 400, no job anywhere", () => {
  const payskeSigned = (body: string) => stripe.webhooks.generateTestHeaderString({ payload: body, secret: PAYSKE_SECRET });

  it.each([
    ["a Payske delivery (payske-signature, Payske's secret) at /webhooks/stripe", (body: string) => deliver(body, { header: payskeSigned(body), headerName: "payske-signature" }), "missing_header"],
    ["Payske's secret under Stripe-Signature", (body: string) => deliver(body, { header: payskeSigned(body) }), "no_matching_signature"],
    ["Stripe's signature under payske-signature at /webhooks/stripe", (body: string) => deliver(body, { headerName: "payske-signature" }), "missing_header"],
    ["a Stripe delivery at /webhooks/payske", (body: string) => deliver(body, { path: "/webhooks/payske" }), "missing_header"],
    ["Stripe's secret under payske-signature at /webhooks/payske", (body: string) => deliver(body, { path: "/webhooks/payske", headerName: "payske-signature" }), "no_matching_signature"],
  ])("%s", async (_name, send, reason) => {
    // Each case its own event: one wrongly accepted delivery must not fail the others.
    const body = JSON.stringify(event("payment_intent.succeeded", paymentIntent(`pi_stp_cross${seq}`, 100, null)));
    expect(await send(body)).toEqual({ status: 400, body: { error: reason } });
    expect(await stripeQueue.getJob(jobIdOf(idOf(body)))).toBeUndefined();
    expect(await payskeQueue.getJob(jobIdOf(idOf(body), "payske"))).toBeUndefined();
  });

  it("STRIPE_TOLERANCE_SECONDS applies: a signature older than it is refused, one within it accepted", async () => {
    const late = JSON.stringify(event("payment_intent.succeeded", paymentIntent("pi_stp_late", 100, null)));
    expect(await deliver(late, { timestamp: nowS() - TOLERANCE_S - 30 })).toEqual({ status: 400, body: { error: "timestamp_out_of_tolerance" } });
    expect(await stripeQueue.getJob(jobIdOf(idOf(late)))).toBeUndefined();
    expect(await deliver(late, { timestamp: nowS() - TOLERANCE_S + 30 })).toEqual({ status: 200, body: { received: true } });
  });
});

describe("STRIPE_TEST_WEBHOOK_SECRET: test traffic pays only test orders", () => {
  it("a test-secret event pays a test order (livemode false) and leaves a live order unpaid, even when its body says livemode true", async () => {
    await putOrder("stp-test-1", 2_000, { livemode: false });
    await putOrder("stp-live-1", 2_000);
    const forTest = JSON.stringify(event("payment_intent.succeeded", paymentIntent("pi_stp_t1", 2_000, "stp-test-1"), { livemode: false }));
    const forLive = JSON.stringify(event("payment_intent.succeeded", paymentIntent("pi_stp_t2", 2_000, "stp-live-1"), { livemode: true }));
    expect(await deliver(forTest, { secret: STRIPE_TEST_SECRET })).toEqual({ status: 200, body: { received: true } });
    expect(await deliver(forLive, { secret: STRIPE_TEST_SECRET })).toEqual({ status: 200, body: { received: true } });
    await settled();

    expect(await order("stp-test-1")).toMatchObject({
      livemode: false,
      status: "paid",
      paidAmount: 2_000,
      payments: [expect.objectContaining({ provider: "stripe", providerPaymentId: "test-pi_stp_t1", livemode: false, counted: 2_000 })],
    });
    expect(await order("stp-live-1")).toMatchObject({
      status: "awaiting_payment",
      paidAmount: 0,
      payments: [expect.objectContaining({ provider: "stripe", providerPaymentId: "test-pi_stp_t2", livemode: false, counted: 0, mismatch: "mode" })],
    });
    expect(await eventsOf("test-pi_stp_t1", 1)).toEqual([expect.objectContaining({ type: "payment.succeeded", provider: "stripe", livemode: false, orderId: "stp-test-1" })]);
    expect(await eventsOf("test-pi_stp_t2", 1)).toEqual([expect.objectContaining({ type: "payment.mode_mismatch", provider: "stripe", livemode: false, orderId: "stp-live-1" })]);
  });
});

it("the same event delivered twice (and twice more at once): one job, one payment, one event", async () => {
  await putOrder("stp-dup-1", 3_300);
  const body = JSON.stringify(event("payment_intent.succeeded", paymentIntent("pi_stp_dup", 3_300, "stp-dup-1")));
  expect(await deliver(body)).toEqual({ status: 200, body: { received: true } });
  // Stripe re-signs each retry: a new timestamp, the same event id.
  expect(await deliver(body, { timestamp: nowS() - 5 })).toEqual({ status: 200, body: { received: true } });
  const [a, b] = await Promise.all([deliver(body), deliver(body)]);
  expect([a, b]).toEqual([{ status: 200, body: { received: true } }, { status: 200, body: { received: true } }]);
  await settled();

  const jobs = (await stripeQueue.getJobs(["completed", "failed", "waiting", "active", "delayed"], 0, -1)).filter((j) => j.data && (j.data as { rawBody: string }).rawBody === body);
  expect(jobs.map((j) => j.id)).toEqual([jobIdOf(idOf(body))]);
  expect(await order("stp-dup-1")).toMatchObject({ status: "paid", paidAmount: 3_300, payments: [expect.objectContaining({ provider: "stripe", counted: 3_300 })] });
  expect(await eventsOf("pi_stp_dup", 1)).toEqual([expect.objectContaining({ type: "payment.succeeded", provider: "stripe", orderId: "stp-dup-1" })]);
});
