/**
 * Two real worker processes race on the same payments: every payment is delivered 6 times
 * under 6 different job ids (as if the queue's own dedup had expired), all at once. The ledger
 * must change once per payment and emit one event per payment, whichever process wins.
 */
import { Queue } from "bullmq";
import { JOB_OPTIONS, QUEUES, createLedger, createRedis, type Envelope, type PaymentEvent, type RedisConnection } from "@payhooks/core";
import { removeRedisServer, startRedisServer, startWorker, waitFor, type NodeProcess, type RedisServer } from "@payhooks/testing";

const PREFIX = "race";
const PAYMENTS = 40;
const COPIES = 6;

let redisServer: RedisServer;
let connection: RedisConnection;
let workers: NodeProcess[] = [];

beforeAll(async () => {
  redisServer = await startRedisServer();
  connection = createRedis(redisServer.url, "worker", "race-test");
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  connection.disconnect();
  await removeRedisServer(redisServer);
});

it("applies each payment once across two worker processes", async () => {
  const ledger = createLedger({ redis: connection, prefix: PREFIX });
  for (let i = 0; i < PAYMENTS; i++) {
    await ledger.putOrder(`order-${i}`, { amount: 1000 + i, currency: "USD", references: { payram: `ref-${i}` } });
  }
  const env = { REDIS_URL: redisServer.url, QUEUE_PREFIX: PREFIX, WORKER_CONCURRENCY: "8", LOG_LEVEL: "warn" };
  // Two processes, both ready before any job exists, so both pull from the start.
  workers = await Promise.all([startWorker({ ...env, LOG_LEVEL: "info" }), startWorker({ ...env, LOG_LEVEL: "info" })]);

  const queue = new Queue(QUEUES.payram, { connection, prefix: PREFIX });
  const jobs = [];
  // All copies of one payment sit next to each other, so they are taken at the same moment.
  for (let i = 0; i < PAYMENTS; i++) {
    for (let copy = 0; copy < COPIES; copy++) {
      const payload = { reference_id: `ref-${i}`, status: "FILLED", amount: ((1000 + i) / 100).toFixed(2), currency: "USD" };
      const envelope: Envelope = { provider: "payram", deliveryId: `d-${i}-${copy}`, receivedAt: 1_700_000_000_000, rawBody: JSON.stringify(payload), payload, headers: {} };
      jobs.push({ name: "payram.notification", data: envelope, opts: { ...JOB_OPTIONS.provider, jobId: `payram-race-${i}-${copy}` } });
    }
  }
  await queue.addBulk(jobs);
  await waitFor(async () => (await queue.getCompletedCount()) === PAYMENTS * COPIES || undefined, "all jobs completed", 30_000);

  const completed = await queue.getJobs(["completed"], 0, -1);
  const outcomes = completed.map((j) => (j.returnvalue as { outcome: string }).outcome);
  expect(outcomes.filter((o) => o === "applied")).toHaveLength(PAYMENTS);
  expect(outcomes.filter((o) => o === "ignored")).toHaveLength(PAYMENTS * (COPIES - 1));
  // Both processes did real work.
  expect(new Set(completed.map((j) => j.processedBy)).size).toBe(2);

  const events = await new Queue(QUEUES.paymentEvents, { connection, prefix: PREFIX }).getJobs(["waiting"], 0, -1);
  const perPayment = new Map<string, number>();
  for (const job of events) {
    const e = job.data as PaymentEvent;
    perPayment.set(e.providerPaymentId, (perPayment.get(e.providerPaymentId) ?? 0) + 1);
  }
  expect(perPayment.size).toBe(PAYMENTS);
  expect([...perPayment.values()].every((n) => n === 1)).toBe(true);

  for (let i = 0; i < PAYMENTS; i++) {
    const order = await ledger.getOrder(`order-${i}`);
    expect(order).toMatchObject({ status: "paid", paidAmount: 1000 + i });
    expect((await ledger.getPayment("payram", `ref-${i}`))!.v).toBe("1");
  }
  await queue.close();
}, 60_000);
