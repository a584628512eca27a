/**
 * Payme calls racing across two real worker processes behind one real ingress
 * (docs/protocols/payme.md#retries-and-idempotency): Perform ∥ Cancel, Create ∥ Create on one
 * order and Perform ∥ Perform each end in one state that every answer, the ledger, the order and
 * the emitted PaymentEvents agree on.
 */
import { Queue } from "bullmq";
import { QUEUES, createLedger, createRedis, type PaymentEvent, type RedisConnection } from "@payhooks/core";
import {
  paymeCall,
  paymeId,
  removeRedisServer,
  startIngress,
  startRedisServer,
  startWorker,
  type NodeProcess,
  type PaymeResponse,
  type RedisServer,
} from "@payhooks/testing";

const PREFIX = "pmrace";
const KEY = "race-payme-key-0123456789abcdefghij";
const AMOUNT = 120_000;

let redisServer: RedisServer;
let connection: RedisConnection;
let ingress: Awaited<ReturnType<typeof startIngress>>;
let workers: NodeProcess[] = [];
let ledger: ReturnType<typeof createLedger>;

beforeAll(async () => {
  redisServer = await startRedisServer();
  connection = createRedis(redisServer.url, "worker", "payme-race-test");
  ledger = createLedger({ redis: connection, prefix: PREFIX });
  const env = { REDIS_URL: redisServer.url, QUEUE_PREFIX: PREFIX, PAYME_KEY: KEY, WORKER_CONCURRENCY: "8", LOG_LEVEL: "warn" };
  [ingress, ...workers] = await Promise.all([
    startIngress({ ...env, LOG_LEVEL: "info" }),
    startWorker({ ...env, LOG_LEVEL: "info" }),
    startWorker({ ...env, LOG_LEVEL: "info" }),
  ]);
}, 30_000);

afterAll(async () => {
  await Promise.all([ingress?.proc.stop(), ...workers.map((w) => w.stop())]);
  connection.disconnect();
  await removeRedisServer(redisServer);
});

const call = (method: string, params: Record<string, unknown>) => paymeCall(ingress.url, KEY, method, params);

async function createdTransaction(orderId: string, refundable: boolean): Promise<string> {
  await ledger.putOrder(orderId, { amount: AMOUNT, currency: "UZS", refundable });
  const id = paymeId();
  const created = await call("CreateTransaction", { id, time: Date.now(), amount: AMOUNT, account: { order_id: orderId } });
  expect(created.result).toMatchObject({ state: 1 });
  return id;
}

async function eventsByPayment(): Promise<Map<string, string[]>> {
  const queue = new Queue(QUEUES.paymentEvents, { connection, prefix: PREFIX });
  const jobs = await queue.getJobs(["waiting", "active", "completed", "delayed"], 0, -1, true);
  await queue.close();
  const byPayment = new Map<string, string[]>();
  for (const job of jobs) {
    const e = job.data as PaymentEvent;
    byPayment.set(e.providerPaymentId, [...(byPayment.get(e.providerPaymentId) ?? []), e.type].sort());
  }
  return byPayment;
}

const code = (r: PaymeResponse) => r.error?.code;

it("Perform ∥ Cancel, 50 rounds: one winner each time, and answers, ledger, order and events agree", async () => {
  const rounds = [];
  for (let i = 0; i < 50; i++) {
    const orderId = `pc-${i}`;
    const refundable = i % 2 === 0;
    const id = await createdTransaction(orderId, refundable);
    const [perform, cancel] = await Promise.all([call("PerformTransaction", { id }), call("CancelTransaction", { id, reason: 3 })]);
    rounds.push({ orderId, refundable, id, perform, cancel, check: await call("CheckTransaction", { id }) });
  }
  const events = await eventsByPayment();
  let performedFirst = 0;
  for (const r of rounds) {
    const order = await ledger.getOrderRecord(r.orderId);
    const state = r.check.result!["state"];
    if (r.perform.result) {
      // Perform won: the cancel came after it — a refund, or refused on a final order.
      performedFirst++;
      expect(r.perform.result["state"]).toBe(2);
      if (r.refundable) {
        expect(r.cancel.result).toMatchObject({ state: -2 });
        expect(state).toBe(-2);
        expect(order).toMatchObject({ status: "refunded", paidAmount: 0 });
        expect(events.get(r.id)).toEqual(["payment.pending", "payment.refunded", "payment.succeeded"]);
      } else {
        expect(code(r.cancel)).toBe(-31007);
        expect(state).toBe(2);
        expect(order).toMatchObject({ status: "paid", paidAmount: AMOUNT });
        expect(events.get(r.id)).toEqual(["payment.pending", "payment.succeeded"]);
      }
      expect(r.check.result!["perform_time"]).toBe(r.perform.result["perform_time"]);
    } else {
      // Cancel won: the transaction never performs and the order is free again.
      expect(code(r.perform)).toBe(-31008);
      expect(r.cancel.result).toMatchObject({ state: -1 });
      expect(r.check.result).toMatchObject({ state: -1, perform_time: 0, reason: 3, cancel_time: r.cancel.result!["cancel_time"] });
      expect(order).toMatchObject({ status: "awaiting_payment", paidAmount: 0 });
      expect(events.get(r.id)).toEqual(["payment.cancelled", "payment.pending"]);
    }
  }
  // Both orders of arrival happen; neither is a foregone conclusion of the test's ordering.
  console.info(`Perform won ${performedFirst} of ${rounds.length} rounds`);
}, 60_000);

it("Create ∥ Create with different ids on one order: exactly one transaction lives, the other is refused and unrecorded", async () => {
  for (let i = 0; i < 20; i++) {
    const orderId = `cc-${i}`;
    await ledger.putOrder(orderId, { amount: AMOUNT, currency: "UZS" });
    const ids = [paymeId(), paymeId(), paymeId()];
    const time = Date.now();
    const answers = await Promise.all(
      ids.map((id) => call("CreateTransaction", { id, time, amount: AMOUNT, account: { order_id: orderId } })),
    );
    const winners = answers.flatMap((a, n) => (a.result ? [ids[n]!] : []));
    expect(winners).toHaveLength(1);
    expect(answers.filter((a) => code(a) === -31008)).toHaveLength(2);
    expect((await ledger.getOrderRecord(orderId))!.status).toBe("reserved");
    for (const id of ids) {
      const payment = await ledger.getPayment("payme", id);
      expect(payment === null).toBe(id !== winners[0]);
    }
  }
  const statement = await call("GetStatement", { from: 0, to: Date.now() });
  const listed = (statement.result!["transactions"] as Array<{ account: { order_id: string } }>).filter((t) =>
    t.account.order_id.startsWith("cc-"),
  );
  expect(listed).toHaveLength(20);
}, 60_000);

it("Perform ∥ Perform: one perform_time for every answer and one payment.succeeded", async () => {
  for (let i = 0; i < 20; i++) {
    const id = await createdTransaction(`pp-${i}`, false);
    const answers = await Promise.all([1, 2, 3].map(() => call("PerformTransaction", { id })));
    const times = new Set(answers.map((a) => a.result!["perform_time"]));
    expect(times.size).toBe(1);
    expect((await ledger.getOrderRecord(`pp-${i}`))!.paidAmount).toBe(AMOUNT);
  }
  const events = await eventsByPayment();
  const performed = [...events.entries()].filter(([, types]) => types.includes("payment.succeeded") && types.length === 2);
  expect(performed.length).toBeGreaterThanOrEqual(20);
  for (const [, types] of events) expect(types.filter((t) => t === "payment.succeeded").length).toBeLessThanOrEqual(1);
}, 60_000);

it("spread the calls over both worker processes", async () => {
  const queue = new Queue(QUEUES.payme, { connection, prefix: PREFIX });
  const jobs = await queue.getJobs(["completed"], 0, -1);
  await queue.close();
  const processes = new Set(jobs.map((j) => j.processedBy).filter(Boolean));
  expect(processes.size).toBe(2);
});
