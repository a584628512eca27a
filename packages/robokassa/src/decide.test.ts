import type { OrderRecord, PaymentDecision, PaymentRecord } from "@payhooks/core";
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
    refundable: false,
    status: "awaiting_payment",
    paidAmount: 0,
    references: {},
    items: [],
    createdAt: CREATED_AT,
    updatedAt: CREATED_AT,
    v: "1",
    ...overrides,
  };
}

function existingPayment(overrides: Partial<PaymentRecord> = {}): PaymentRecord {
  return {
    provider: "robokassa",
    providerPaymentId: "450009",
    orderId: "450009",
    status: "paid",
    amount: 10_000,
    currency: "RUB",
    at: CREATED_AT,
    livemode: true,
    contribution: 10_000,
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
  it("marks an order paid when the live OutSum (6 decimals) equals its amount", () => {
    const d = applied(decide(notice(), order()));
    expect(d.orderStatus).toBe("paid");
    expect(d.payment).toEqual({
      status: "paid",
      amount: 10_000,
      currency: "RUB",
      at: RECEIVED_AT_ISO,
      livemode: true,
      contribution: 10_000,
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
  });

  it("marks an order paid for a 2-decimal OutSum (4710.00) equal to its amount", () => {
    const d = applied(decide(notice({ OutSum: "4710.00", InvId: "63" }), order({ orderId: "63", amount: 471_000 })));
    expect(d.orderStatus).toBe("paid");
    expect(d.payment.contribution).toBe(471_000);
    expect(d.events[0]).toMatchObject({ type: "payment.succeeded", amount: 471_000, currency: "RUB" });
    expect(d.events[0]!.data).toMatchObject({ invId: "63", outSum: "4710.00" });
  });

  it("reports a different amount as a mismatch and leaves the order alone", () => {
    const d = applied(decide(notice({ OutSum: "99.990000" }), order()));
    expect(d).not.toHaveProperty("orderStatus");
    expect(d.payment).toMatchObject({ status: "amount_mismatch", amount: 9_999, contribution: 0 });
    expect(d.events).toHaveLength(1);
    expect(d.events[0]).toMatchObject({
      type: "payment.amount_mismatch",
      amount: 9_999,
      currency: "RUB",
      data: { invId: "450009", outSum: "99.990000", orderAmount: 10_000, orderCurrency: "RUB" },
    });
  });

  it("reports a larger amount as a mismatch too, not as overpaid", () => {
    const d = applied(decide(notice({ OutSum: "100.010000" }), order()));
    expect(d).not.toHaveProperty("orderStatus");
    expect(d.events[0]!.type).toBe("payment.amount_mismatch");
    expect(d.payment.contribution).toBe(0);
  });

  it("reports OutSum with more precision than the currency (100.005000) as a mismatch with amount null", () => {
    let decision: PaymentDecision | undefined;
    expect(() => {
      decision = decide(notice({ OutSum: "100.005000" }), order());
    }).not.toThrow();
    const d = applied(decision!);
    expect(d).not.toHaveProperty("orderStatus");
    expect(d.payment).toMatchObject({ status: "amount_mismatch", amount: null, contribution: 0 });
    expect(d.events[0]).toMatchObject({ type: "payment.amount_mismatch", amount: null });
  });

  it("reports an order in another currency than the shop's as a mismatch, even with equal digits", () => {
    const d = applied(decide(notice(), order({ currency: "USD" })));
    expect(d).not.toHaveProperty("orderStatus");
    expect(d.payment.contribution).toBe(0);
    expect(d.payment.status).toBe("amount_mismatch");
    expect(d.events[0]).toMatchObject({ type: "payment.amount_mismatch", data: { orderAmount: 10_000, orderCurrency: "USD" } });
  });

  // OutSum is in the shop's currency (RUB): RoboKassa converts OutSumCurrency to roubles at
  // initiation, and decide.ts's own comment says the order's currency "must be the shop's".
  it("labels the received money in the shop's currency when the order is in another one", () => {
    const d = applied(decide(notice(), order({ currency: "JPY", amount: 100 })));
    expect(d.events[0]!.type).toBe("payment.amount_mismatch");
    expect(d.payment.currency).toBe("RUB");
    expect(d.payment.amount).toBe(10_000);
    expect(d.events[0]).toMatchObject({ amount: 10_000, currency: "RUB" });
  });

  it("records a notice for an unknown order as payment.succeeded, with no order status", () => {
    const d = applied(decide(notice(), null));
    expect(d).not.toHaveProperty("orderStatus");
    expect(d.payment).toMatchObject({ status: "paid", amount: 10_000, currency: "RUB", contribution: 0 });
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

  it("records a test-mode notice for a matching order without moving the order", () => {
    const d = applied(decide(notice({ IsTest: "1", OutSum: "4710.00", InvId: "63" }), order({ orderId: "63", amount: 471_000 })));
    expect(d).not.toHaveProperty("orderStatus");
    expect(d.payment).toMatchObject({ livemode: false, contribution: 0, amount: 471_000 });
    expect(d.events[0]).toMatchObject({ type: "payment.succeeded", amount: 471_000, currency: "RUB" });
  });

  it("marks an order already paid by another payment overpaid", () => {
    const d = applied(decide(notice(), order({ status: "paid", paidAmount: 10_000 })));
    expect(d.orderStatus).toBe("overpaid");
    expect(d.payment.contribution).toBe(10_000);
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
