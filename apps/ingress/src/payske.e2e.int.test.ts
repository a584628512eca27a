/**
 * Payske over HTTP against real ingress and worker processes and a private redis-server
 * (issue 5). Deliveries are signed by the `stripe` package's own generateTestHeaderString and
 * sent under Payske's header name.
 */
import { Queue } from "bullmq";
import Stripe from "stripe";
import { QUEUES, type Envelope } from "@payhooks/core";
import {
  adminClient,
  drained,
  paymentEventsFor,
  startIngress,
  startTestRedis,
  startWorker,
  waitFor,
  type NodeProcess,
  type TestRedis,
} from "@payhooks/testing";

const OLD_SECRET = "whsec_e2eOldSecret0123456789abcdefghij";
const NEW_SECRET = "whsec_e2eNewSecret9876543210zyxwvutsrq";
const ADMIN_TOKEN = "e2e-admin-token-0123456789";
const PREFIX = "psk";
const stripe = new Stripe("sk_test_not_used_offline");

let redis: TestRedis;
let ingress: Awaited<ReturnType<typeof startIngress>>;
let worker: NodeProcess;
let payskeQueue: Queue;
let eventsQueue: Queue;

beforeAll(async () => {
  redis = await startTestRedis();
  const env = {
    REDIS_URL: redis.url,
    QUEUE_PREFIX: PREFIX,
    PAYSKE_WEBHOOK_SECRET: `${OLD_SECRET},${NEW_SECRET}`,
    ADMIN_TOKEN,
  };
  [ingress, worker] = await Promise.all([startIngress(env), startWorker(env)]);
  payskeQueue = new Queue(QUEUES.payske, { connection: redis.client(), prefix: redis.prefix(PREFIX) });
  eventsQueue = new Queue(QUEUES.paymentEvents, { connection: redis.client(), prefix: redis.prefix(PREFIX) });
}, 30_000);

afterAll(async () => {
  await Promise.all([payskeQueue?.close(), eventsQueue?.close()]);
  await Promise.all([ingress?.proc.stop(), worker?.stop()]);
  await redis?.remove();
});

let seq = 0;
const nowS = () => Math.floor(Date.now() / 1000);

function event(type: string, object: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { id: `evt_e2e${++seq}x${Date.now()}`, object: "event", api_version: "2024-06-20", created: nowS(), livemode: true, pending_webhooks: 1, request: { id: null, idempotency_key: null }, type, data: { object }, ...extra };
}

const paymentIntent = (id: string, amount: number, orderId: string | null, currency = "usd") => ({
  id,
  object: "payment_intent",
  amount,
  amount_received: amount,
  currency,
  status: "succeeded",
  metadata: orderId ? { order_id: orderId } : {},
});

const charge = (pi: string, amount: number, refunded: number) => ({
  id: `ch_${pi.slice(3)}`,
  object: "charge",
  payment_intent: pi,
  amount,
  amount_refunded: refunded,
  refunded: refunded === amount,
  currency: "usd",
  metadata: {},
});

async function deliver(body: string, options: { secret?: string; timestamp?: number; header?: string } = {}) {
  const header =
    options.header ?? stripe.webhooks.generateTestHeaderString({ payload: body, secret: options.secret ?? NEW_SECRET, timestamp: options.timestamp ?? nowS() });
  const res = await fetch(`${ingress.url}/webhooks/payske`, {
    method: "POST",
    headers: { "content-type": "application/json; charset=utf-8", "payske-signature": header },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function putOrder(orderId: string, amount: number, currency = "USD") {
  expect(await adminClient(ingress.adminUrl, ADMIN_TOKEN).putOrder(orderId, { amount, currency })).toBe(201);
}

const order = (orderId: string) => adminClient(ingress.adminUrl, ADMIN_TOKEN).getOrder(orderId);
const eventsFor = (paymentId: string) => paymentEventsFor(eventsQueue, paymentId);
/** Waits until every Payske job has been processed. */
const settled = () => drained([payskeQueue]);

it("takes a payment_intent.succeeded to a paid order; a redelivery is the same job and changes nothing", async () => {
  await putOrder("psk-order-1", 4_999);
  const body = JSON.stringify(event("payment_intent.succeeded", paymentIntent("pi_e2e_1", 4_999, "psk-order-1")));
  expect(await deliver(body)).toEqual({ status: 200, body: { received: true } });
  expect(await deliver(body, { secret: OLD_SECRET })).toEqual({ status: 200, body: { received: true } });
  const id = (JSON.parse(body) as { id: string }).id;
  expect(await payskeQueue.getJob(`payske-${id}`)).toBeDefined();
  await settled();
  expect(await order("psk-order-1")).toMatchObject({ status: "paid", paidAmount: 4_999 });

  // The queue forgets completed jobs after 7 days; the same event under another job id must still apply once.
  const copy = (await payskeQueue.getJob(`payske-${id}`))!.data as Envelope;
  await payskeQueue.add("payment_intent.succeeded", { ...copy, deliveryId: "replayed" }, { jobId: "payske-replayed-after-cleanup" });
  await settled();
  const replayed = await payskeQueue.getJob("payske-replayed-after-cleanup");
  expect(replayed!.returnvalue).toMatchObject({ outcome: "ignored", reason: "event already applied" });
  const emitted = await eventsFor("pi_e2e_1");
  expect(emitted).toHaveLength(1);
  expect(emitted[0]).toMatchObject({ type: "payment.succeeded", provider: "payske", orderId: "psk-order-1", amount: 4_999, currency: "USD", livemode: true });
  expect(await order("psk-order-1")).toMatchObject({ status: "paid", paidAmount: 4_999 });
});

it("keeps a refund that overtook the success: the late success does not make the order paid again", async () => {
  await putOrder("psk-order-2", 10_000);
  const refunded = event("charge.refunded", charge("pi_e2e_2", 10_000, 10_000));
  const succeeded = event("payment_intent.succeeded", paymentIntent("pi_e2e_2", 10_000, "psk-order-2"), { created: nowS() - 60 });
  // The refund carries no order metadata (charges often don't): it is recorded, then matched by the success.
  expect((await deliver(JSON.stringify(refunded))).status).toBe(200);
  await settled();
  expect((await deliver(JSON.stringify(succeeded))).status).toBe(200);
  await settled();
  const o = await order("psk-order-2");
  expect(o.status).not.toBe("paid");
  expect(o.paidAmount).toBe(0);
  expect((await eventsFor("pi_e2e_2")).map((e) => e.type)).toEqual(["payment.refunded"]);
  const late = await payskeQueue.getJob(`payske-${succeeded.id}`);
  expect(late!.returnvalue).toMatchObject({ outcome: "ignored", reason: "already refunded" });
});

it("succeeded, then a partial refund: the order stays paid with the refunded amount taken off", async () => {
  await putOrder("psk-order-3", 2_500);
  await deliver(JSON.stringify(event("payment_intent.succeeded", paymentIntent("pi_e2e_3", 2_500, "psk-order-3"))));
  await settled();
  await deliver(JSON.stringify(event("charge.refunded", charge("pi_e2e_3", 2_500, 1_000))));
  await settled();
  expect(await order("psk-order-3")).toMatchObject({ status: "paid", paidAmount: 1_500 });
  const refund = (await eventsFor("pi_e2e_3")).find((e) => e.type === "payment.refunded");
  expect(refund).toMatchObject({ amount: 1_000, currency: "USD", orderId: "psk-order-3", data: { amountRefunded: 1_000, chargeAmount: 2_500 } });
});

it("records an unknown event type and acknowledges it with no PaymentEvent", async () => {
  const unknown = event("customer.created", { id: "cus_e2e_1", object: "customer", email: null });
  expect(await deliver(JSON.stringify(unknown))).toEqual({ status: 200, body: { received: true } });
  await settled();
  const job = await payskeQueue.getJob(`payske-${unknown.id}`);
  expect(job!.returnvalue).toEqual({ outcome: "ignored", reason: "event type customer.created changes no payment", orderId: null, events: [] });
  expect(await eventsFor("cus_e2e_1")).toEqual([]);
});

it("records a payment for an unknown order with an event whose orderId is null", async () => {
  await deliver(JSON.stringify(event("payment_intent.succeeded", paymentIntent("pi_e2e_4", 700, "no-such-order"))));
  await settled();
  const [e] = await waitFor(async () => {
    const found = await eventsFor("pi_e2e_4");
    return found.length > 0 ? found : undefined;
  }, "event for the unknown order");
  expect(e).toMatchObject({ type: "payment.succeeded", orderId: null, amount: 700 });
});

it("keeps test-mode events apart: the PaymentEvent carries livemode false", async () => {
  await deliver(JSON.stringify(event("payment_intent.payment_failed", { ...paymentIntent("pi_e2e_5", 900, null), status: "requires_payment_method", last_payment_error: { code: "card_declined", decline_code: "insufficient_funds" } }, { livemode: false })));
  await settled();
  const [e] = await eventsFor("pi_e2e_5");
  expect(e).toMatchObject({ type: "payment.failed", livemode: false, data: { failureCode: "insufficient_funds" } });
});

it("never lets test-mode money move an order, though the test payment is recorded against it", async () => {
  await putOrder("psk-order-6", 1_200);
  await deliver(JSON.stringify(event("payment_intent.succeeded", paymentIntent("pi_e2e_6", 1_200, "psk-order-6"), { livemode: false })));
  await settled();
  expect(await order("psk-order-6")).toMatchObject({ status: "awaiting_payment", paidAmount: 0 });
  const [e] = await eventsFor("pi_e2e_6");
  expect(e).toMatchObject({ type: "payment.succeeded", livemode: false, orderId: "psk-order-6", amount: 1_200 });
});

describe("refusals: 400 with a short reason and no job", () => {
  const body = JSON.stringify(event("payment_intent.succeeded", paymentIntent("pi_e2e_refused", 100, null)));
  const id = (JSON.parse(body) as { id: string }).id;

  it.each([
    ["tampered body", () => deliver(body.replace('"amount":100', '"amount":1'), { header: stripe.webhooks.generateTestHeaderString({ payload: body, secret: NEW_SECRET }) }), "no_matching_signature"],
    ["stale t", () => deliver(body, { timestamp: nowS() - 301 }), "timestamp_out_of_tolerance"],
    ["v0 only", () => deliver(body, { header: stripe.webhooks.generateTestHeaderString({ payload: body, secret: NEW_SECRET, scheme: "v0" }) }), "no_v1_signature"],
    ["garbage header", () => deliver(body, { header: "garbage" }), "malformed_header"],
    ["another secret", () => deliver(body, { secret: "whsec_someoneElse0123456789" }), "no_matching_signature"],
  ])("%s", async (_name, send, reason) => {
    expect(await send()).toEqual({ status: 400, body: { error: reason } });
    expect(await payskeQueue.getJob(`payske-${id}`)).toBeUndefined();
  });

  it("a signed body that is not an event", async () => {
    const notEvent = JSON.stringify({ object: "event", type: "x" });
    expect(await deliver(notEvent)).toMatchObject({ status: 400, body: { error: "invalid_payload" } });
  });

  it("no signature header", async () => {
    const res = await fetch(`${ingress.url}/webhooks/payske`, { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: "missing_header" });
  });
});

it("answers 503 when Redis is down, 200 again once it is back (last: the private Redis restarts empty)", async () => {
  await redis.stop("SIGKILL");
  const body = JSON.stringify(event("payment_intent.succeeded", paymentIntent("pi_e2e_down", 100, null)));
  expect(await deliver(body)).toEqual({ status: 503, body: { error: "unavailable" } });
  await redis.restart();
  const accepted = await waitFor(async () => {
    const r = await deliver(body);
    return r.status === 200 ? r : undefined;
  }, "the same event accepted after Redis is back");
  expect(accepted.body).toEqual({ received: true });
});
