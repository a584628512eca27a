/**
 * The order across providers and across time, over HTTP against real ingress and worker
 * processes: each case a real provider can send that once paid an order it should not have, or
 * left unpaid an order that was paid (README, "How an order gets paid"). Payske's, RoboKassa's
 * and Payme's own cases live in their e2e files; these are Payram's and the ones that mix providers.
 */
import { Queue } from "bullmq";
import { QUEUES, type OrderView } from "@payhooks/core";
import { signForTest as signPayram } from "@payhooks/payram";
import { signForTest as signRobokassa } from "@payhooks/robokassa";
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

const PAYRAM_SECRET = "money-payram-project-key";
const RK_PASSWORD1 = "money-rk-pass1";
const RK_PASSWORD2 = "money-rk-pass2";
const ADMIN_TOKEN = "money-admin-token-0123456789";
const PREFIX = "money";

let redis: TestRedis;
let ingress: Awaited<ReturnType<typeof startIngress>>;
let worker: NodeProcess;
let queues: Queue[];
let events: Queue;

beforeAll(async () => {
  redis = await startTestRedis();
  const env = {
    REDIS_URL: redis.url,
    QUEUE_PREFIX: PREFIX,
    PAYRAM_WEBHOOK_SECRET: PAYRAM_SECRET,
    ROBOKASSA_PASSWORD1: RK_PASSWORD1,
    ROBOKASSA_PASSWORD2: RK_PASSWORD2,
    ROBOKASSA_CURRENCY: "USD",
    ROBOKASSA_ORDER_PARAM: "Shp_order_id",
    ADMIN_TOKEN,
  };
  [ingress, worker] = await Promise.all([startIngress(env), startWorker(env)]);
  const q = (name: string) => new Queue(name, { connection: redis.client(), prefix: redis.prefix(PREFIX) });
  queues = [q(QUEUES.payram), q(QUEUES.robokassa)];
  events = q(QUEUES.paymentEvents);
}, 30_000);

afterAll(async () => {
  await Promise.all([...(queues ?? []), events].map((q) => q?.close()));
  await Promise.all([ingress?.proc.stop(), worker?.stop()]);
  await redis?.remove();
});

const admin = () => adminClient(ingress.adminUrl, ADMIN_TOKEN);
const order = (id: string): Promise<OrderView> => admin().getOrder(id) as Promise<OrderView>;
const settled = () => drained(queues);

async function payram(body: Record<string, unknown>): Promise<void> {
  const text = JSON.stringify(body);
  const res = await fetch(`${ingress.url}/webhooks/payram`, { method: "POST", headers: signPayram(text, PAYRAM_SECRET), body: text });
  expect(res.status).toBe(200);
}

async function robokassa(invId: string, outSum: string, orderId: string): Promise<void> {
  const params = signRobokassa({ OutSum: outSum, InvId: invId, Shp_order_id: orderId }, RK_PASSWORD2);
  const res = await fetch(`${ingress.url}/webhooks/robokassa/result`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(params).toString(),
  });
  expect(await res.text()).toBe(`OK${invId}`);
}

describe("a payment made for another amount or currency never pays the order", () => {
  it("a signed Payram FILLED for 0.01 on a 49.99 USD order: recorded, attached, reported as amount_mismatch, order unpaid", async () => {
    expect(await admin().putOrder("m-cent", { amount: 4999, currency: "USD", references: { payram: "ref-cent" } })).toBe(201);
    await payram({ reference_id: "ref-cent", status: "FILLED", amount: "0.01", filled_amount: "0.01", currency: "USD" });
    await settled();
    expect(await order("m-cent")).toMatchObject({
      status: "awaiting_payment",
      paidAmount: 0,
      payments: [{ provider: "payram", providerPaymentId: "ref-cent", requested: 1, settled: 1, counted: 0, mismatch: "amount" }],
    });
    const [e] = await paymentEventsFor(events, "ref-cent");
    expect(e).toMatchObject({ type: "payment.amount_mismatch", orderId: "m-cent", data: { mismatch: { reason: "amount", orderAmount: 4999 } } });
  });

  it("a Payram FILLED for 0.00000001 BTC on a USD order: currency mismatch, order unpaid", async () => {
    expect(await admin().putOrder("m-btc", { amount: 4999, currency: "USD", references: { payram: "ref-btc" } })).toBe(201);
    await payram({ reference_id: "ref-btc", status: "FILLED", amount: "0.00000001", filled_amount: "0.00000001", filled_amount_in_usd: "49.99", currency: "BTC" });
    await settled();
    expect(await order("m-btc")).toMatchObject({ status: "awaiting_payment", paidAmount: 0, payments: [{ mismatch: "currency", counted: 0 }] });
  });

  it("a Payram payment in USDC counts toward a USD order at face value, its market valuation reported but not counted", async () => {
    expect(await admin().putOrder("m-usdc", { amount: 4999, currency: "USD", references: { payram: "ref-usdc" } })).toBe(201);
    await payram({ reference_id: "ref-usdc", status: "FILLED", amount: "49.99", filled_amount: "49.99", filled_amount_in_usd: "49.97", currency: "USDC" });
    await settled();
    expect(await order("m-usdc")).toMatchObject({ status: "paid", paidAmount: 4999 });
    const [e] = await paymentEventsFor(events, "ref-usdc");
    expect(e).toMatchObject({ type: "payment.succeeded", currency: "USDC", amount: 49_990_000, data: { filledAmountUsd: 4997 }, order: { counted: 4999 } });
  });

  it("a Payram payment requested for 49.98 never pays a 49.99 order, whatever it filled", async () => {
    expect(await admin().putOrder("m-short", { amount: 4999, currency: "USD", references: { payram: "ref-short" } })).toBe(201);
    await payram({ reference_id: "ref-short", status: "OVER_FILLED", amount: "49.98", filled_amount: "50.00", currency: "USD" });
    await settled();
    expect(await order("m-short")).toMatchObject({ status: "awaiting_payment", paidAmount: 0 });
  });
});

describe("the order across providers", () => {
  it("a Payram PARTIALLY_FILLED on an order RoboKassa already paid in full makes it overpaid, never partially_paid", async () => {
    expect(await admin().putOrder("m-cross", { amount: 2500, currency: "USD", references: { payram: "ref-cross" } })).toBe(201);
    await robokassa("5101", "25.00", "m-cross");
    await settled();
    expect(await order("m-cross")).toMatchObject({ status: "paid", paidAmount: 2500 });
    await payram({ reference_id: "ref-cross", status: "PARTIALLY_FILLED", amount: "25.00", filled_amount: "10.00", currency: "USD" });
    await settled();
    expect(await order("m-cross")).toMatchObject({ status: "overpaid", paidAmount: 3500 });
    // A late OPEN, and the same partial again, change nothing.
    await payram({ reference_id: "ref-cross", status: "OPEN", amount: "25.00", currency: "USD" });
    await payram({ reference_id: "ref-cross", status: "PARTIALLY_FILLED", amount: "25.00", filled_amount: "10.00", currency: "USD" });
    await settled();
    expect(await order("m-cross")).toMatchObject({ status: "overpaid", paidAmount: 3500 });
  });

  it("a CANCELLED after a partial fill keeps the money that arrived", async () => {
    expect(await admin().putOrder("m-cancel", { amount: 2000, currency: "USD", references: { payram: "ref-cancel" } })).toBe(201);
    await payram({ reference_id: "ref-cancel", status: "PARTIALLY_FILLED", amount: "20.00", filled_amount: "5.00", currency: "USD" });
    await settled();
    await payram({ reference_id: "ref-cancel", status: "CANCELLED", amount: "20.00", currency: "USD" });
    await settled();
    expect(await order("m-cancel")).toMatchObject({ status: "partially_paid", paidAmount: 500 });
  });
});

describe("a payment that arrives before its order", () => {
  it("Payram OPEN then FILLED before the PUT registers the reference: attached by the PUT, paid, the merchant told", async () => {
    await payram({ reference_id: "ref-early", status: "OPEN", amount: "30.00", currency: "USD" });
    await payram({ reference_id: "ref-early", status: "FILLED", amount: "30.00", filled_amount: "30.00", currency: "USD" });
    await settled();
    expect(await admin().putOrder("m-early", { amount: 3000, currency: "USD", references: { payram: "ref-early" } })).toBe(201);
    expect(await order("m-early")).toMatchObject({ status: "paid", paidAmount: 3000 });
    const attached = await waitFor(async () => (await paymentEventsFor(events, "ref-early")).find((e) => e.orderId === "m-early"), "the attach event");
    expect(attached).toMatchObject({ type: "payment.succeeded", data: { attached: true }, order: { status: "paid", paidAmount: 3000 } });
    // The PUT again: nothing counted twice, no second event.
    expect(await admin().putOrder("m-early", { amount: 3000, currency: "USD", references: { payram: "ref-early" } })).toBe(200);
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await paymentEventsFor(events, "ref-early")).filter((e) => e.orderId === "m-early")).toHaveLength(1);
    expect(await order("m-early")).toMatchObject({ status: "paid", paidAmount: 3000 });
  });

  it("a RoboKassa notice whose Shp_order_id names an order created afterwards is attached to it", async () => {
    await robokassa("5102", "12.00", "m-rk-late");
    await settled();
    expect(await admin().putOrder("m-rk-late", { amount: 1200, currency: "USD" })).toBe(201);
    expect(await order("m-rk-late")).toMatchObject({ status: "paid", paidAmount: 1200 });
  });

  it("a second order can never claim a payment another order holds", async () => {
    expect(await admin().putOrder("m-claim-a", { amount: 1000, currency: "USD", references: { payram: "ref-claim" } })).toBe(201);
    expect(await admin().putOrder("m-claim-b", { amount: 1000, currency: "USD", references: { payram: "ref-claim" } })).toBe(409);
    await payram({ reference_id: "ref-claim", status: "FILLED", amount: "10.00", filled_amount: "10.00", currency: "USD" });
    await settled();
    expect(await order("m-claim-a")).toMatchObject({ status: "paid", paidAmount: 1000 });
    await expect(order("m-claim-b")).rejects.toThrow(/404/);
    // An existing order that tries to register the reference later is refused too, and gets nothing.
    expect(await admin().putOrder("m-claim-b", { amount: 1000, currency: "USD" })).toBe(201);
    expect(await admin().putOrder("m-claim-b", { amount: 1000, currency: "USD", references: { payram: "ref-claim" } })).toBe(409);
    expect(await order("m-claim-b")).toMatchObject({ status: "awaiting_payment", payments: [] });
    expect(await order("m-claim-a")).toMatchObject({ status: "paid", paidAmount: 1000 });
  });
});
