import { isDeepStrictEqual } from "node:util";
import { startTestRedis, type TestRedis } from "@payhooks/testing";
import { LedgerConflictError } from "./errors";
import { OUTBOX_GRACE_MS, createLedger, type Ledger, type OrderInput, type OrderRecord, type PaymentDecision, type PaymentRecord } from "./ledger";
import { EVENT_TYPE_FOR_STATUS, type PaymentFacts } from "./order-model";
import { PaymentEventSchema, type PaymentEvent } from "./payment-event";
import type { ProviderId } from "./provider";
import type { RedisConnection } from "./redis";

// A fixed clock the tests move by hand (ms).
const T0 = 1_800_000_000_000;
const AT = new Date(T0 - 60_000).toISOString();

let testRedis: TestRedis;
let connA: RedisConnection;
let connB: RedisConnection;
let testNo = 0;
let prefix: string;
let clock: number;
/** The ledger as ingress sees it (order PUTs) … */
let ledger: Ledger;
/** … and as a worker on another connection sees it (notifications). */
let worker: Ledger;

beforeAll(async () => {
  testRedis = await startTestRedis();
  connA = testRedis.client("ledger-test-a");
  connB = testRedis.client("ledger-test-b");
});

afterAll(async () => {
  await testRedis.remove();
});

beforeEach(() => {
  prefix = testRedis.prefix(`lt${++testNo}`); // a fresh key space per test
  clock = T0;
  ledger = createLedger({ redis: connA, prefix, now: () => clock });
  worker = createLedger({ redis: connB, prefix, now: () => clock });
});

const USD_4999: OrderInput = { amount: 4999, currency: "USD" };

/** A live USD payment made and settled for 49.99 unless told otherwise. */
const facts = (over: Partial<PaymentFacts> = {}): PaymentFacts => ({
  status: "succeeded",
  currency: "USD",
  requested: 4999,
  settled: 4999,
  refunded: 0,
  livemode: true,
  ...over,
});

type Decide = (current: { payment: PaymentRecord | null; order: OrderRecord | null }) => PaymentDecision;

/**
 * A provider stand-in: the payment's facts become `f`, reported by one event of the type its
 * status maps to. A notification that changes nothing (the facts are already `f`) is ignored, as
 * every real provider's state machine ignores a redelivery.
 */
function fixed(f: PaymentFacts, providerStatus = f.status.toUpperCase()): Decide {
  return ({ payment }) =>
    payment && isDeepStrictEqual(payment.facts, f)
      ? { kind: "ignored", reason: "duplicate" }
      : {
          kind: "applied",
          payment: { facts: f, providerStatus, at: AT, state: { providerStatus } },
          events: [
            {
              type: EVENT_TYPE_FOR_STATUS[f.status],
              amount: f.settled > 0 ? f.settled : f.requested,
              currency: f.currency,
              occurredAt: AT,
              data: { providerStatus },
            },
          ],
        };
}

const ignoring: Decide = () => ({ kind: "ignored", reason: "nothing new" });

function notify(l: Ledger, provider: ProviderId, providerPaymentId: string, decide: Decide, orderId?: string) {
  return l.applyPayment({ provider, providerPaymentId, decide, ...(orderId !== undefined ? { orderId } : {}) });
}

const ids = (events: PaymentEvent[]) => events.map((e) => e.id).sort();
const key = (...parts: string[]) => [`${prefix}:ledger`, ...parts].join(":");

describe("attaching in any order", () => {
  it("a payment first recorded with no order, then named by a notification that changes nothing, waits for that order and is attached by its PUT", async () => {
    // A refund without order metadata, then the success that names the order: already refunded, so ignored.
    const refunded = facts({ status: "refunded", refunded: 4999 });
    expect(await notify(worker, "payske", "pi_named_late", fixed(refunded))).toMatchObject({ kind: "applied", orderId: null });
    expect(await notify(worker, "payske", "pi_named_late", ignoring, "o-named-late")).toMatchObject({ kind: "ignored", orderId: "o-named-late" });
    expect(await connA.smembers(key("order", "o-named-late", "waiting"))).toEqual(["payske/pi_named_late"]);
    // Not a change to the payment: its version and events stay as they were.
    expect((await ledger.getPayment("payske", "pi_named_late"))!.v).toBe("1");
    // Naming it again is a no-op.
    expect(await notify(worker, "payske", "pi_named_late", ignoring, "o-named-late")).toMatchObject({ kind: "ignored" });
    const put = await ledger.putOrder("o-named-late", USD_4999);
    expect(put.order).toMatchObject({ status: "refunded", paidAmount: 0, payments: [expect.objectContaining({ providerPaymentId: "pi_named_late" })] });
    expect(put.events.map((e) => [e.type, e.orderId])).toEqual([["payment.refunded", "o-named-late"]]);
    expect(await ledger.getPayment("payske", "pi_named_late")).toMatchObject({ attached: true, orderId: "o-named-late", v: "2" });
  });

  it("a payment naming an order that does not exist yet waits; the PUT attaches it, derives the order and emits one event due at once", async () => {
    const applied = await notify(worker, "payske", "pi_1", fixed(facts()), "o-1");
    expect(applied).toMatchObject({ kind: "applied", orderId: "o-1" });
    if (applied.kind !== "applied") throw new Error("unreachable");
    expect(applied.events).toHaveLength(1);
    // no order yet: the event has no order, and is left to its worker (not due before the grace)
    expect(applied.events[0]).toMatchObject({ type: "payment.succeeded", orderId: null, order: null });
    expect(await ledger.getOrder("o-1")).toBeNull();
    expect(await ledger.getPayment("payske", "pi_1")).toMatchObject({ orderId: "o-1", attached: false, facts: facts() });
    expect(await connA.smembers(key("order", "o-1", "waiting"))).toEqual(["payske/pi_1"]);
    expect(await ledger.dueEvents()).toEqual([]);

    const put = await ledger.putOrder("o-1", USD_4999);
    expect(put.created).toBe(true);
    expect(put.order).toMatchObject({ orderId: "o-1", amount: 4999, currency: "USD", livemode: true, status: "paid", paidAmount: 4999 });
    expect(put.order.payments).toEqual([
      expect.objectContaining({ provider: "payske", providerPaymentId: "pi_1", status: "succeeded", counted: 4999, mismatch: null }),
    ]);
    expect(put.events).toHaveLength(1);
    const event = put.events[0]!;
    expect(PaymentEventSchema.parse(event)).toEqual(event);
    expect(event).toMatchObject({
      type: "payment.succeeded",
      provider: "payske",
      providerPaymentId: "pi_1",
      orderId: "o-1",
      amount: 4999,
      currency: "USD",
      livemode: true,
      data: { attached: true },
      order: { status: "paid", paidAmount: 4999, amount: 4999, currency: "USD", counted: 4999 },
    });
    expect(event.id).not.toBe(applied.events[0]!.id);

    // in the outbox with the worker's event, and due at once (no worker sends it)
    expect(ids(await ledger.outboxEvents())).toEqual(ids([applied.events[0]!, event]));
    expect(ids(await ledger.dueEvents())).toEqual([event.id]);
    expect(ids(await ledger.pendingEvents("payske", "pi_1"))).toEqual(ids([applied.events[0]!, event]));
    clock += OUTBOX_GRACE_MS;
    expect(ids(await ledger.dueEvents())).toEqual(ids([applied.events[0]!, event]));

    expect(await ledger.getPayment("payske", "pi_1")).toMatchObject({ orderId: "o-1", attached: true });
    expect(await connA.exists(key("order", "o-1", "waiting"))).toBe(0);
    expect(await connA.smembers(key("order", "o-1", "payments"))).toEqual(["payske/pi_1"]);

    await ledger.markEmitted(event);
    expect(ids(await ledger.outboxEvents())).toEqual([applied.events[0]!.id]);
  });

  it("a payment under a reference no order registered yet is attached by the PUT that registers it", async () => {
    const applied = await notify(worker, "payram", "ref-1", fixed(facts()));
    expect(applied).toMatchObject({ kind: "applied", orderId: null, events: [{ orderId: null, order: null }] });
    expect(await ledger.getPayment("payram", "ref-1")).toMatchObject({ orderId: null, attached: false });

    const put = await ledger.putOrder("o-2", { ...USD_4999, references: { payram: "ref-1" } });
    expect(put.order).toMatchObject({ status: "paid", paidAmount: 4999, references: { payram: "ref-1" } });
    expect(put.events).toEqual([
      expect.objectContaining({ type: "payment.succeeded", providerPaymentId: "ref-1", orderId: "o-2", order: expect.objectContaining({ status: "paid", paidAmount: 4999, counted: 4999 }) }),
    ]);
    expect(ids(await ledger.dueEvents())).toEqual(ids(put.events));
    expect(await ledger.getPayment("payram", "ref-1")).toMatchObject({ orderId: "o-2", attached: true });
  });

  it("an order that exists first is paid by the notification, whose event waits for its worker", async () => {
    await ledger.putOrder("o-3", { ...USD_4999, references: { payram: "ref-3" } });
    const applied = await notify(worker, "payram", "ref-3", fixed(facts({ status: "partially_paid", settled: 2000 })));
    expect(applied).toMatchObject({
      kind: "applied",
      orderId: "o-3",
      events: [{ type: "payment.partially_paid", orderId: "o-3", order: { status: "partially_paid", paidAmount: 2000, counted: 2000 } }],
    });
    expect(await ledger.getOrder("o-3")).toMatchObject({ status: "partially_paid", paidAmount: 2000 });
    expect(await ledger.dueEvents()).toEqual([]);
    clock += OUTBOX_GRACE_MS;
    expect(await ledger.dueEvents()).toHaveLength(1);

    await notify(worker, "payram", "ref-3", fixed(facts()));
    expect(await ledger.getOrder("o-3")).toMatchObject({ status: "paid", paidAmount: 4999 });
  });

  it("a held payment reserves the order it is attached to", async () => {
    await notify(worker, "payme", "tx-1", fixed(facts({ status: "held", currency: "UZS", requested: 300_000, settled: 0 })), "o-held");
    const put = await ledger.putOrder("o-held", { amount: 300_000, currency: "UZS" });
    expect(put.order).toMatchObject({ status: "reserved", paidAmount: 0 });
    expect(put.events).toEqual([expect.objectContaining({ type: "payment.pending", orderId: "o-held", order: expect.objectContaining({ status: "reserved" }) })]);
  });

  it("repeating the PUT attaches nothing again, counts once and emits nothing", async () => {
    await notify(worker, "payske", "pi_r", fixed(facts()), "o-r");
    await notify(worker, "payram", "ref-r", fixed(facts({ status: "partially_paid", settled: 1000 })));
    const input: OrderInput = { amount: 4999, currency: "USD", references: { payram: "ref-r" } };
    const first = await ledger.putOrder("o-r", input);
    expect(first.events).toHaveLength(2);
    expect(first.order).toMatchObject({ status: "overpaid", paidAmount: 5999 });
    const outbox = ids(await ledger.outboxEvents());

    for (let i = 0; i < 3; i++) {
      const again = await ledger.putOrder("o-r", input);
      expect(again.created).toBe(false);
      expect(again.events).toEqual([]);
      expect(again.order).toMatchObject({ status: "overpaid", paidAmount: 5999 });
      expect(again.order.payments).toHaveLength(2);
    }
    expect(ids(await ledger.outboxEvents())).toEqual(outbox);
    expect((await connA.smembers(key("order", "o-r", "payments"))).sort()).toEqual(["payram/ref-r", "payske/pi_r"]);
  });

  it("a redelivery after the attach is ignored and emits nothing", async () => {
    await notify(worker, "payske", "pi_d", fixed(facts()), "o-d");
    // a redelivery while the payment still waits changes nothing either
    expect(await notify(worker, "payske", "pi_d", fixed(facts()), "o-d")).toMatchObject({ kind: "ignored", orderId: "o-d" });
    await ledger.putOrder("o-d", USD_4999);
    const before = { outbox: ids(await ledger.outboxEvents()), order: await ledger.getOrderRecord("o-d") };
    expect(before.outbox).toHaveLength(2);

    for (const orderId of ["o-d", undefined]) {
      expect(await notify(worker, "payske", "pi_d", fixed(facts()), orderId)).toMatchObject({ kind: "ignored", orderId: "o-d" });
    }
    expect(ids(await ledger.outboxEvents())).toEqual(before.outbox);
    expect(await ledger.getOrderRecord("o-d")).toEqual(before.order);
  });

  it("a recorded payment is attached by a later notification that names its now existing order, even one with nothing new", async () => {
    await notify(worker, "payske", "pi_late", fixed(facts()));
    await ledger.putOrder("o-late", USD_4999);
    expect(await ledger.getOrder("o-late")).toMatchObject({ status: "awaiting_payment", payments: [] });

    const applied = await notify(worker, "payske", "pi_late", ignoring, "o-late");
    expect(applied).toMatchObject({
      kind: "applied",
      orderId: "o-late",
      events: [{ type: "payment.succeeded", orderId: "o-late", data: { attached: true }, order: { status: "paid", paidAmount: 4999 } }],
    });
    expect(await ledger.getOrder("o-late")).toMatchObject({ status: "paid", paidAmount: 4999 });
    expect(await notify(worker, "payske", "pi_late", ignoring, "o-late")).toMatchObject({ kind: "ignored" });
  });
});

describe("a payment belongs to one order", () => {
  it("a second order registering the same reference is refused, and nothing of it is written", async () => {
    await ledger.putOrder("o-a", { ...USD_4999, references: { payram: "ref-x" } });
    await expect(ledger.putOrder("o-b", { ...USD_4999, references: { payram: "ref-x" } })).rejects.toBeInstanceOf(LedgerConflictError);
    expect(await ledger.getOrder("o-b")).toBeNull();
    expect(await connA.get(key("ref", "payram", "ref-x"))).toBe("o-a");

    await notify(worker, "payram", "ref-x", fixed(facts()));
    expect(await ledger.getOrder("o-a")).toMatchObject({ status: "paid", paidAmount: 4999 });
  });

  it("once the first order drops the reference, another may register it", async () => {
    await ledger.putOrder("o-a", { ...USD_4999, references: { payram: "ref-y" } });
    await ledger.putOrder("o-a", USD_4999);
    expect(await connA.exists(key("ref", "payram", "ref-y"))).toBe(0);
    await expect(ledger.putOrder("o-b", { ...USD_4999, references: { payram: "ref-y" } })).resolves.toMatchObject({ created: true });
  });

  it("a payment attached to order A is not attached to order B that registers its reference", async () => {
    await notify(worker, "payske", "pi_a", fixed(facts()), "o-a");
    await ledger.putOrder("o-a", USD_4999);
    const b = await ledger.putOrder("o-b", { ...USD_4999, references: { payske: "pi_a" } });
    expect(b.events).toEqual([]);
    expect(b.order).toMatchObject({ status: "awaiting_payment", paidAmount: 0, payments: [] });
    expect(await ledger.getOrder("o-a")).toMatchObject({ status: "paid", paidAmount: 4999 });
    expect(await ledger.getPayment("payske", "pi_a")).toMatchObject({ orderId: "o-a", attached: true });

    // its next notification still goes to A
    const refund = await notify(worker, "payske", "pi_a", fixed(facts({ status: "refunded", refunded: 4999 })));
    expect(refund).toMatchObject({ orderId: "o-a", events: [{ orderId: "o-a", order: { status: "refunded" } }] });
    expect(await ledger.getOrder("o-b")).toMatchObject({ status: "awaiting_payment", payments: [] });
  });

  it("a payment naming order B is not taken by order A's reference", async () => {
    await notify(worker, "payram", "ref-b", fixed(facts()), "o-b");
    const a = await ledger.putOrder("o-a", { ...USD_4999, references: { payram: "ref-b" } });
    expect(a.events).toEqual([]);
    expect(a.order).toMatchObject({ status: "awaiting_payment", payments: [] });
    expect(await ledger.getPayment("payram", "ref-b")).toMatchObject({ orderId: "o-b", attached: false });

    // a notification naming no order does not go to A's reference either
    await notify(worker, "payram", "ref-b", fixed(facts({ status: "overpaid", settled: 6000 })));
    expect(await ledger.getOrder("o-a")).toMatchObject({ status: "awaiting_payment", payments: [] });

    const b = await ledger.putOrder("o-b", USD_4999);
    expect(b.order).toMatchObject({ status: "overpaid", paidAmount: 6000 });
    expect(b.events).toEqual([expect.objectContaining({ orderId: "o-b", providerPaymentId: "ref-b" })]);
    expect(await ledger.getOrder("o-a")).toMatchObject({ status: "awaiting_payment", payments: [] });
  });

  test.each<[string, Partial<OrderInput>]>([
    ["amount", { amount: 5000 }],
    ["currency", { currency: "EUR" }],
    ["livemode", { livemode: false }],
  ])("a PUT changing the %s of an order with payments is refused", async (_field, change) => {
    await notify(worker, "payske", "pi_c", fixed(facts({ status: "partially_paid", settled: 1000 })), "o-c");
    await ledger.putOrder("o-c", USD_4999);
    const before = await ledger.getOrderRecord("o-c");
    await expect(ledger.putOrder("o-c", { ...USD_4999, ...change })).rejects.toBeInstanceOf(LedgerConflictError);
    expect(await ledger.getOrderRecord("o-c")).toEqual(before);
    // the same terms (livemode absent: unchanged) are fine
    await expect(ledger.putOrder("o-c", { ...USD_4999, items: [{ sku: 1 }] })).resolves.toMatchObject({ events: [] });
  });

  it("an order without payments may change its terms", async () => {
    await ledger.putOrder("o-free", USD_4999);
    await expect(ledger.putOrder("o-free", { amount: 5000, currency: "EUR", livemode: false })).resolves.toMatchObject({
      created: false,
      order: { amount: 5000, currency: "EUR", livemode: false },
    });
  });
});

describe("payments that do not count", () => {
  it("a payment for another amount is attached and recorded, reported as payment.amount_mismatch, the order unchanged", async () => {
    await ledger.putOrder("o-m", USD_4999);
    const applied = await notify(worker, "payske", "pi_m", fixed(facts({ requested: 4000, settled: 4000 })), "o-m");
    expect(applied).toMatchObject({ kind: "applied", orderId: "o-m" });
    if (applied.kind !== "applied") throw new Error("unreachable");
    expect(applied.events).toHaveLength(1);
    expect(PaymentEventSchema.parse(applied.events[0])).toEqual(applied.events[0]);
    expect(applied.events[0]).toMatchObject({
      type: "payment.amount_mismatch",
      amount: 4000,
      currency: "USD",
      orderId: "o-m",
      data: { mismatch: { reason: "amount", orderAmount: 4999, orderCurrency: "USD", orderLivemode: true } },
      order: { status: "awaiting_payment", paidAmount: 0, amount: 4999, counted: 0 },
    });
    expect(await ledger.getOrder("o-m")).toMatchObject({
      status: "awaiting_payment",
      paidAmount: 0,
      payments: [expect.objectContaining({ providerPaymentId: "pi_m", settled: 4000, counted: 0, mismatch: "amount" })],
    });
    expect(await ledger.getPayment("payske", "pi_m")).toMatchObject({ orderId: "o-m", attached: true, facts: facts({ requested: 4000, settled: 4000 }) });
  });

  it("a mismatched payment that arrived first is reported as a mismatch by the PUT that attaches it", async () => {
    await notify(worker, "payram", "ref-m", fixed(facts({ currency: "BTC", requested: 1, settled: 1 })));
    const put = await ledger.putOrder("o-m2", { ...USD_4999, references: { payram: "ref-m" } });
    expect(put.order).toMatchObject({ status: "awaiting_payment", paidAmount: 0 });
    expect(put.events).toEqual([
      expect.objectContaining({ type: "payment.amount_mismatch", orderId: "o-m2", data: expect.objectContaining({ mismatch: expect.objectContaining({ reason: "currency" }) }) }),
    ]);
  });

  it("a test-mode payment on a live order is reported as payment.mode_mismatch", async () => {
    await ledger.putOrder("o-live", USD_4999);
    const applied = await notify(worker, "payske", "pi_t", fixed(facts({ livemode: false })), "o-live");
    expect(applied).toMatchObject({
      events: [{ type: "payment.mode_mismatch", livemode: false, orderId: "o-live", data: { mismatch: { reason: "mode", orderLivemode: true } }, order: { status: "awaiting_payment", counted: 0 } }],
    });
    expect(await ledger.getOrder("o-live")).toMatchObject({ status: "awaiting_payment", paidAmount: 0, payments: [expect.objectContaining({ mismatch: "mode" })] });
  });

  it("a live payment on a test order, attached by the PUT, is reported as payment.mode_mismatch", async () => {
    await notify(worker, "payske", "pi_l", fixed(facts()), "o-test");
    const put = await ledger.putOrder("o-test", { ...USD_4999, livemode: false });
    expect(put.order).toMatchObject({ livemode: false, status: "awaiting_payment", paidAmount: 0 });
    expect(put.events).toEqual([expect.objectContaining({ type: "payment.mode_mismatch", orderId: "o-test" })]);
  });
});

describe("concurrency", () => {
  const ROUNDS = 50;

  /** The invariant after an order PUT and the payment's first notification raced, whichever won. */
  async function expectAttachedOnce(orderId: string, provider: ProviderId, paymentId: string): Promise<void> {
    const member = `${provider}/${paymentId}`;
    const order = await ledger.getOrder(orderId);
    expect({ orderId, order }).toMatchObject({ orderId, order: { status: "paid", paidAmount: 4999, payments: [expect.objectContaining({ providerPaymentId: paymentId, counted: 4999 })] } });
    expect(order!.payments).toHaveLength(1);
    const hash = await connA.hgetall(key("order", orderId));
    expect({ orderId, status: hash["status"], paidAmount: hash["paidAmount"], facts: Object.keys(JSON.parse(hash["facts"] ?? "{}") as object) }).toEqual({
      orderId,
      status: "paid",
      paidAmount: "4999",
      facts: [member],
    });
    expect(await connA.smembers(key("order", orderId, "payments"))).toEqual([member]);
    expect(await connA.exists(key("order", orderId, "waiting"))).toBe(0);
    expect(await ledger.getPayment(provider, paymentId)).toMatchObject({ orderId, attached: true });

    const events = (await ledger.outboxEvents()).filter((e) => e.providerPaymentId === paymentId);
    // exactly one event reports the payment on its order; one sent before the order existed has none
    const onOrder = events.filter((e) => e.orderId !== null);
    expect({ orderId, onOrder }).toEqual({
      orderId,
      onOrder: [expect.objectContaining({ orderId, type: "payment.succeeded", order: expect.objectContaining({ status: "paid", paidAmount: 4999, counted: 4999 }) })],
    });
    expect(events.filter((e) => e.orderId === null).every((e) => e.order === null)).toBe(true);
    expect(events.length).toBeLessThanOrEqual(2);
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
  }

  it(`an order PUT racing the first notification that names it attaches the payment exactly once (${ROUNDS} rounds)`, async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const orderId = `race-${i}`;
      const [put, applied] = await Promise.all([ledger.putOrder(orderId, USD_4999), notify(worker, "payske", `pi_race_${i}`, fixed(facts()), orderId)]);
      expect(applied.kind).toBe("applied");
      // whichever won, exactly one of the two reports the payment on its order
      const reported = [...put.events, ...(applied.kind === "applied" ? applied.events : [])].filter((e) => e.orderId === orderId);
      expect(reported).toHaveLength(1);
      await expectAttachedOnce(orderId, "payske", `pi_race_${i}`);
      // the order key was written twice: the payment waiting (touch) then the PUT, or the PUT then the payment
      expect((await ledger.getOrderRecord(orderId))!.v).toBe("2");
    }
  });

  it(`an order PUT registering a reference racing the payment's first notification attaches it exactly once (${ROUNDS} rounds)`, async () => {
    // Every round runs; the rounds whose payment was not attached are listed together.
    const failed: string[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const orderId = `race-ref-${i}`;
      const paymentId = `ref-race-${i}`;
      await Promise.all([ledger.putOrder(orderId, { ...USD_4999, references: { payram: paymentId } }), notify(worker, "payram", paymentId, fixed(facts()))]);
      await expectAttachedOnce(orderId, "payram", paymentId).catch(async () => {
        const p = await ledger.getPayment("payram", paymentId);
        const o = await ledger.getOrder(orderId);
        failed.push(`${i}: order ${o?.status} ${o?.paidAmount}, payment orderId=${p?.orderId} attached=${p?.attached}`);
      });
    }
    expect(failed).toEqual([]);
  });

  /**
   * A connection whose reads of `watched` are answered as Redis answered them, but only after
   * `between` ran: what another process did between this one's read and its write.
   */
  function interleaved(conn: RedisConnection, watched: string, between: () => Promise<unknown>): RedisConnection {
    let fired = false;
    const wrap = (read: (k: string) => Promise<unknown>) => async (k: string) => {
      const result = await read(k);
      if (k === watched && !fired) {
        fired = true;
        await between();
      }
      return result;
    };
    return new Proxy(conn, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target) as unknown;
        if (prop === "hgetall" || prop === "smembers") return wrap((value as (k: string) => Promise<unknown>).bind(target));
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  it("the first notification naming the order, recorded between the PUT's read and its write, is attached by the PUT", async () => {
    const racing = createLedger({
      redis: interleaved(connA, key("order", "o-i1", "waiting"), () => notify(worker, "payske", "pi_i1", fixed(facts()), "o-i1")),
      prefix,
      now: () => clock,
    });
    const put = await racing.putOrder("o-i1", USD_4999);
    expect(put.order).toMatchObject({ status: "paid", paidAmount: 4999 });
    expect(put.events).toHaveLength(1);
    await expectAttachedOnce("o-i1", "payske", "pi_i1");
  });

  it("the first notification under a reference, recorded between the PUT's read of it and its write, is attached", async () => {
    // The PUT reads the payment (absent), the worker records it under the not yet registered
    // reference (orderId null), then the PUT claims the reference. The payment must end up on the order.
    const racing = createLedger({
      redis: interleaved(connA, key("payment", "payram", "ref-i2"), () => notify(worker, "payram", "ref-i2", fixed(facts()))),
      prefix,
      now: () => clock,
    });
    await racing.putOrder("o-i2", { ...USD_4999, references: { payram: "ref-i2" } });
    await expectAttachedOnce("o-i2", "payram", "ref-i2");
  });

  it(`two orders registering one reference at once: exactly one gets it (${ROUNDS} rounds)`, async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const ref = `ref-claim-${i}`;
      const results = await Promise.allSettled([
        ledger.putOrder(`claim-a-${i}`, { ...USD_4999, references: { payram: ref } }),
        worker.putOrder(`claim-b-${i}`, { ...USD_4999, references: { payram: ref } }),
      ]);
      const won = results.flatMap((r, j) => (r.status === "fulfilled" ? [`claim-${"ab"[j]}-${i}`] : []));
      const lost = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
      expect(won).toHaveLength(1);
      expect(lost).toEqual([expect.any(LedgerConflictError)]);
      expect(await connA.get(key("ref", "payram", ref))).toBe(won[0]);
      expect(await ledger.getOrder(won[0] === `claim-a-${i}` ? `claim-b-${i}` : `claim-a-${i}`)).toBeNull();
    }
  });

  it(`two payments of one order applied at once by two workers are both counted (${ROUNDS} rounds)`, async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const orderId = `sum-${i}`;
      await ledger.putOrder(orderId, USD_4999);
      await Promise.all([
        notify(ledger, "payske", `pi_sum_${i}`, fixed(facts({ status: "partially_paid", settled: 2000 })), orderId),
        notify(worker, "payram", `ref-sum-${i}`, fixed(facts({ status: "partially_paid", settled: 2999 })), orderId),
      ]);
      expect({ orderId, order: await ledger.getOrder(orderId) }).toMatchObject({ orderId, order: { status: "paid", paidAmount: 4999 } });
      expect((await ledger.getOrder(orderId))!.payments).toHaveLength(2);
    }
  });

  it("two workers applying the same notification at once apply it once", async () => {
    await ledger.putOrder("o-dup", USD_4999);
    const results = await Promise.all([notify(ledger, "payske", "pi_dup", fixed(facts()), "o-dup"), notify(worker, "payske", "pi_dup", fixed(facts()), "o-dup")]);
    expect(results.map((r) => r.kind).sort()).toEqual(["applied", "ignored"]);
    expect(await ledger.getOrder("o-dup")).toMatchObject({ status: "paid", paidAmount: 4999 });
    expect(await ledger.outboxEvents()).toHaveLength(1);
  });
});
