import { countToward, deriveOrder, reportedType, type OrderRecord, type PaymentDecision, type PaymentFacts, type PaymentRecord } from "@payhooks/core";
import { decideRobokassa, outSumMinor } from "./decide";
import { readNotice, type RobokassaNotice } from "./notice";

/** Fixed clock: when the worker received the notice (2023-11-14T22:13:20.000Z). */
const RECEIVED_AT_MS = 1_700_000_000_000;
const RECEIVED_AT_ISO = "2023-11-14T22:13:20.000Z";
const CREATED_AT = "2023-11-14T20:00:00.000Z";
const SHOP_CURRENCY = "RUB";

/** A ResultURL notice read through readNotice, as the worker gets it; tests change one field. */
function notice(overrides: Record<string, string> = {}): RobokassaNotice {
  const result = readNotice(
    { OutSum: "100.000000", InvId: "450009", SignatureValue: "4DC8D204B401AEAB0ED93283FB0BFB74", Fee: "0.030000", ...overrides },
    null,
  );
  if (!result.ok) throw new Error(`expected a notice, got ${result.reason}`);
  return result.notice;
}

function order(overrides: Partial<OrderRecord> = {}): OrderRecord {
  return {
    orderId: "450009",
    amount: 10_000,
    currency: "RUB",
    livemode: true,
    refundable: false,
    status: "awaiting_payment",
    paidAmount: 0,
    references: {},
    items: [],
    createdAt: CREATED_AT,
    updatedAt: CREATED_AT,
    payments: {},
    v: "1",
    ...overrides,
  };
}

/** What a live notice of OutSum 100.00 RUB reports. */
function paidFacts(overrides: Partial<PaymentFacts> = {}): PaymentFacts {
  return { status: "succeeded", currency: "RUB", requested: 10_000, settled: 10_000, refunded: 0, livemode: true, ...overrides };
}

function existingPayment(overrides: Partial<PaymentRecord> = {}): PaymentRecord {
  return {
    provider: "robokassa",
    providerPaymentId: "450009",
    orderId: "450009",
    attached: true,
    facts: paidFacts(),
    providerStatus: "paid",
    at: CREATED_AT,
    state: { invId: "450009", outSum: "100.000000" },
    v: "1",
    ...overrides,
  };
}

function decide(n: RobokassaNotice, o: OrderRecord | null, payment: PaymentRecord | null = null): PaymentDecision {
  return decideRobokassa(n, { payment, order: o }, SHOP_CURRENCY, RECEIVED_AT_MS);
}

function applied(decision: PaymentDecision): Extract<PaymentDecision, { kind: "applied" }> {
  if (decision.kind !== "applied") throw new Error(`expected applied, got ignored: ${decision.reason}`);
  return decision;
}

describe("outSumMinor", () => {
  it("reads OutSum as an exact decimal in minor units", () => {
    expect(outSumMinor("100.000000", "RUB")).toBe(10_000);
    expect(outSumMinor("4710.00", "RUB")).toBe(471_000);
    expect(outSumMinor("0.01", "RUB")).toBe(1);
  });

  it("is null, not a throw, for more precision than the currency has", () => {
    expect(outSumMinor("100.005000", "RUB")).toBeNull();
  });
});

describe("decideRobokassa", () => {
  it("reports a live OutSum (6 decimals) as succeeded facts that pay an order of that amount", () => {
    const d = applied(decide(notice(), order()));
    expect(d).not.toHaveProperty("orderStatus");
    expect(d.payment).toEqual({
      facts: paidFacts(),
      providerStatus: "paid",
      at: RECEIVED_AT_ISO,
      state: { invId: "450009", outSum: "100.000000" },
    });
    expect(d.events).toEqual([
      {
        type: "payment.succeeded",
        amount: 10_000,
        currency: "RUB",
        occurredAt: RECEIVED_AT_ISO,
        data: { invId: "450009", outSum: "100.000000", fee: "0.030000" },
      },
    ]);
    expect(countToward(order(), d.payment.facts)).toEqual({ counts: true, value: 10_000, refunded: 0 });
    expect(deriveOrder(order(), [d.payment.facts])).toEqual({ paidAmount: 10_000, status: "paid" });
  });

  it("reads a 2-decimal OutSum (4710.00) exactly", () => {
    const o = order({ orderId: "63", amount: 471_000 });
    const d = applied(decide(notice({ OutSum: "4710.00", InvId: "63" }), o));
    expect(d.payment.facts).toEqual(paidFacts({ requested: 471_000, settled: 471_000 }));
    expect(d.events[0]).toMatchObject({ type: "payment.succeeded", amount: 471_000, currency: "RUB" });
    expect(d.events[0]!.data).toMatchObject({ invId: "63", outSum: "4710.00" });
    expect(deriveOrder(o, [d.payment.facts])).toEqual({ paidAmount: 471_000, status: "paid" });
  });

  it("reports a smaller OutSum as it is; the core calls it an amount mismatch and leaves the order unpaid", () => {
    const d = applied(decide(notice({ OutSum: "99.990000" }), order()));
    expect(d.payment.facts).toEqual(paidFacts({ requested: 9_999, settled: 9_999 }));
    expect(d.events).toEqual([
      expect.objectContaining({ type: "payment.succeeded", amount: 9_999, currency: "RUB", data: { invId: "450009", outSum: "99.990000", fee: "0.030000" } }),
    ]);
    const verdict = countToward(order(), d.payment.facts);
    expect(verdict).toEqual({ counts: false, reason: "amount" });
    expect(reportedType(d.events[0]!.type, verdict)).toBe("payment.amount_mismatch");
    expect(deriveOrder(order(), [d.payment.facts])).toEqual({ paidAmount: 0, status: "awaiting_payment" });
  });

  it("reports a larger OutSum as a mismatch too, not as overpaid", () => {
    const d = applied(decide(notice({ OutSum: "100.010000" }), order()));
    expect(d.payment.facts).toMatchObject({ requested: 10_001, settled: 10_001 });
    expect(reportedType(d.events[0]!.type, countToward(order(), d.payment.facts))).toBe("payment.amount_mismatch");
    expect(deriveOrder(order(), [d.payment.facts])).toEqual({ paidAmount: 0, status: "awaiting_payment" });
  });

  it("reports OutSum finer than the currency (100.005000) as payment.amount_mismatch with status unknown and no amount", () => {
    let decision: PaymentDecision | undefined;
    expect(() => {
      decision = decide(notice({ OutSum: "100.005000" }), order());
    }).not.toThrow();
    const d = applied(decision!);
    expect(d.payment.facts).toEqual({ status: "unknown", currency: "RUB", requested: null, settled: 0, refunded: 0, livemode: true });
    expect(d.payment.state).toEqual({ invId: "450009", outSum: "100.005000" });
    expect(d.events).toEqual([
      {
        type: "payment.amount_mismatch",
        amount: null,
        currency: "RUB",
        occurredAt: RECEIVED_AT_ISO,
        data: {
          invId: "450009",
          outSum: "100.005000",
          mismatch: { reason: "amount", detail: "OutSum has more decimals than RUB allows" },
          fee: "0.030000",
        },
      },
    ]);
    // No amount at all: the core neither counts it nor calls it another amount.
    expect(countToward(order(), d.payment.facts)).toEqual({ counts: false, reason: "undetermined" });
    expect(deriveOrder(order(), [d.payment.facts])).toEqual({ paidAmount: 0, status: "awaiting_payment" });
    // The same without an order: the notice itself is the mismatch.
    expect(applied(decide(notice({ OutSum: "100.005000" }), null)).events[0]!.type).toBe("payment.amount_mismatch");
  });

  it("reports the money in the shop's currency, so an order in another currency is not paid even with equal digits", () => {
    const usd = order({ currency: "USD" });
    const d = applied(decide(notice(), usd));
    expect(d.payment.facts).toEqual(paidFacts());
    const verdict = countToward(usd, d.payment.facts);
    expect(verdict).toEqual({ counts: false, reason: "currency" });
    expect(reportedType(d.events[0]!.type, verdict)).toBe("payment.amount_mismatch");
  });

  // OutSum is in the shop's currency (RUB): RoboKassa converts OutSumCurrency to roubles at
  // initiation, whatever currency the order is in.
  it("labels the received money in the shop's currency when the order is in another one", () => {
    const jpy = order({ currency: "JPY", amount: 100 });
    const d = applied(decide(notice(), jpy));
    expect(d.payment.facts).toMatchObject({ currency: "RUB", requested: 10_000, settled: 10_000 });
    expect(d.events[0]).toMatchObject({ type: "payment.succeeded", amount: 10_000, currency: "RUB" });
    expect(countToward(jpy, d.payment.facts)).toEqual({ counts: false, reason: "currency" });
  });

  it("decides a notice for an unknown order exactly as for a known one", () => {
    const d = applied(decide(notice(), null));
    expect(d).toEqual(decide(notice(), order()));
    expect(d.payment.facts).toEqual(paidFacts());
    expect(d.events[0]).toMatchObject({ type: "payment.succeeded", amount: 10_000, currency: "RUB" });
    expect(d.events[0]!.data).not.toHaveProperty("orderAmount");
  });

  it("ignores an invoice already recorded (a redelivered notice changes nothing)", () => {
    expect(decide(notice(), order({ status: "paid", paidAmount: 10_000 }), existingPayment())).toEqual({
      kind: "ignored",
      reason: "invoice already recorded",
    });
    // Even a redelivery with a different amount or without an order is ignored.
    expect(decide(notice({ OutSum: "1.000000" }), null, existingPayment()).kind).toBe("ignored");
  });

  it("reports an IsTest=1 notice as test-mode facts: they pay a test order, never a live one", () => {
    const live = order({ orderId: "63", amount: 471_000 });
    const d = applied(decide(notice({ IsTest: "1", OutSum: "4710.00", InvId: "63" }), live));
    expect(d.payment.facts).toEqual(paidFacts({ requested: 471_000, settled: 471_000, livemode: false }));
    expect(d.events[0]).toMatchObject({ type: "payment.succeeded", amount: 471_000, currency: "RUB" });
    const verdict = countToward(live, d.payment.facts);
    expect(verdict).toEqual({ counts: false, reason: "mode" });
    expect(reportedType(d.events[0]!.type, verdict)).toBe("payment.mode_mismatch");
    expect(deriveOrder(live, [d.payment.facts])).toEqual({ paidAmount: 0, status: "awaiting_payment" });
    expect(deriveOrder({ ...live, livemode: false }, [d.payment.facts])).toEqual({ paidAmount: 471_000, status: "paid" });
    // A live notice is live.
    expect(applied(decide(notice({ IsTest: "0" }), order())).payment.facts.livemode).toBe(true);
  });

  it("adds to an order another payment already paid: the core derives overpaid", () => {
    const d = applied(decide(notice(), order({ status: "paid", paidAmount: 10_000 })));
    expect(d.payment.facts).toEqual(paidFacts());
    expect(deriveOrder(order(), [paidFacts(), d.payment.facts])).toEqual({ paidAmount: 20_000, status: "overpaid" });
  });

  it("dates the payment and the event at receivedAt, in ISO form", () => {
    const d = applied(decideRobokassa(notice(), { payment: null, order: order() }, SHOP_CURRENCY, 1_718_101_234_567));
    expect(d.payment.at).toBe("2024-06-11T10:20:34.567Z");
    expect(d.events[0]!.occurredAt).toBe("2024-06-11T10:20:34.567Z");
  });

  it("carries invId, outSum, fee, paymentMethod and incCurrLabel in the event data", () => {
    const d = applied(decide(notice({ PaymentMethod: "BankCard", IncCurrLabel: "SBPPSR" }), order()));
    expect(d.events[0]!.data).toEqual({
      invId: "450009",
      outSum: "100.000000",
      fee: "0.030000",
      paymentMethod: "BankCard",
      incCurrLabel: "SBPPSR",
    });
  });

  it("leaves fee out of the event data when the notice has none", () => {
    const result = readNotice({ OutSum: "100.000000", InvId: "450009", SignatureValue: "x" }, null);
    if (!result.ok) throw new Error(result.reason);
    const d = applied(decide(result.notice, order()));
    expect(d.events[0]!.data).toEqual({ invId: "450009", outSum: "100.000000" });
  });
});
