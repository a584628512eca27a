/**
 * Payme's sandbox sequences, black-box over HTTP against real ingress and worker processes and a
 * private redis-server (docs/protocols/payme.md). Orders are created through the admin
 * API; every answer is read as Payme reads it.
 */
import { Queue } from "bullmq";
import { QUEUES } from "@payhooks/core";
import {
  adminClient,
  paymeAuth,
  paymeCall,
  paymeId,
  paymentEventsFor,
  startIngress,
  startTestRedis,
  startWorker,
  waitFor,
  type NodeProcess,
  type TestRedis,
} from "@payhooks/testing";

const KEY = "e2e&%#?@:payme-key-0123456789abcdef"; // real keys carry such characters, and ":" must survive
const TEST_KEY = "e2e-payme-sandbox-key-0123456789ab";
const ADMIN_TOKEN = "e2e-admin-token-0123456789";
const RPC_TIMEOUT_MS = 1_500;
const TWELVE_HOURS = 43_200_000;

let redis: TestRedis;
let ingress: Awaited<ReturnType<typeof startIngress>>;
let worker: NodeProcess | null;
let events: Queue;
let env: Record<string, string>;

beforeAll(async () => {
  redis = await startTestRedis();
  env = {
    REDIS_URL: redis.url,
    QUEUE_PREFIX: "pm",
    PAYME_KEY: KEY,
    PAYME_TEST_KEY: TEST_KEY,
    PAYME_ALLOW_TEST_KEY: "true",
    PAYME_RPC_TIMEOUT_MS: String(RPC_TIMEOUT_MS),
    ADMIN_TOKEN,
  };
  [ingress, worker] = await Promise.all([startIngress(env), startWorker(env)]);
  events = new Queue(QUEUES.paymentEvents, { connection: redis.client(), prefix: redis.prefix("pm") });
}, 30_000);

afterAll(async () => {
  await events?.close();
  await Promise.all([ingress?.proc.stop(), worker?.stop()]);
  await redis?.remove();
});

const call = (method: string, params: Record<string, unknown>, key: string | null = KEY, options = {}) =>
  paymeCall(ingress.url, key, method, params, options);

let orderSeq = 0;
/** A fresh order awaiting payment, in UZS tiyin. */
async function order(amount = 500_000, extra: Record<string, unknown> = {}): Promise<string> {
  const orderId = `ord-${++orderSeq}-${Date.now()}`;
  expect(await adminClient(ingress.adminUrl, ADMIN_TOKEN).putOrder(orderId, { amount, currency: "UZS", ...extra })).toBe(201);
  return orderId;
}

const orderStatus = (orderId: string) => adminClient(ingress.adminUrl, ADMIN_TOKEN).getOrder(orderId);
const eventsOf = (paymeTxId: string) => paymentEventsFor(events, paymeTxId);

const ALL_METHODS: Array<[string, Record<string, unknown>]> = [
  ["CheckPerformTransaction", { amount: 500_000, account: { order_id: "x" } }],
  ["CreateTransaction", { id: "5305e3bab097f420a62ced0b", time: Date.now(), amount: 500_000, account: { order_id: "x" } }],
  ["PerformTransaction", { id: "5305e3bab097f420a62ced0b" }],
  ["CancelTransaction", { id: "5305e3bab097f420a62ced0b", reason: 1 }],
  ["CheckTransaction", { id: "5305e3bab097f420a62ced0b" }],
  ["GetStatement", { from: 0, to: Date.now() }],
  ["ChangePassword", { password: "new-key-that-must-not-be-set" }],
  ["SetFiscalData", { id: "5305e3bab097f420a62ced0b", type: "PERFORM", fiscal_data: { receipt_id: 1 } }],
];

describe("transport and authorization", () => {
  it.each(ALL_METHODS)("answers %s with -32504 for a missing, wrong or wrong-login credential", async (method, params) => {
    for (const [key, login] of [[null, undefined], ["wrong-key", undefined], [KEY, "NotPaycom"], [TEST_KEY.slice(0, -1), undefined]] as const) {
      const res = await call(method, params, key, { id: 4242, ...(login ? { login } : {}) });
      expect(res).toEqual({
        jsonrpc: "2.0",
        id: 4242,
        error: { code: -32504, message: expect.objectContaining({ en: "Insufficient privileges to perform the method" }) },
      });
      expect(res.error!.message.ru).toBe("Недостаточно привилегий для выполнения метода");
      expect(res.error!.message.uz.length).toBeGreaterThan(0);
    }
  });

  it("answers HTTP 200 with -32300 to GET, -32700 (id null) to bad JSON, -32600/-32601 to bad calls", async () => {
    const get = await fetch(`${ingress.url}/webhooks/payme`);
    expect(get.status).toBe(200);
    expect(await get.json()).toMatchObject({ id: null, error: { code: -32300 } });

    const garbage = await fetch(`${ingress.url}/webhooks/payme`, {
      method: "POST",
      headers: { authorization: paymeAuth(KEY), "content-type": "text/json" },
      body: '{"method": "CheckTransaction", "id": 5,',
    });
    expect(garbage.status).toBe(200);
    expect(await garbage.json()).toMatchObject({ id: null, error: { code: -32700 } });

    const noParams = await fetch(`${ingress.url}/webhooks/payme`, {
      method: "POST",
      headers: { authorization: paymeAuth(KEY) },
      body: JSON.stringify({ method: "CheckTransaction", id: 6 }),
    });
    expect(await noParams.json()).toMatchObject({ id: 6, error: { code: -32600 } });

    expect(await call("DoSomethingElse", {}, KEY, { id: 7 })).toMatchObject({ id: 7, error: { code: -32601, data: "DoSomethingElse" } });
    expect(await call("checkTransaction", { id: "a" }, KEY, { id: 8 })).toMatchObject({ error: { code: -32601 } });
    expect(await call("PerformTransaction", { id: 123 }, KEY, { id: 9 })).toMatchObject({ id: 9, error: { code: -32600, data: "id" } });
    expect(await call("CancelTransaction", { id: paymeId(), reason: 7 })).toMatchObject({ error: { code: -32600, data: "reason" } });
  });
});

describe("the sandbox's sequences", () => {
  it("refuses a wrong amount (-31001) and an unknown account (-31050, data = the field, localized)", async () => {
    const orderId = await order(500_000);
    expect(await call("CheckPerformTransaction", { amount: 499_999, account: { order_id: orderId } })).toMatchObject({
      error: { code: -31001 },
    });
    expect(
      await call("CreateTransaction", { id: paymeId(), time: Date.now(), amount: 500_001, account: { order_id: orderId } }),
    ).toMatchObject({ error: { code: -31001 } });
    const unknown = await call("CheckPerformTransaction", { amount: 500_000, account: { order_id: "no-such-order" } });
    expect(unknown.error).toMatchObject({ code: -31050, data: "order_id" });
    expect(unknown.error!.message).toEqual({ ru: expect.any(String), uz: expect.any(String), en: expect.any(String) });
    expect(await call("CreateTransaction", { id: paymeId(), time: Date.now(), amount: 500_000, account: {} })).toMatchObject({
      error: { code: -31050, data: "order_id" },
    });
    expect(await call("CheckPerformTransaction", { amount: 500_000, account: { order_id: orderId } })).toEqual({
      jsonrpc: "2.0",
      id: expect.any(Number),
      result: { allow: true },
    });
    expect((await orderStatus(orderId)).status).toBe("awaiting_payment");
  });

  it("create / repeat create / perform / repeat perform / check: repeats are byte-for-byte the first answer", async () => {
    const orderId = await order(750_000);
    const id = paymeId();
    const time = Date.now();
    const create = await call("CreateTransaction", { id, time, amount: 750_000, account: { order_id: orderId } });
    expect(create.result).toEqual({ create_time: expect.any(Number), transaction: expect.any(String), state: 1 });
    expect((await orderStatus(orderId)).status).toBe("reserved");
    await new Promise((r) => setTimeout(r, 5)); // a recomputed time would differ now
    const repeat = await call("CreateTransaction", { id, time, amount: 750_000, account: { order_id: orderId } });
    expect(JSON.stringify(repeat.result)).toBe(JSON.stringify(create.result));

    const perform = await call("PerformTransaction", { id });
    expect(perform.result).toEqual({ transaction: create.result!["transaction"], perform_time: expect.any(Number), state: 2 });
    expect(perform.result!["perform_time"]).toBeGreaterThanOrEqual(create.result!["create_time"] as number);
    await new Promise((r) => setTimeout(r, 5));
    const again = await call("PerformTransaction", { id });
    expect(JSON.stringify(again.result)).toBe(JSON.stringify(perform.result));

    const check = await call("CheckTransaction", { id });
    expect(check.result).toEqual({
      create_time: create.result!["create_time"],
      perform_time: perform.result!["perform_time"],
      cancel_time: 0,
      transaction: create.result!["transaction"],
      state: 2,
      reason: null,
    });
    expect(await orderStatus(orderId)).toMatchObject({ status: "paid", paidAmount: 750_000 });
    // Create after perform is not a repeat any more.
    expect(await call("CreateTransaction", { id, time, amount: 750_000, account: { order_id: orderId } })).toMatchObject({
      error: { code: -31008 },
    });
    const emitted = await waitFor(async () => {
      const e = await eventsOf(id);
      return e.length >= 2 ? e : undefined;
    }, "two events");
    expect(emitted.map((e) => e.type).sort()).toEqual(["payment.pending", "payment.succeeded"]);
    expect(emitted.every((e) => e.orderId === orderId && e.amount === 750_000 && e.currency === "UZS" && e.livemode)).toBe(true);
  });

  it("create / cancel / repeat cancel / check: the first cancel's time and reason stay", async () => {
    const orderId = await order();
    const id = paymeId();
    await call("CreateTransaction", { id, time: Date.now(), amount: 500_000, account: { order_id: orderId } });
    const cancel = await call("CancelTransaction", { id, reason: 3 });
    expect(cancel.result).toEqual({ transaction: expect.any(String), cancel_time: expect.any(Number), state: -1 });
    await new Promise((r) => setTimeout(r, 5));
    const repeat = await call("CancelTransaction", { id, reason: 5 });
    expect(JSON.stringify(repeat.result)).toBe(JSON.stringify(cancel.result));
    expect((await call("CheckTransaction", { id })).result).toMatchObject({ state: -1, reason: 3, perform_time: 0, cancel_time: cancel.result!["cancel_time"] });
    expect(await call("PerformTransaction", { id })).toMatchObject({ error: { code: -31008 } });
    expect((await orderStatus(orderId)).status).toBe("awaiting_payment");
  });

  it("create / perform / cancel (refund) / check on a refundable order; -31007 when it is not", async () => {
    const refundable = await order(500_000, { refundable: true });
    const id = paymeId();
    await call("CreateTransaction", { id, time: Date.now(), amount: 500_000, account: { order_id: refundable } });
    const perform = await call("PerformTransaction", { id });
    const cancel = await call("CancelTransaction", { id, reason: 5 });
    expect(cancel.result).toMatchObject({ state: -2 });
    expect((await call("CheckTransaction", { id })).result).toEqual({
      create_time: expect.any(Number),
      perform_time: perform.result!["perform_time"],
      cancel_time: cancel.result!["cancel_time"],
      transaction: perform.result!["transaction"],
      state: -2,
      reason: 5,
    });
    expect(await orderStatus(refundable)).toMatchObject({ status: "refunded", paidAmount: 0 });

    const final = await order(500_000);
    const id2 = paymeId();
    await call("CreateTransaction", { id: id2, time: Date.now(), amount: 500_000, account: { order_id: final } });
    await call("PerformTransaction", { id: id2 });
    expect(await call("CancelTransaction", { id: id2, reason: 5 })).toMatchObject({ error: { code: -31007 } });
    expect((await call("CheckTransaction", { id: id2 })).result).toMatchObject({ state: 2, cancel_time: 0, reason: null });
    expect((await orderStatus(final)).status).toBe("paid");
  });

  it("refuses a second transaction on a busy order with -31008 and records nothing", async () => {
    const orderId = await order();
    const first = paymeId();
    const second = paymeId();
    const time = Date.now();
    expect((await call("CreateTransaction", { id: first, time, amount: 500_000, account: { order_id: orderId } })).result).toMatchObject({ state: 1 });
    expect(await call("CheckPerformTransaction", { amount: 500_000, account: { order_id: orderId } })).toMatchObject({ error: { code: -31008 } });
    expect(await call("CreateTransaction", { id: second, time, amount: 500_000, account: { order_id: orderId } })).toMatchObject({
      error: { code: -31008 },
    });
    expect(await call("CheckTransaction", { id: second })).toMatchObject({ error: { code: -31003 } });
    // Once the first is cancelled, the order takes a new transaction.
    await call("CancelTransaction", { id: first, reason: 3 });
    expect((await call("CreateTransaction", { id: second, time, amount: 500_000, account: { order_id: orderId } })).result).toMatchObject({ state: 1 });
  });

  it("GetStatement: inclusive bounds on Payme's time, ascending, every created transaction in any state, never a refused one", async () => {
    const base = Date.now() - 60_000;
    const ids = [paymeId(), paymeId(), paymeId()];
    const orders = [await order(), await order(), await order()];
    // Created out of time order: the statement sorts by Payme's time, not by arrival.
    for (const i of [2, 0, 1]) {
      await call("CreateTransaction", { id: ids[i], time: base + i * 1_000, amount: 500_000, account: { order_id: orders[i] } });
    }
    await call("PerformTransaction", { id: ids[1] });
    await call("CancelTransaction", { id: ids[2], reason: 1 });
    const refused = paymeId();
    await call("CreateTransaction", { id: refused, time: base + 500, amount: 1, account: { order_id: orders[0] } });

    const all = await call("GetStatement", { from: base, to: base + 2_000 });
    const rows = all.result!["transactions"] as Array<Record<string, unknown>>;
    expect(rows.map((r) => r["id"])).toEqual(ids);
    expect(rows.map((r) => r["state"])).toEqual([1, 2, -1]);
    expect(rows[0]).toEqual({
      id: ids[0],
      time: base,
      amount: 500_000,
      account: { order_id: orders[0] },
      create_time: expect.any(Number),
      perform_time: 0,
      cancel_time: 0,
      transaction: expect.any(String),
      state: 1,
      reason: null,
    });
    const inner = (await call("GetStatement", { from: base + 1, to: base + 1_999 })).result!["transactions"] as Array<{ id: string }>;
    expect(inner.map((r) => r.id)).toEqual([ids[1]]);
    const edges = (await call("GetStatement", { from: base + 1_000, to: base + 1_000 })).result!["transactions"] as Array<{ id: string }>;
    expect(edges.map((r) => r.id)).toEqual([ids[1]]);
    expect(await call("GetStatement", { from: base + 2_000, to: base })).toMatchObject({ result: { transactions: [] } });
    expect(await call("GetStatement", { from: base })).toMatchObject({ error: { code: -32600, data: "to" } });
    // The sandbox's statement is its own.
    expect(await call("GetStatement", { from: base, to: base + 2_000 }, TEST_KEY)).toMatchObject({ result: { transactions: [] } });
  });

  it("SetFiscalData stores the receipt with the transaction, idempotently; unknown id -31003", async () => {
    const orderId = await order();
    const id = paymeId();
    await call("CreateTransaction", { id, time: Date.now(), amount: 500_000, account: { order_id: orderId } });
    await call("PerformTransaction", { id });
    const fiscal = { receipt_id: 121, status_code: 0, terminal_id: "EP000000000025", fiscal_sign: "123", qr_code_url: "https://ofd.soliq.uz/x", date: "20220706221021" };
    expect(await call("SetFiscalData", { id, type: "PERFORM", fiscal_data: fiscal })).toMatchObject({ result: { success: true } });
    expect(await call("SetFiscalData", { id, type: "PERFORM", fiscal_data: fiscal })).toMatchObject({ result: { success: true } });
    expect(await call("SetFiscalData", { id: paymeId(), type: "PERFORM", fiscal_data: fiscal })).toMatchObject({ error: { code: -31003 } });
    expect(await call("SetFiscalData", { id, type: "REFUND", fiscal_data: fiscal })).toMatchObject({ error: { code: -32600, data: "type" } });
  });

  it("never lets the sandbox key reserve or pay a live order (-31050), nor the live key a test order", async () => {
    const live = await order();
    const account = { order_id: live };
    expect(await call("CheckPerformTransaction", { amount: 500_000, account }, TEST_KEY)).toMatchObject({ error: { code: -31050, data: "order_id" } });
    expect(await call("CreateTransaction", { id: paymeId(), time: Date.now(), amount: 500_000, account }, TEST_KEY)).toMatchObject({ error: { code: -31050 } });
    expect(await orderStatus(live)).toMatchObject({ status: "awaiting_payment", payments: [] });
    const test = await order(500_000, { livemode: false });
    expect(await call("CheckPerformTransaction", { amount: 500_000, account: { order_id: test } })).toMatchObject({ error: { code: -31050 } });
  });

  it("keeps sandbox (TEST_KEY) transactions apart: livemode false, invisible to the live key, paying only a test order", async () => {
    const orderId = await order(500_000, { livemode: false });
    const id = paymeId();
    const created = await call("CreateTransaction", { id, time: Date.now(), amount: 500_000, account: { order_id: orderId } }, TEST_KEY);
    expect(created.result).toMatchObject({ state: 1 });
    expect(await call("CheckTransaction", { id })).toMatchObject({ error: { code: -31003 } });
    expect(await call("PerformTransaction", { id })).toMatchObject({ error: { code: -31003 } });
    expect((await call("PerformTransaction", { id }, TEST_KEY)).result).toMatchObject({ state: 2 });
    const emitted = await waitFor(async () => {
      const e = await eventsOf(id);
      return e.length >= 2 ? e : undefined;
    }, "sandbox events");
    expect(emitted.map((e) => e.livemode)).toEqual([false, false]);
    expect(await orderStatus(orderId)).toMatchObject({ livemode: false, status: "paid", paidAmount: 500_000 });
  });
});

describe("time and availability", () => {
  it("cancels a state-1 transaction past 12 hours (reason 4) when Perform arrives, and answers -31008", async () => {
    const orderId = await order();
    const id = paymeId();
    const created = await call("CreateTransaction", { id, time: Date.now(), amount: 500_000, account: { order_id: orderId } });
    expect(created.result).toMatchObject({ state: 1 });

    // The worker's clock moves 12 hours and a millisecond on; nobody sleeps.
    await worker!.stop();
    worker = await startWorker({ ...env, NODE_ENV: "test", CLOCK_OFFSET_MS: String(TWELVE_HOURS + 1_000) });
    expect(await call("PerformTransaction", { id })).toMatchObject({ error: { code: -31008 } });
    const check = await call("CheckTransaction", { id });
    expect(check.result).toMatchObject({ state: -1, reason: 4, perform_time: 0 });
    expect(check.result!["cancel_time"]).toBeGreaterThan((created.result!["create_time"] as number) + TWELVE_HOURS);
    expect((await orderStatus(orderId)).status).toBe("awaiting_payment");
    // A Create whose Payme time is already 12 hours old is refused outright.
    expect(
      await call("CreateTransaction", { id: paymeId(), time: Date.now() - 1_000, amount: 500_000, account: { order_id: orderId } }),
    ).toMatchObject({ error: { code: -31008 } });

    await worker.stop();
    worker = await startWorker(env);
  });

  it("answers -32400 within the bound while no worker runs; the same call succeeds once one does, and the stale job is not acted on", async () => {
    const orderId = await order();
    const id = paymeId();
    const params = { id, time: Date.now(), amount: 500_000, account: { order_id: orderId } };
    await worker!.stop();
    worker = null;
    const started = Date.now();
    const unanswered = await call("CreateTransaction", params, KEY, { id: 77 });
    const waited = Date.now() - started;
    expect(unanswered).toMatchObject({ id: 77, error: { code: -32400 } });
    expect(waited).toBeGreaterThanOrEqual(RPC_TIMEOUT_MS - 50);
    expect(waited).toBeLessThan(RPC_TIMEOUT_MS + 3_000);

    worker = await startWorker(env);
    const answered = await call("CreateTransaction", params);
    expect(answered.result).toMatchObject({ state: 1 });
    // The job enqueued while no worker ran was past its replyBy when the worker found it: not acted on.
    const calls = new Queue(QUEUES.payme, { connection: redis.client(), prefix: redis.prefix("pm") });
    const stale = (await calls.getJobs(["completed"], 0, -1)).find((j) => (j.data as { payload: { id: number } }).payload.id === 77);
    await calls.close();
    expect(stale?.returnvalue).toEqual({ late: true });
    const emitted = await waitFor(async () => {
      const e = await eventsOf(id);
      return e.length >= 1 ? e : undefined;
    }, "pending event");
    await new Promise((r) => setTimeout(r, 300));
    expect((await eventsOf(id)).map((e) => e.type)).toEqual(["payment.pending"]);
    expect(emitted[0]!.occurredAt).toBe(new Date(answered.result!["create_time"] as number).toISOString());
  });

  it("never logs or stores a key or the Authorization header", async () => {
    const calls = new Queue(QUEUES.payme, { connection: redis.client(), prefix: redis.prefix("pm") });
    const jobs = await calls.getJobs(["completed"], 0, 50);
    await calls.close();
    expect(jobs.length).toBeGreaterThan(10);
    const stored = JSON.stringify(jobs.map((j) => j.data));
    const logs = ingress.proc.output() + worker!.output();
    for (const text of [stored, logs]) {
      expect(text).not.toContain(KEY);
      expect(text).not.toContain(TEST_KEY);
      expect(text).not.toContain(paymeAuth(KEY).slice(6));
      expect(text).not.toContain("authorization");
    }
  });
});

describe("Redis down (last: the private Redis restarts empty)", () => {
  it("answers -32400 at once while Redis is down, and answers through the queue again once it is back", async () => {
    await redis.stop("SIGKILL");
    const started = Date.now();
    const down = await call("CheckPerformTransaction", { amount: 500_000, account: { order_id: "any" } }, KEY, { id: 90 });
    expect(down).toMatchObject({ id: 90, error: { code: -32400 } });
    // Refused by the fail-fast producer connection, not left to run into the RPC bound.
    expect(Date.now() - started).toBeLessThan(RPC_TIMEOUT_MS);

    await redis.restart();
    // Producer, QueueEvents and worker reconnect on their own; -31050 can only come from a worker.
    const answered = await waitFor(async () => {
      const r = await call("CheckPerformTransaction", { amount: 500_000, account: { order_id: "gone" } }, KEY, { id: 91 });
      return r.error?.code === -31050 ? r : undefined;
    }, "an answer through the queue after Redis came back", 15_000);
    expect(answered).toMatchObject({ id: 91, error: { code: -31050, data: "order_id" } });
  });
});
