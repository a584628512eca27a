/**
 * Payske over HTTP against real ingress and worker processes and a private redis-server
 * (docs/protocols/payske.md). Deliveries are signed by the `stripe` package's own generateTestHeaderString and
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
const TEST_SECRET = "whsec_e2eTestModeSecret0123456789abcd";
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
    PAYSKE_TEST_WEBHOOK_SECRET: TEST_SECRET,
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

async function putOrder(orderId: string, amount: number, currency = "USD", extra: Record<string, unknown> = {}) {
  expect(await adminClient(ingress.adminUrl, ADMIN_TOKEN).putOrder(orderId, { amount, currency, ...extra })).toBe(201);
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
  expect(o.status).toBe("refunded");
  expect(o.paidAmount).toBe(0);
  // The refund's own event (no order yet), then the one that reports it attached to the order the success named.
  expect((await eventsFor("pi_e2e_2")).map((e) => [e.type, e.orderId, e.data["attached"] ?? false])).toEqual([
    ["payment.refunded", null, false],
    ["payment.refunded", "psk-order-2", true],
  ]);
  const late = await payskeQueue.getJob(`payske-${succeeded.id}`);
  expect(late!.returnvalue).toMatchObject({ outcome: "applied", orderId: "psk-order-2" });
});

it("succeeded, then a partial refund: the order is partially_refunded with the refunded amount taken off", async () => {
  await putOrder("psk-order-3", 2_500);
  await deliver(JSON.stringify(event("payment_intent.succeeded", paymentIntent("pi_e2e_3", 2_500, "psk-order-3"))));
  await settled();
  await deliver(JSON.stringify(event("charge.refunded", charge("pi_e2e_3", 2_500, 1_000))));
  await settled();
  expect(await order("psk-order-3")).toMatchObject({ status: "partially_refunded", paidAmount: 1_500 });
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
  const [e] = await eventsFor("test-pi_e2e_5");
  expect(e).toMatchObject({ type: "payment.failed", livemode: false, data: { failureCode: "insufficient_funds" } });
});

it("never lets test-mode money move a live order, though the test payment is recorded against it", async () => {
  await putOrder("psk-order-6", 1_200);
  await deliver(JSON.stringify(event("payment_intent.succeeded", paymentIntent("pi_e2e_6", 1_200, "psk-order-6"), { livemode: false })));
  await settled();
  expect(await order("psk-order-6")).toMatchObject({ status: "awaiting_payment", paidAmount: 0 });
  const [e] = await eventsFor("test-pi_e2e_6");
  expect(e).toMatchObject({ type: "payment.mode_mismatch", livemode: false, orderId: "psk-order-6", amount: 1_200 });
  expect(e!.data["mismatch"]).toMatchObject({ reason: "mode", orderLivemode: true });
});

describe("live and test are two worlds", () => {
  it("an event verified only by the test secret is test, even when its body says livemode: true: it never pays a live order", async () => {
    await putOrder("psk-mode-1", 3_000);
    const body = JSON.stringify(event("payment_intent.succeeded", paymentIntent("pi_mode_1", 3_000, "psk-mode-1"), { livemode: true }));
    expect(await deliver(body, { secret: TEST_SECRET })).toEqual({ status: 200, body: { received: true } });
    await settled();
    expect(await order("psk-mode-1")).toMatchObject({ status: "awaiting_payment", paidAmount: 0 });
    const [e] = await eventsFor("test-pi_mode_1");
    expect(e).toMatchObject({ type: "payment.mode_mismatch", livemode: false });
  });

  it("a staging deployment works end to end: test secret, test order, paid", async () => {
    await putOrder("psk-mode-2", 3_100, "USD", { livemode: false });
    const body = JSON.stringify(event("payment_intent.succeeded", paymentIntent("pi_mode_2", 3_100, "psk-mode-2"), { livemode: false }));
    expect((await deliver(body, { secret: TEST_SECRET })).status).toBe(200);
    await settled();
    expect(await order("psk-mode-2")).toMatchObject({ livemode: false, status: "paid", paidAmount: 3_100 });
    const [e] = await eventsFor("test-pi_mode_2");
    expect(e).toMatchObject({ type: "payment.succeeded", livemode: false, order: { status: "paid", counted: 3_100 } });
  });

  it("a test event for a live payment's id touches nothing live: it neither attaches the live payment to an order nor blocks its success", async () => {
    await putOrder("psk-mode-4", 4_000);
    // A live payment recorded with no order yet.
    expect((await deliver(JSON.stringify(event("payment_intent.succeeded", paymentIntent("pi_mode_4", 4_000, null))))).status).toBe(200);
    await settled();
    // A test-secret event for the same PaymentIntent id, naming the live order (the id is visible to a buyer).
    const forged = event("charge.refunded", { ...charge("pi_mode_4", 4_000, 0), amount_refunded: 1, metadata: { order_id: "psk-mode-4" } });
    expect((await deliver(JSON.stringify(forged), { secret: TEST_SECRET })).status).toBe(200);
    const failed = event("payment_intent.payment_failed", { ...paymentIntent("pi_mode_5", 4_100, "psk-mode-5"), status: "requires_payment_method" });
    expect((await deliver(JSON.stringify(failed), { secret: TEST_SECRET })).status).toBe(200);
    await settled();
    expect(await order("psk-mode-4")).toMatchObject({ status: "awaiting_payment", paidAmount: 0, payments: [expect.objectContaining({ providerPaymentId: "test-pi_mode_4", livemode: false, counted: 0, mismatch: "mode" })] });
    // The live success of pi_mode_5, after a test failure under the same id, pays its live order.
    await putOrder("psk-mode-5", 4_100);
    expect((await deliver(JSON.stringify(event("payment_intent.succeeded", paymentIntent("pi_mode_5", 4_100, "psk-mode-5"))))).status).toBe(200);
    await settled();
    expect(await order("psk-mode-5")).toMatchObject({ status: "paid", paidAmount: 4_100 });
  });

  it("a live secret with livemode: false is test: it pays a test order, not a live one", async () => {
    await putOrder("psk-mode-3", 3_200, "USD", { livemode: false });
    await deliver(JSON.stringify(event("payment_intent.succeeded", paymentIntent("pi_mode_3", 3_200, "psk-mode-3"), { livemode: false })));
    await settled();
    expect(await order("psk-mode-3")).toMatchObject({ status: "paid", paidAmount: 3_200 });
  });
});

describe("a payment that arrives before its order", () => {
  it("is attached when the order is created a second later: paid, one more event with the order, no second payment possible", async () => {
    const body = JSON.stringify(event("payment_intent.succeeded", paymentIntent("pi_early_1", 4_500, "psk-early-1")));
    expect((await deliver(body)).status).toBe(200);
    await settled();
    await expect(order("psk-early-1")).rejects.toThrow(/404/);
    await putOrder("psk-early-1", 4_500);
    expect(await order("psk-early-1")).toMatchObject({ status: "paid", paidAmount: 4_500 });
    const events = await waitFor(async () => {
      const list = await eventsFor("pi_early_1");
      return list.length === 2 ? list : undefined;
    }, "the attach event sent by the outbox sweep");
    expect(events.map((e) => [e.type, e.orderId])).toEqual([
      ["payment.succeeded", null],
      ["payment.succeeded", "psk-early-1"],
    ]);
    expect(events[1]).toMatchObject({ data: { attached: true }, order: { status: "paid", paidAmount: 4_500, counted: 4_500 } });
    // The PUT again, and the event again: nothing is counted twice.
    expect(await adminClient(ingress.adminUrl, ADMIN_TOKEN).putOrder("psk-early-1", { amount: 4_500, currency: "USD" })).toBe(200);
    expect((await deliver(body)).status).toBe(200);
    await settled();
    expect(await order("psk-early-1")).toMatchObject({ status: "paid", paidAmount: 4_500 });
    expect(await eventsFor("pi_early_1")).toHaveLength(2);
  });
});

describe("genuine events payhooks cannot fully read are acknowledged, never refused", () => {
  it("a checkout.session.completed from an API version without payment_status pays the order its client_reference_id names", async () => {
    await putOrder("psk-old-1", 1_999);
    const session = { id: "cs_old_1", object: "checkout.session", payment_intent: "pi_old_1", amount_total: 1_999, currency: "usd", client_reference_id: "psk-old-1", mode: "payment" };
    expect((await deliver(JSON.stringify(event("checkout.session.completed", session, { api_version: "2019-05-16" })))).status).toBe(200);
    await settled();
    expect(await order("psk-old-1")).toMatchObject({ status: "paid", paidAmount: 1_999 });
  });

  it("a session of an API version before amount_total is paid from its display_items", async () => {
    await putOrder("psk-old-2", 3_000);
    const session = { id: "cs_old_2", object: "checkout.session", payment_intent: "pi_old_2", client_reference_id: "psk-old-2", mode: "payment", display_items: [{ amount: 1_500, currency: "usd", quantity: 2, type: "custom" }] };
    expect((await deliver(JSON.stringify(event("checkout.session.completed", session, { api_version: "2019-05-16" })))).status).toBe(200);
    await settled();
    expect(await order("psk-old-2")).toMatchObject({ status: "paid", paidAmount: 3_000 });
  });

  it("a session that states no amount at all leaves the payment undetermined until its PaymentIntent's success fills it in", async () => {
    await putOrder("psk-old-3", 3_300);
    const session = { id: "cs_old_3", object: "checkout.session", payment_intent: "pi_old_3", client_reference_id: "psk-old-3", mode: "payment" };
    expect((await deliver(JSON.stringify(event("checkout.session.completed", session, { api_version: "2019-05-16" })))).status).toBe(200);
    await settled();
    expect(await order("psk-old-3")).toMatchObject({ status: "awaiting_payment", payments: [expect.objectContaining({ mismatch: "undetermined" })] });
    expect((await deliver(JSON.stringify(event("payment_intent.succeeded", paymentIntent("pi_old_3", 3_300, null))))).status).toBe(200);
    await settled();
    expect(await order("psk-old-3")).toMatchObject({ status: "paid", paidAmount: 3_300 });
  });

  it("a thin event is acknowledged and recorded, and moves no money", async () => {
    const thin = { id: "evt_test_65R9Ijk8d3PP5ueZPHCRFqr9bJ6ZQN5hHvF0DBMYYzVQ", object: "v2.core.event", type: "v1.billing.meter.error_report_triggered", livemode: false, created: "2024-09-17T06:20:52.246Z", related_object: { id: "mtr_test_61R9IbWUCqk1VifMN41IbCPn1K", type: "billing.meter", url: "/v1/billing/meters/mtr_test_61R9IbWUCqk1VifMN41IbCPn1K" } };
    expect(await deliver(JSON.stringify(thin))).toEqual({ status: 200, body: { received: true } });
    await settled();
    const job = await payskeQueue.getJob(`payske-${thin.id}`);
    expect(job!.returnvalue).toMatchObject({ outcome: "ignored", reason: expect.stringMatching(/^thin event/) });
  });

  it("a signed body that is not an event is acknowledged and quarantined: failed with the reason, retryable", async () => {
    const notEvent = JSON.stringify({ object: "event", type: "x" });
    expect(await deliver(notEvent)).toEqual({ status: 200, body: { received: true } });
    await settled();
    const [job] = (await payskeQueue.getJobs(["failed"])).filter((j) => (j.data as Envelope).rawBody === notEvent);
    expect(job!.failedReason).toMatch(/^quarantined: id: /);
    expect(job!.attemptsMade).toBe(1);
  });
});

describe("refusals of unauthenticated deliveries: 400 with a short reason and no job", () => {
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
