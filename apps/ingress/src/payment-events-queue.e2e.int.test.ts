/**
 * The `payment-events` queue is produced only with PAYMENT_EVENTS_QUEUE=true. Here the worker runs
 * with it unset (the default) and only the merchant webhook on: the merchant receives every
 * event, no payment-events job is ever created, and the ledger's outbox is still cleared.
 */
import { randomBytes } from "node:crypto";
import { Queue } from "bullmq";
import { LEDGER_COMPACTION_SCHEDULER, MAINTENANCE_QUEUE, PaymentEventSchema, QUEUES, createLedger, type PaymentEvent } from "@payhooks/core";
import { signForTest } from "@payhooks/payram";
import {
  WORKER_MAIN,
  adminClient,
  spawnNode,
  startIngress,
  startMerchantEndpoint,
  startTestRedis,
  waitFor,
  type NodeProcess,
  type TestRedis,
} from "@payhooks/testing";

const PAYRAM_SECRET = "events-off-payram-key";
const ADMIN_TOKEN = "events-off-admin-token-0123";
const MERCHANT_SECRET = `whsec_${randomBytes(32).toString("base64")}`;
const QUEUE_PREFIX = "evoff";

let redis: TestRedis;
let merchant: Awaited<ReturnType<typeof startMerchantEndpoint>>;
let ingress: Awaited<ReturnType<typeof startIngress>>;
let worker: NodeProcess;
let paymentEvents: Queue;

beforeAll(async () => {
  redis = await startTestRedis();
  merchant = await startMerchantEndpoint();
  const env = {
    REDIS_URL: redis.url,
    QUEUE_PREFIX,
    PAYRAM_WEBHOOK_SECRET: PAYRAM_SECRET,
    ADMIN_TOKEN,
    MERCHANT_WEBHOOK_URL: merchant.url,
    MERCHANT_WEBHOOK_SECRET: MERCHANT_SECRET,
  };
  // Not startWorker(), which turns the queue on for the other tests: PAYMENT_EVENTS_QUEUE is unset here.
  worker = spawnNode(WORKER_MAIN, { LOG_LEVEL: "info", ...env });
  [ingress] = await Promise.all([startIngress(env), worker.waitForLine(/"msg":"worker ready"/)]);
  paymentEvents = new Queue(QUEUES.paymentEvents, { connection: redis.client("events-off-test"), prefix: redis.prefix(QUEUE_PREFIX) });
}, 30_000);

afterAll(async () => {
  await paymentEvents?.close();
  await Promise.all([ingress?.proc.stop(), worker?.stop()]);
  await merchant?.close();
  await redis?.remove();
});

async function payram(body: Record<string, unknown>): Promise<void> {
  const text = JSON.stringify(body);
  const res = await fetch(`${ingress.url}/webhooks/payram`, { method: "POST", headers: signForTest(text, PAYRAM_SECRET), body: text });
  expect(res.status).toBe(200);
}

it("with PAYMENT_EVENTS_QUEUE unset, the merchant receives every event and no payment-events job is created", async () => {
  const admin = adminClient(ingress.adminUrl, ADMIN_TOKEN);
  expect(await admin.putOrder("evoff-1", { amount: 4999, currency: "USD", references: { payram: "ref-a" } })).toBe(201);
  await payram({ reference_id: "ref-a", status: "OPEN", amount: "49.99", currency: "USD", timestamp: 1_763_800_000 });
  await payram({ reference_id: "ref-a", status: "FILLED", amount: "49.99", filled_amount: "49.99", currency: "USD", timestamp: 1_763_800_060 });
  // A payment before its order: one event without the order, one more when the order's PUT attaches it.
  await payram({ reference_id: "ref-b", status: "FILLED", amount: "10.00", filled_amount: "10.00", currency: "USD", timestamp: 1_763_800_120 });
  await waitFor(() => merchant.received.length >= 3 || undefined, "three events delivered");
  expect(await admin.putOrder("evoff-2", { amount: 1000, currency: "USD", references: { payram: "ref-b" } })).toBe(201);
  await waitFor(() => merchant.received.length >= 4 || undefined, "the attach event delivered");

  const delivered = merchant.received.map((d) => PaymentEventSchema.parse(JSON.parse(d.body)) as PaymentEvent);
  expect(delivered.map((e) => [e.providerPaymentId, e.type, e.orderId]).sort()).toEqual(
    [
      ["ref-a", "payment.pending", "evoff-1"],
      ["ref-a", "payment.succeeded", "evoff-1"],
      ["ref-b", "payment.succeeded", null],
      ["ref-b", "payment.succeeded", "evoff-2"],
    ].sort(),
  );
  expect(new Set(delivered.map((e) => e.id)).size).toBe(4);
  expect((await admin.getOrder("evoff-1")).status).toBe("paid");
  expect((await admin.getOrder("evoff-2")).status).toBe("paid");

  // Not one payment-events job, in any state, under any of the delivered ids.
  const counts = await paymentEvents.getJobCounts();
  expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0);
  for (const e of delivered) expect(await paymentEvents.getJob(e.id)).toBeUndefined();
  // The outbox is cleared all the same, event bodies included.
  const ledger = createLedger({ redis: redis.client("events-off-ledger"), prefix: redis.prefix(QUEUE_PREFIX) });
  await waitFor(async () => ((await ledger.outboxEvents()).length === 0 ? true : undefined), "outbox cleared");
  for (const e of delivered) expect(await ledger.pendingEvents(e.provider, e.providerPaymentId)).toEqual([]);
}, 30_000);

it("the worker schedules the ledger's retention compaction once a day", async () => {
  const maintenance = new Queue(MAINTENANCE_QUEUE, { connection: redis.client("events-off-maintenance"), prefix: redis.prefix(QUEUE_PREFIX) });
  try {
    const schedulers = await waitFor(async () => {
      const list = await maintenance.getJobSchedulers();
      return list.length > 0 ? list : undefined;
    }, "the compaction scheduler");
    expect(schedulers).toEqual([expect.objectContaining({ key: LEDGER_COMPACTION_SCHEDULER, every: 86_400_000 })]);
  } finally {
    await maintenance.close();
  }
});

it("warns at start-up when PaymentEvents would have no destination, and only then", async () => {
  expect(worker.output()).not.toMatch(/"check":"payment-events"/);
  const nowhere = spawnNode(WORKER_MAIN, { LOG_LEVEL: "info", REDIS_URL: redis.url, QUEUE_PREFIX: `${QUEUE_PREFIX}-nowhere` });
  try {
    const line = await nowhere.waitForLine(/"check":"payment-events"/);
    expect(line).toMatch(/"level":40/);
    expect(line).toMatch(/PAYMENT_EVENTS_QUEUE=true/);
  } finally {
    await nowhere.stop();
  }
});
