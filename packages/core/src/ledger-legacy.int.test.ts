import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startTestRedis, type TestRedis } from "@payhooks/testing";
import { LedgerConflictError } from "./errors";
import { createLedger, type Ledger, type OrderRecord, type PaymentRecord } from "./ledger";
import type { OrderStatus, PaymentFacts } from "./order-model";
import type { ProviderId } from "./provider";
import type { RedisConnection } from "./redis";

/**
 * A dump of every ledger key the previous main (f3a04fc, before the order model) wrote for a set
 * of orders and payments of every provider (fixtures/legacy-ledger-gen.js.txt wrote it), and
 * each order's status and paid amount as that version reported them.
 */
type Dump = {
  generatedBy: string;
  orders: Record<string, { status: OrderStatus; paidAmount: number; payments: number }>;
  keys: Record<string, { hash: Record<string, string> } | { set: string[] } | { zset: string[] } | { string: string }>;
};
const dump = JSON.parse(readFileSync(join(__dirname, "..", "fixtures", "ledger-f3a04fc.json"), "utf8")) as Dump;
const DUMP_PREFIX = "payhooks";

/**
 * Where the new model reports an order differently. `ps-partref` was paid 5000 EUR, then 1500 was
 * refunded: the old version kept its status `paid` (it only lowered paidAmount to 3500), the new
 * one derives `partially_refunded` — between zero and the amount once money was given back. The
 * money is the same (3500); only the name of the status changed, as the order model intends.
 */
const NEW_STATUS: Record<string, OrderStatus> = { "ps-partref": "partially_refunded" };

const T0 = Date.parse("2026-12-01T00:00:00Z");

let testRedis: TestRedis;
let redis: RedisConnection;
let prefix: string;
let ledger: Ledger;

/** The dump's payment hashes: [provider, providerPaymentId, hash]. */
const legacyPayments = Object.entries(dump.keys).flatMap(([k, v]) => {
  const m = /^payhooks:ledger:payment:([^:]+):([^:]+)$/.exec(k);
  return m && "hash" in v ? [[m[1] as ProviderId, m[2]!, v.hash] as const] : [];
});

async function loadDump(): Promise<void> {
  const pipeline = redis.pipeline();
  for (const [k, v] of Object.entries(dump.keys)) {
    const target = `${prefix}${k.slice(DUMP_PREFIX.length)}`;
    if ("hash" in v) pipeline.hset(target, v.hash);
    else if ("set" in v) pipeline.sadd(target, ...v.set);
    else if ("zset" in v) {
      const args: string[] = [];
      for (let i = 0; i < v.zset.length; i += 2) args.push(v.zset[i + 1]!, v.zset[i]!); // dumped as member, score
      pipeline.zadd(target, ...args);
    } else pipeline.set(target, v.string);
  }
  for (const [err] of (await pipeline.exec()) ?? []) if (err) throw err;
}

beforeAll(async () => {
  testRedis = await startTestRedis();
  redis = testRedis.client("ledger-legacy-test");
  prefix = testRedis.prefix(DUMP_PREFIX);
});

afterAll(async () => {
  await testRedis.remove();
});

beforeEach(async () => {
  await redis.flushall();
  await loadDump();
  ledger = createLedger({ redis, prefix, now: () => T0 });
});

const paymentKey = (provider: string, id: string) => `${prefix}:ledger:payment:${provider}:${id}`;

it("the dump holds what this test expects", () => {
  expect(dump.generatedBy).toBe("main at f3a04fc");
  expect(Object.keys(dump.orders)).toHaveLength(16);
  expect(legacyPayments).toHaveLength(16);
  // the old version never attached a payment whose order it created afterwards
  expect(dump.orders["created-after"]).toEqual({ status: "awaiting_payment", paidAmount: 0, payments: 0 });
  expect(dump.orders["ps-partref"]).toEqual({ status: "paid", paidAmount: 3500, payments: 1 });
  // nothing was waiting in the old outbox
  expect(Object.keys(dump.keys).filter((k) => k.endsWith(":outbox"))).toEqual([]);
});

describe("a ledger written by f3a04fc, read by the order model", () => {
  test.each(Object.entries(dump.orders))("order %s keeps its paid amount and status", async (orderId, old) => {
    const order = await ledger.getOrder(orderId);
    expect(order).not.toBeNull();
    expect(order!.paidAmount).toBe(old.paidAmount);
    expect(order!.status).toBe(NEW_STATUS[orderId] ?? old.status);
    expect(order!.payments).toHaveLength(old.payments);
    // what its payments count adds up to the paid amount
    expect(order!.payments.reduce((sum, p) => sum + p.counted, 0)).toBe(old.paidAmount);
  });

  it("keeps a USD order the old version saw paid in USDC paid: the order's amount is restated in the stablecoin's units", async () => {
    expect(await ledger.getOrder("pr-usdc")).toMatchObject({
      status: "paid",
      paidAmount: 4999,
      payments: [expect.objectContaining({ currency: "USDC", requested: 49_990_000, settled: 49_990_000, counted: 4999 })],
    });
  });

  it("attaches a payment the old version recorded before its order when the order is created after the upgrade", async () => {
    // The old version kept no waiting sets: a worker's start-up indexes such payments once, and
    // enters every payment and order in the activity index the retention compaction reads.
    expect(await ledger.upgradeLedger()).toEqual({ waiting: 2, activity: 16 + 16 });
    expect(await ledger.upgradeLedger()).toEqual({ waiting: 0, activity: 0 }); // once per ledger
    const put = await ledger.putOrder("after-upgrade", { amount: 2500, currency: "USD" });
    expect(put.order).toMatchObject({ status: "paid", paidAmount: 2500, payments: [expect.objectContaining({ providerPaymentId: "pi_early", counted: 2500 })] });
    expect(put.events.map((e) => [e.type, e.orderId])).toEqual([["payment.succeeded", "after-upgrade"]]);
  });

  it("after the upgrade, the retention compaction reaches the old ledger's settled orders and payments and keeps their totals", async () => {
    await ledger.upgradeLedger();
    const later = createLedger({ redis, prefix, now: () => T0 + 401 * 86_400_000 });
    const compacted = await later.compact(400 * 86_400_000);
    // every old payment and order, the never-created one too (after the retention its waiting set
    // goes), but the order the upgrade attached a payment to: it changed at the upgrade, and its
    // event is still in the outbox
    expect(compacted).toMatchObject({ payments: 15, orders: 15 });
    for (const [orderId, old] of Object.entries(dump.orders)) {
      const paid = orderId === "created-after" ? 1800 : old.paidAmount;
      expect([orderId, (await later.getOrder(orderId))!.paidAmount]).toEqual([orderId, paid]);
    }
  });

  it("attaches, at the upgrade, a payment the old version recorded before an order it created afterwards", async () => {
    expect(await ledger.getOrder("created-after")).toMatchObject({ status: "awaiting_payment", payments: [] });
    await ledger.upgradeLedger();
    expect(await ledger.getOrder("created-after")).toMatchObject({
      status: "paid",
      paidAmount: 1800,
      payments: [expect.objectContaining({ providerPaymentId: "pi_before", counted: 1800 })],
    });
    // the merchant is told, as a PUT would tell it
    expect((await ledger.dueEvents()).map((e) => [e.type, e.orderId, e.providerPaymentId])).toEqual([["payment.succeeded", "created-after", "pi_before"]]);
  });

  it("reports ps-partref (paid 5000 EUR, then 1500 refunded) as partially_refunded with the same 3500 paid", async () => {
    expect(dump.orders["ps-partref"]!.status).toBe("paid");
    const order = await ledger.getOrder("ps-partref");
    expect(order).toMatchObject({ amount: 5000, currency: "EUR", paidAmount: 3500, status: "partially_refunded" });
    expect(order!.payments).toEqual([
      expect.objectContaining({ provider: "payske", providerPaymentId: "pi_2", status: "refunded", settled: 5000, refunded: 1500, counted: 3500, mismatch: null }),
    ]);
  });

  it("reads the payment recorded before its order as not attached, naming its order", async () => {
    expect(await ledger.getPayment("payske", "pi_early")).toMatchObject({ orderId: "after-upgrade", attached: false, facts: { settled: 2500 } });
  });

  test.each(legacyPayments.filter(([, id]) => id !== "pi_early" && id !== "pi_before").map(([provider, id, h]) => [`${provider}/${id}`, provider, id, h] as const))(
    "payment %s is listed on its order and read by getPayment",
    async (_member, provider, id, h) => {
      const payment = await ledger.getPayment(provider, id);
      expect(payment).toMatchObject({ provider, providerPaymentId: id, orderId: h["orderId"], attached: true, at: h["at"], providerStatus: h["status"] });
      expect(payment!.state).toEqual(JSON.parse(h["state"]!));
      const order = await ledger.getOrder(h["orderId"]!);
      expect(order!.payments.filter((p) => p.provider === provider && p.providerPaymentId === id)).toEqual([
        expect.objectContaining({ status: payment!.facts.status, settled: payment!.facts.settled, refunded: payment!.facts.refunded, currency: payment!.facts.currency }),
      ]);
      // and it counts exactly what the old version said it contributed
      const view = order!.payments.find((p) => p.providerPaymentId === id)!;
      expect(view.counted).toBe(Number(h["contribution"]));
    },
  );

  test.each<[string, ProviderId, string, PaymentFacts, string | null]>([
    ["Payme performed", "payme", "5305e3bab097f420a62ced01", { status: "succeeded", currency: "UZS", requested: 500_000, settled: 500_000, refunded: 0, livemode: true }, null],
    ["Payme created (held)", "payme", "5305e3bab097f420a62ced02", { status: "held", currency: "UZS", requested: 300_000, settled: 0, refunded: 0, livemode: true }, null],
    ["Payme refunded", "payme", "5305e3bab097f420a62ced03", { status: "refunded", currency: "UZS", requested: 200_000, settled: 200_000, refunded: 200_000, livemode: true }, null],
    ["Payme cancelled", "payme", "5305e3bab097f420a62ced04", { status: "cancelled", currency: "UZS", requested: 100_000, settled: 0, refunded: 0, livemode: true }, null],
    ["Payram partial", "payram", "ref-partial", { status: "partially_paid", currency: "USD", requested: 10_000, settled: 4000, refunded: 0, livemode: true }, null],
    ["Payram overfilled", "payram", "ref-over", { status: "overpaid", currency: "USD", requested: 2000, settled: 2500, refunded: 0, livemode: true }, null],
    ["Payske part refunded", "payske", "pi_2", { status: "refunded", currency: "EUR", requested: 5000, settled: 5000, refunded: 1500, livemode: true }, null],
    ["Payske failed", "payske", "pi_4", { status: "failed", currency: "USD", requested: 1200, settled: 0, refunded: 0, livemode: true }, null],
    ["RoboKassa paid", "robokassa", "7001", { status: "succeeded", currency: "RUB", requested: 150_000, settled: 150_000, refunded: 0, livemode: true }, null],
    ["RoboKassa amount mismatch", "robokassa", "7002", { status: "succeeded", currency: "RUB", requested: 140_000, settled: 140_000, refunded: 0, livemode: true }, "amount"],
  ])("%s is restated as facts", async (_case, provider, id, facts, mismatch) => {
    expect((await ledger.getPayment(provider, id))!.facts).toEqual(facts);
    const orderId = (await ledger.getPayment(provider, id))!.orderId!;
    expect((await ledger.getOrder(orderId))!.payments.find((p) => p.providerPaymentId === id)!.mismatch).toBe(mismatch);
  });

  it("reading rewrites nothing, and leaves no event to send", async () => {
    for (const orderId of Object.keys(dump.orders)) await ledger.getOrder(orderId);
    for (const [provider, id] of legacyPayments) await ledger.getPayment(provider, id);
    for (const [k, v] of Object.entries(dump.keys)) {
      if ("hash" in v) expect(await redis.hgetall(`${prefix}${k.slice(DUMP_PREFIX.length)}`)).toEqual(v.hash);
    }
    expect(await ledger.outboxEvents()).toEqual([]);
    expect(await ledger.pendingEvents("payme", "5305e3bab097f420a62ced02")).toEqual([]);
  });

  it("keeps the provider's index", async () => {
    const indexed = await ledger.listIndexed("payme", "statement:live", 0, Number.MAX_SAFE_INTEGER);
    expect(indexed.map((p) => p.providerPaymentId)).toEqual(["5305e3bab097f420a62ced01", "5305e3bab097f420a62ced02", "5305e3bab097f420a62ced03", "5305e3bab097f420a62ced04"]);
  });
});

describe("a change to a legacy record", () => {
  const TX = "5305e3bab097f420a62ced02";

  it("performing the reserved Payme transaction pays its order and rewrites the payment with schema 2", async () => {
    const performed: PaymentFacts = { status: "succeeded", currency: "UZS", requested: 300_000, settled: 300_000, refunded: 0, livemode: true };
    const seen: Array<{ payment: PaymentRecord | null; order: OrderRecord | null }> = [];
    const applied = await ledger.applyPayment({
      provider: "payme",
      providerPaymentId: TX,
      decide: (current) => {
        seen.push(current);
        return {
          kind: "applied",
          payment: { facts: performed, providerStatus: "performed", at: "2026-12-01T00:00:00.000Z", state: { ...current.payment!.state, state: 2, perform_time: T0 } },
          events: [{ type: "payment.succeeded", amount: 300_000, currency: "UZS", occurredAt: "2026-12-01T00:00:00.000Z", data: { state: 2 } }],
        };
      },
    });

    // the state machine was shown the legacy record as facts, attached to its order
    expect(seen[0]!.payment).toMatchObject({
      orderId: "pm-reserved",
      attached: true,
      providerStatus: "created",
      facts: { status: "held", currency: "UZS", requested: 300_000, settled: 0, refunded: 0, livemode: true },
      v: "1",
    });
    expect(seen[0]!.order).toMatchObject({ orderId: "pm-reserved", amount: 300_000, status: "reserved", paidAmount: 0 });

    expect(applied).toMatchObject({
      kind: "applied",
      orderId: "pm-reserved",
      events: [{ type: "payment.succeeded", orderId: "pm-reserved", order: { status: "paid", paidAmount: 300_000, amount: 300_000, currency: "UZS", counted: 300_000 } }],
    });
    expect(await ledger.getOrder("pm-reserved")).toMatchObject({
      status: "paid",
      paidAmount: 300_000,
      payments: [expect.objectContaining({ providerPaymentId: TX, status: "succeeded", providerStatus: "performed", counted: 300_000 })],
    });

    const h = await redis.hgetall(paymentKey("payme", TX));
    expect(h).toMatchObject({
      schema: "2",
      orderId: "pm-reserved",
      attached: "1",
      status: "succeeded",
      providerStatus: "performed",
      currency: "UZS",
      requested: "300000",
      settled: "300000",
      refunded: "0",
      livemode: "1",
      v: "2",
    });
    expect(await ledger.getPayment("payme", TX)).toMatchObject({ orderId: "pm-reserved", attached: true, facts: performed, providerStatus: "performed" });
    // the order now keeps its payments' facts
    const order = await redis.hgetall(`${prefix}:ledger:order:pm-reserved`);
    expect(JSON.parse(order["facts"]!)).toEqual({ [`payme/${TX}`]: performed });
    expect(order).toMatchObject({ status: "paid", paidAmount: "300000" });

    // the other legacy records are untouched and still read the same
    expect(await redis.hgetall(paymentKey("payme", "5305e3bab097f420a62ced01"))).toEqual(
      (dump.keys[`payhooks:ledger:payment:payme:5305e3bab097f420a62ced01`] as { hash: Record<string, string> }).hash,
    );
    expect(await ledger.getOrder("pm-paid")).toMatchObject({ status: "paid", paidAmount: 500_000 });
  });

  it("a refund on a legacy Payske payment derives partially_refunded", async () => {
    const refunded: PaymentFacts = { status: "refunded", currency: "USD", requested: 4999, settled: 4999, refunded: 999, livemode: true };
    const applied = await ledger.applyPayment({
      provider: "payske",
      providerPaymentId: "pi_1",
      orderId: "ps-paid",
      decide: ({ payment }) => ({
        kind: "applied",
        payment: { facts: refunded, providerStatus: "refunded", at: "2026-12-01T00:00:00.000Z", state: payment!.state },
        events: [{ type: "payment.refunded", amount: 999, currency: "USD", occurredAt: "2026-12-01T00:00:00.000Z", data: {} }],
      }),
    });
    expect(applied).toMatchObject({ events: [{ type: "payment.refunded", orderId: "ps-paid", order: { status: "partially_refunded", paidAmount: 4000 } }] });
    expect(await ledger.getOrder("ps-paid")).toMatchObject({ status: "partially_refunded", paidAmount: 4000 });
    expect(await redis.hget(paymentKey("payske", "pi_1"), "schema")).toBe("2");
  });

  it("a notification with nothing new leaves the legacy record as it is", async () => {
    const before = await redis.hgetall(paymentKey("payme", TX));
    await expect(ledger.applyPayment({ provider: "payme", providerPaymentId: TX, decide: () => ({ kind: "ignored", reason: "duplicate" }) })).resolves.toMatchObject({
      kind: "ignored",
      orderId: "pm-reserved",
    });
    expect(await redis.hgetall(paymentKey("payme", TX))).toEqual(before);
    expect(await ledger.outboxEvents()).toEqual([]);
  });

  it("re-PUTting a legacy order with its terms keeps its payments and emits nothing; changing its amount is refused", async () => {
    const put = await ledger.putOrder("pr-paid", { amount: 4999, currency: "USD", references: { payram: "ref-paid" } });
    expect(put).toMatchObject({ created: false, events: [], order: { status: "paid", paidAmount: 4999, createdAt: "2026-11-01T10:00:01.000Z" } });
    expect(put.order.payments).toEqual([expect.objectContaining({ providerPaymentId: "ref-paid", counted: 4999 })]);
    await expect(ledger.putOrder("pr-paid", { amount: 5000, currency: "USD", references: { payram: "ref-paid" } })).rejects.toBeInstanceOf(LedgerConflictError);
    // the reference still belongs to it
    await expect(ledger.putOrder("another", { amount: 4999, currency: "USD", references: { payram: "ref-paid" } })).rejects.toBeInstanceOf(LedgerConflictError);
    expect(await ledger.getOrder("pr-paid")).toMatchObject({ status: "paid", paidAmount: 4999 });
  });
});
