import { startTestRedis, type TestRedis } from "@payhooks/testing";
import { createLedger, type Ledger, type PaymentDecision } from "./ledger";
import type { PaymentFacts } from "./order-model";
import type { RedisConnection } from "./redis";

// A fixed clock the tests move by hand (ms).
const T0 = 1_800_000_000_000;

let testRedis: TestRedis;
let conn: RedisConnection;
let testNo = 0;
let prefix: string;
let clock: number;
let ledger: Ledger;

beforeAll(async () => {
  testRedis = await startTestRedis();
  conn = testRedis.client("ledger-retention-test");
});

afterAll(async () => {
  await testRedis.remove();
});

beforeEach(() => {
  prefix = testRedis.prefix(`lr${++testNo}`); // a fresh key space per test
  clock = T0;
  ledger = createLedger({ redis: conn, prefix, now: () => clock });
});

const succeeded: PaymentFacts = { status: "succeeded", currency: "USD", requested: 4999, settled: 4999, refunded: 0, livemode: true };

/** A provider stand-in that moves the payment to `f` once, reported by one event. */
const moveTo =
  (f: PaymentFacts, at: string) =>
  (): PaymentDecision => ({
    kind: "applied",
    payment: { facts: f, providerStatus: f.status, at, state: { seen: [`evt-${f.status}`] } },
    events: [{ type: "payment.succeeded", amount: f.settled, currency: f.currency, occurredAt: at, data: {} }],
  });

/** Every ledger key of this test's prefix, without it, sorted. */
async function ledgerKeys(): Promise<string[]> {
  const P = `${prefix}:ledger:`;
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await conn.scan(cursor, "MATCH", `${P}*`, "COUNT", 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== "0");
  return keys.map((key) => key.slice(P.length)).sort();
}

describe("event bodies", () => {
  it("markEmitted removes an event's body with its outbox entries; the other events stay pending", async () => {
    await ledger.putOrder("o-1", { amount: 4999, currency: "USD" });
    const first = await ledger.applyPayment({ provider: "payske", providerPaymentId: "pi_1", orderId: "o-1", decide: moveTo(succeeded, new Date(T0).toISOString()) });
    const second = await ledger.applyPayment({
      provider: "payske",
      providerPaymentId: "pi_1",
      orderId: "o-1",
      decide: moveTo({ ...succeeded, status: "refunded", refunded: 4999 }, new Date(T0 + 1).toISOString()),
    });
    if (first.kind !== "applied" || second.kind !== "applied") throw new Error("both notifications change the payment");
    const [a] = first.events;
    const [b] = second.events;
    expect(await ledgerKeys()).toEqual(
      ["activity", `event:${a!.id}`, `event:${b!.id}`, "order:o-1", "order:o-1:payments", "outbox", "payment:payske:pi_1", "payment:payske:pi_1:outbox"].sort(),
    );

    await ledger.markEmitted(a!);
    expect(await ledgerKeys()).toEqual(["activity", `event:${b!.id}`, "order:o-1", "order:o-1:payments", "outbox", "payment:payske:pi_1", "payment:payske:pi_1:outbox"].sort());
    expect((await ledger.pendingEvents("payske", "pi_1")).map((e) => e.id)).toEqual([b!.id]);

    await ledger.markEmitted(b!);
    // What is left is the payment and its order (and their last change): no event body, no outbox.
    expect(await ledgerKeys()).toEqual(["activity", "order:o-1", "order:o-1:payments", "payment:payske:pi_1"]);
    expect(await ledger.pendingEvents("payske", "pi_1")).toEqual([]);
    expect(await ledger.outboxEvents()).toEqual([]);
  });
});

const DAY_MS = 86_400_000;
const RETENTION_MS = 400 * DAY_MS;
const paid = (amount: number): PaymentFacts => ({ ...succeeded, requested: amount, settled: amount });

/**
 * A provider stand-in for a payment settled for `f` at `at`: applied once (listed in the
 * "statement" index at its time), then every redelivery is ignored because the facts are already
 * `f` — the monotone rule every real state machine has.
 */
const settleOnce =
  (f: PaymentFacts, at: number) =>
  ({ payment }: { payment: { facts: PaymentFacts } | null }): PaymentDecision =>
    payment && payment.facts.status === f.status && payment.facts.settled >= f.settled
      ? { kind: "ignored", reason: "already settled" }
      : {
          kind: "applied",
          payment: { facts: f, providerStatus: "PAID", at: new Date(at).toISOString(), state: { seen: ["n-1"] } },
          index: { name: "statement", score: at },
          events: [{ type: "payment.succeeded", amount: f.settled, currency: f.currency, occurredAt: new Date(at).toISOString(), data: {} }],
        };

async function emitAll(): Promise<void> {
  for (const e of await ledger.outboxEvents()) await ledger.markEmitted(e);
}

describe("compact", () => {
  it("compacts settled payments and orders past the retention, keeps their tombstones, and leaves the unsettled and the recent alone", async () => {
    const items = Array.from({ length: 20 }, (_, i) => ({ sku: `sku-${i}`, name: "a long enough item name", qty: 1 }));
    // Old and settled: an order paid by a payment under its reference, events sent.
    await ledger.putOrder("o-old", { amount: 4999, currency: "USD", items, references: { payram: "ref-old" } });
    await ledger.applyPayment({ provider: "payram", providerPaymentId: "ref-old", decide: settleOnce(paid(4999), clock) });
    await conn.zadd(`${prefix}:jobindex:order:o-old`, clock, "payram/payram-ref-old~FILLED");
    // Old and unsettled: its event is still in the outbox.
    await ledger.putOrder("o-stuck", { amount: 100, currency: "USD", items });
    await ledger.applyPayment({ provider: "payram", providerPaymentId: "ref-stuck", orderId: "o-stuck", decide: settleOnce(paid(100), clock) });
    // Old: a payment naming an order that never came.
    await ledger.applyPayment({ provider: "payram", providerPaymentId: "ref-orphan", orderId: "o-never", decide: settleOnce(paid(7), clock) });
    await emitAll();
    const stuck = await ledger.applyPayment({
      provider: "payram",
      providerPaymentId: "ref-stuck",
      decide: () => ({
        kind: "applied",
        payment: { facts: { ...paid(100), status: "refunded", refunded: 100 }, providerStatus: "REFUNDED", at: new Date(clock).toISOString(), state: {} },
        events: [{ type: "payment.refunded", amount: 100, currency: "USD", occurredAt: new Date(clock).toISOString(), data: {} }],
      }),
    });
    expect(stuck.kind).toBe("applied");

    // A year and more later: a recent order, paid, settled.
    clock = T0 + RETENTION_MS - DAY_MS;
    await ledger.putOrder("o-new", { amount: 500, currency: "USD", items, references: { payram: "ref-new" } });
    await ledger.applyPayment({ provider: "payram", providerPaymentId: "ref-new", decide: settleOnce(paid(500), clock) });
    await ledger.markEmitted((await ledger.pendingEvents("payram", "ref-new"))[0]!);

    const oldPayment = await ledger.getPayment("payram", "ref-old");
    const oldOrder = await ledger.getOrderRecord("o-old");
    clock = T0 + RETENTION_MS + DAY_MS;
    expect(await ledger.compact(RETENTION_MS)).toEqual({ payments: 2, orders: 2, left: 2, indexEntries: 3 });

    expect(await ledgerKeys()).toEqual(
      [
        "activity", // o-stuck, ref-stuck, o-new, ref-new
        "event:" + (stuck.kind === "applied" ? stuck.events[0]!.id : ""),
        "index:payram:statement", // ref-new
        "indexes",
        "order:o-new",
        "order:o-new:payments",
        "order:o-old", // tombstone
        "order:o-stuck",
        "order:o-stuck:payments",
        "outbox",
        "payment:payram:ref-new",
        "payment:payram:ref-old", // tombstone
        "payment:payram:ref-orphan", // tombstone
        "payment:payram:ref-stuck",
        "payment:payram:ref-stuck:outbox",
        "ref:payram:ref-new",
        "ref:payram:ref-old",
      ].sort(),
    );
    expect(await conn.exists(`${prefix}:jobindex:order:o-old`)).toBe(0);
    // The tombstones: the payment whole, the order without its items.
    expect(await ledger.getPayment("payram", "ref-old")).toEqual(oldPayment);
    expect(await ledger.getOrderRecord("o-old")).toEqual({ ...oldOrder, items: [] });
    expect((await ledger.getOrderRecord("o-stuck"))!.items).toEqual(items);
    expect((await ledger.getOrderRecord("o-new"))!.items).toEqual(items);
    expect((await ledger.listIndexed("payram", "statement", 0, Infinity)).map((p) => p.providerPaymentId)).toEqual(["ref-new"]);

    // Idempotency survives: a replayed notification changes nothing, a PUT cannot change the
    // terms of a paid order, and the reference stays the old order's.
    expect(await ledger.applyPayment({ provider: "payram", providerPaymentId: "ref-old", decide: settleOnce(paid(4999), T0) })).toMatchObject({ kind: "ignored" });
    expect(await ledger.getOrder("o-old")).toMatchObject({ status: "paid", paidAmount: 4999, payments: [{ providerPaymentId: "ref-old", counted: 4999 }] });
    await expect(ledger.putOrder("o-old", { amount: 1, currency: "USD" })).rejects.toThrow(/already has payments/);
    await expect(ledger.putOrder("o-thief", { amount: 4999, currency: "USD", references: { payram: "ref-old" } })).rejects.toThrow(/belongs to another order/);

    // Once its event is sent, the stuck one is compacted on a later run.
    await emitAll();
    clock += DAY_MS;
    expect(await ledger.compact(RETENTION_MS)).toEqual({ payments: 1, orders: 1, left: 0, indexEntries: 0 });
    expect((await ledger.getOrderRecord("o-stuck"))!.items).toEqual([]);
  });
});
