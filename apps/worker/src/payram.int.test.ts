import { Queue, QueueEvents, Worker, type Job } from "bullmq";
import { JOB_OPTIONS, QUEUES, createLedger, createLogger, createRedis, type Envelope, type Ledger, type PaymentEvent, type RedisConnection } from "@payhooks/core";
import { decidePayram, parsePayramNotification, payramJobId } from "@payhooks/payram";
import { removeRedisServer, startRedisServer, type RedisServer } from "@payhooks/testing";
import { createEmitter } from "./emitter";
import { PROVIDERS, loadConfig } from "@payhooks/providers";
import { createProviderProcessor } from "./processor";

// Fixed clock for envelopes (ms).
const RECEIVED_AT = 1_700_000_000_000;

let redisServer: RedisServer;
let connection: RedisConnection;
let prefix: string;
let ledger: Ledger;
let payram: Queue;
let events: Queue;
let worker: Worker;
let queueEvents: QueueEvents;
let testNo = 0;

beforeAll(async () => {
  redisServer = await startRedisServer();
  connection = createRedis(redisServer.url, "worker", "worker-test");
});

beforeEach(async () => {
  prefix = `wt${++testNo}`; // a fresh key space per test
  ledger = createLedger({ redis: connection, prefix, now: () => RECEIVED_AT });
  payram = new Queue(QUEUES.payram, { connection, prefix });
  events = new Queue(QUEUES.paymentEvents, { connection, prefix });
  const emitter = createEmitter({ ledger, paymentEvents: events, merchant: null, logger: createLogger({ level: "silent", name: "t" }) });
  worker = new Worker(QUEUES.payram, createProviderProcessor(PROVIDERS.payram, { ledger, emitter, config: loadConfig({}), clock: Date.now }), { connection, prefix, concurrency: 4 });
  // QueueEvents blocks on XREAD: it gets a connection of its own from BullMQ (closed by close()).
  queueEvents = new QueueEvents(QUEUES.payram, { connection: { path: redisServer.socketPath }, prefix });
  await Promise.all([worker.waitUntilReady(), queueEvents.waitUntilReady()]);
});

afterEach(async () => {
  await worker.close();
  await queueEvents.close();
  await Promise.all([payram.close(), events.close()]);
});

afterAll(async () => {
  connection.disconnect();
  await removeRedisServer(redisServer);
});

function envelope(body: Record<string, unknown>): Envelope {
  const rawBody = JSON.stringify(body);
  return { provider: "payram", deliveryId: "d", receivedAt: RECEIVED_AT, rawBody, payload: body, headers: {} };
}

/** Adds a job and waits for its end; `jobId` can be forced to bypass the queue's own dedup. */
async function run(body: Record<string, unknown>, jobId?: string): Promise<Job> {
  const env = envelope(body);
  const id = jobId ?? payramJobId(parsePayramNotification(body));
  const job = await payram.add("payram.notification", env, { ...JOB_OPTIONS.provider, backoff: { type: "fixed", delay: 10 }, jobId: id });
  await job.waitUntilFinished(queueEvents, 10_000).catch(() => undefined);
  return (await payram.getJob(id))!;
}

async function emitted(): Promise<PaymentEvent[]> {
  // Nothing consumes payment-events here, so every event is still waiting, oldest first.
  const jobs = await events.getJobs(["waiting"], 0, -1, true);
  return jobs.map((j) => j.data as PaymentEvent);
}

const ref = "3c6a6e1e-1111-4d7e-8f7e-4a2b1c0d9e8f";

describe("Payram processing over the ledger", () => {
  it("pays the matched order and emits one payment.succeeded", async () => {
    await ledger.putOrder("order-1", { amount: 4999, currency: "USD", references: { payram: ref } });
    const job = await run({ reference_id: ref, status: "FILLED", amount: "49.99", filled_amount: "49.99", currency: "USD", timestamp: 1_700_000_100 });
    expect(job.returnvalue).toMatchObject({ outcome: "applied", orderId: "order-1" });
    const order = await ledger.getOrder("order-1");
    expect(order).toMatchObject({ status: "paid", paidAmount: 4999 });
    expect(order!.payments).toEqual([
      {
        provider: "payram",
        providerPaymentId: ref,
        status: "succeeded",
        providerStatus: "FILLED",
        currency: "USD",
        requested: 4999,
        settled: 4999,
        refunded: 0,
        livemode: true,
        at: "2023-11-14T22:15:00.000Z",
        counted: 4999,
        mismatch: null,
      },
    ]);
    const sent = await emitted();
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({
      type: "payment.succeeded",
      provider: "payram",
      providerPaymentId: ref,
      orderId: "order-1",
      amount: 4999,
      currency: "USD",
      livemode: true,
      occurredAt: "2023-11-14T22:15:00.000Z",
    });
    expect((await ledger.getOrder("order-1"))!.status).toBe("paid");
  });

  it("applies a duplicate delivery once, even after the queue forgot the first job", async () => {
    await ledger.putOrder("order-2", { amount: 1000, currency: "USD", references: { payram: ref } });
    const body = { reference_id: ref, status: "FILLED", amount: 10, currency: "USD" };
    const first = await run(body, "payram-first");
    const second = await run(body, "payram-second");
    expect(first.returnvalue).toMatchObject({ outcome: "applied" });
    expect(second.returnvalue).toMatchObject({ outcome: "ignored", reason: "duplicate", events: [] });
    expect(await emitted()).toHaveLength(1);
    const payment = await ledger.getPayment("payram", ref);
    expect(payment!.v).toBe("1"); // one ledger change
    expect((await ledger.getOrder("order-2"))!.paidAmount).toBe(1000);
  });

  it("moves OPEN → PARTIALLY_FILLED → FILLED and ignores a late OPEN", async () => {
    await ledger.putOrder("order-3", { amount: 2000, currency: "USD", references: { payram: ref } });
    await run({ reference_id: ref, status: "OPEN", amount: "20.00" });
    await run({ reference_id: ref, status: "PARTIALLY_FILLED", amount: "20.00", filled_amount: "5.00" });
    expect((await ledger.getOrder("order-3"))!).toMatchObject({ status: "partially_paid", paidAmount: 500 });
    await run({ reference_id: ref, status: "PARTIALLY_FILLED", amount: "20.00", filled_amount: "12.50" });
    expect((await ledger.getOrder("order-3"))!).toMatchObject({ status: "partially_paid", paidAmount: 1250 });
    await run({ reference_id: ref, status: "FILLED", amount: "20.00", filled_amount: "20.00" });
    const late = await run({ reference_id: ref, status: "OPEN", amount: "20.00" }, "payram-late-open");
    expect(late.returnvalue).toMatchObject({ outcome: "ignored", reason: "stale" });
    expect((await ledger.getOrder("order-3"))!).toMatchObject({ status: "paid", paidAmount: 2000 });
    expect((await emitted()).map((e) => [e.type, e.amount])).toEqual([
      ["payment.pending", 2000],
      ["payment.partially_paid", 500],
      ["payment.partially_paid", 1250],
      ["payment.succeeded", 2000],
    ]);
  });

  it("records an unmatched payment and emits its event with orderId null", async () => {
    const job = await run({ reference_id: "no-such-order", status: "FILLED", amount: 5, currency: "USD" });
    expect(job.returnvalue).toMatchObject({ outcome: "applied", orderId: null });
    expect(await ledger.getPayment("payram", "no-such-order")).toMatchObject({ providerStatus: "FILLED", orderId: null, attached: false, facts: { settled: 500 } });
    const [event] = await emitted();
    expect(event).toMatchObject({ type: "payment.succeeded", orderId: null, amount: 500 });
  });

  it("keeps an unknown status as UNDEFINED and reports it once", async () => {
    await run({ reference_id: ref, status: "REFUND_PENDING", amount: 5 });
    await run({ reference_id: ref, status: "REFUND_PENDING", amount: 5 }, "payram-again");
    expect((await emitted()).map((e) => [e.type, e.data["status"]])).toEqual([["payment.unknown_status", "REFUND_PENDING"]]);
    expect((await ledger.getPayment("payram", ref))!).toMatchObject({ providerStatus: "REFUND_PENDING", facts: { status: "unknown" } });
  });

  it("sends an event that a crashed worker wrote to the ledger but never enqueued", async () => {
    const body = { reference_id: ref, status: "FILLED", amount: 7, currency: "USD" };
    const n = parsePayramNotification(body);
    // What a worker killed between the ledger write and the enqueue leaves behind:
    const applied = await ledger.applyPayment({ provider: "payram", providerPaymentId: ref, decide: (c) => decidePayram(n, RECEIVED_AT, c) });
    expect(applied.kind).toBe("applied");
    expect(await emitted()).toHaveLength(0);
    expect(await ledger.pendingEvents("payram", ref)).toHaveLength(1);
    // BullMQ re-runs the stalled job: the ledger says "duplicate", the outbox still sends.
    const retry = await run(body);
    expect(retry.returnvalue).toMatchObject({ outcome: "ignored", reason: "duplicate" });
    const sent = await emitted();
    expect(sent.map((e) => e.id)).toEqual([applied.kind === "applied" ? applied.events[0]!.id : ""]);
    expect(await ledger.pendingEvents("payram", ref)).toHaveLength(0);
    expect(await ledger.outboxEvents()).toHaveLength(0);
  });

  it("fails input that can never succeed at once, without retries", async () => {
    const job = await run({ reference_id: ref, status: "FILLED", amount: "1.001", currency: "USD" }, "payram-bad-money");
    expect(await job.getState()).toBe("failed");
    expect(job.attemptsMade).toBe(1);
    expect(job.failedReason).toMatch(/amount: amount 1.001 has more precision/);
    const bad = await payram.add("payram.notification", { provider: "payram" }, { ...JOB_OPTIONS.provider, jobId: "payram-bad-envelope" });
    await bad.waitUntilFinished(queueEvents, 10_000).catch(() => undefined);
    const failed = (await payram.getJob("payram-bad-envelope"))!;
    expect(failed.attemptsMade).toBe(1);
    expect(failed.failedReason).toMatch(/invalid envelope/);
  });
});

describe("orders", () => {
  it("refuses to change the amount of an order that has payments, and a reference owned by another order", async () => {
    const created = await ledger.putOrder("o-a", { amount: 100, currency: "USD", references: { payram: "ref-a" } });
    expect(created.created).toBe(true);
    const updated = await ledger.putOrder("o-a", { amount: 200, currency: "USD", references: { payram: "ref-a" } });
    expect(updated).toMatchObject({ created: false, order: { amount: 200 } });
    await run({ reference_id: "ref-a", status: "OPEN", amount: 2 });
    await expect(ledger.putOrder("o-a", { amount: 300, currency: "USD" })).rejects.toThrow(/already has payments/);
    await expect(ledger.putOrder("o-b", { amount: 300, currency: "USD", references: { payram: "ref-a" } })).rejects.toThrow(/another order/);
    expect(await ledger.getOrder("o-b")).toBeNull();
  });
});
