import { countToward, deriveOrder, type OrderRecord, type PaymentDecision, type PaymentFacts, type PaymentRecord } from "@payhooks/core";
import { decidePayram } from "./decide";
import type { PayramNotification, PayramStatus } from "./schemas";
import type { PayramState } from "./state-machine";

/** Fixed clock: when the worker received the notification (2023-11-14T22:13:20.000Z). */
const RECEIVED_AT_MS = 1_700_000_000_000;
/** Payram's own `timestamp`, in ms (2024-06-11T10:20:34.000Z). */
const PAYRAM_TIMESTAMP_MS = 1_718_101_234_000;
const REFERENCE_ID = "3f6c1a52-9b7e-4d1a-8c2e-5a0f7e9d2b41";
const CREATED_AT = "2024-06-11T10:00:00.000Z";

function notification(overrides: Partial<PayramNotification> = {}): PayramNotification {
  return {
    referenceId: REFERENCE_ID,
    status: "FILLED",
    rawStatus: overrides.status ?? "FILLED",
    currency: "USD",
    amount: 4999,
    filledAmount: 4999,
    filledAmountUsd: null,
    timestampMs: PAYRAM_TIMESTAMP_MS,
    filledRaw: "49.99",
    ...overrides,
  };
}

function order(overrides: Partial<OrderRecord> = {}): OrderRecord {
  return {
    orderId: "ord_1001",
    amount: 4999,
    currency: "USD",
    livemode: true,
    refundable: false,
    status: "awaiting_payment",
    paidAmount: 0,
    references: { payram: REFERENCE_ID },
    items: [],
    createdAt: CREATED_AT,
    updatedAt: CREATED_AT,
    payments: {},
    v: "1",
    ...overrides,
  };
}

/** Facts of a live USD payment requested for 49.99 and not paid yet; tests change what they need. */
function facts(overrides: Partial<PaymentFacts> = {}): PaymentFacts {
  return { status: "pending", currency: "USD", requested: 4999, settled: 0, refunded: 0, livemode: true, ...overrides };
}

/** A stored payment in reducer `state`, settled what that state has received. */
function payment(state: PayramState, f: Partial<PaymentFacts> = {}): PaymentRecord {
  return {
    provider: "payram",
    providerPaymentId: REFERENCE_ID,
    orderId: "ord_1001",
    attached: true,
    facts: facts({ settled: state.filled ?? 0, ...f }),
    providerStatus: state.status ?? "UNDEFINED",
    at: CREATED_AT,
    state,
    v: "1",
  };
}

/** Narrows to the applied branch, failing the test with the reason otherwise. */
function applied(decision: PaymentDecision): Extract<PaymentDecision, { kind: "applied" }> {
  if (decision.kind !== "applied") throw new Error(`expected applied, got ignored: ${decision.reason}`);
  return decision;
}

describe("decidePayram", () => {
  it("reports a FILLED USD payment as succeeded facts: requested and settled the amount, live, no order decided", () => {
    const decision = decidePayram(notification(), RECEIVED_AT_MS, { payment: null, order: order() });
    expect(decision).toEqual({
      kind: "applied",
      payment: {
        facts: { status: "succeeded", currency: "USD", requested: 4999, settled: 4999, refunded: 0, livemode: true },
        providerStatus: "FILLED",
        at: "2024-06-11T10:20:34.000Z",
        state: { status: "FILLED", filled: 4999, unknownSeen: false },
      },
      events: [
        {
          type: "payment.succeeded",
          amount: 4999,
          currency: "USD",
          occurredAt: "2024-06-11T10:20:34.000Z",
          data: { status: "FILLED", requestedAmount: 4999, filledAmount: 4999 },
        },
      ],
    });
    // The core pays the order with these facts.
    expect(deriveOrder(order(), [applied(decision).payment.facts])).toEqual({ paidAmount: 4999, status: "paid" });
  });

  it("takes the requested amount as settled for an old-spec FILLED without filled_amount", () => {
    const n = notification({ filledAmount: null, filledRaw: null, amount: 4999 });
    const decision = applied(decidePayram(n, RECEIVED_AT_MS, { payment: null, order: order() }));
    expect(decision.payment.facts).toMatchObject({ status: "succeeded", requested: 4999, settled: 4999 });
    expect(decision.payment.state).toEqual({ status: "FILLED", filled: 4999, unknownSeen: false });
    expect(deriveOrder(order(), [decision.payment.facts]).status).toBe("paid");
  });

  it("states what a FILLED payment was requested for, so one made for 0.01 does not pay a 49.99 order", () => {
    const n = notification({ amount: 1, filledAmount: 1, filledRaw: "0.01" });
    const decision = applied(decidePayram(n, RECEIVED_AT_MS, { payment: null, order: order() }));
    expect(decision.payment.facts).toEqual({ status: "succeeded", currency: "USD", requested: 1, settled: 1, refunded: 0, livemode: true });
    expect(decision.events[0]).toMatchObject({ type: "payment.succeeded", amount: 1 }); // the core reports the mismatch
    expect(countToward(order(), decision.payment.facts)).toEqual({ counts: false, reason: "amount" });
    expect(deriveOrder(order(), [decision.payment.facts])).toEqual({ paidAmount: 0, status: "awaiting_payment" });
  });

  it("keeps a stablecoin payment in its own units; the core counts it at face value, not filled_amount_in_usd", () => {
    const n = notification({
      currency: "USDT",
      amount: 25_000_000,
      filledAmount: 25_000_000,
      filledAmountUsd: 2499,
      filledRaw: "25.000000",
    });
    const decision = applied(decidePayram(n, RECEIVED_AT_MS, { payment: null, order: order({ amount: 2500 }) }));
    expect(decision.payment.facts).toEqual({
      status: "succeeded",
      currency: "USDT",
      requested: 25_000_000,
      settled: 25_000_000,
      refunded: 0,
      livemode: true,
    });
    expect(decision.events[0]).toMatchObject({ amount: 25_000_000, currency: "USDT" });
    expect(decision.events[0]!.data).toMatchObject({ filledAmountUsd: 2499 }); // reported, never counted
    expect(deriveOrder(order({ amount: 2500 }), [decision.payment.facts])).toEqual({ paidAmount: 2500, status: "paid" });
  });

  it("reports stablecoin money for a non-USD order as is; the core does not count it", () => {
    const n = notification({ currency: "USDT", amount: 25_000_000, filledAmount: 25_000_000, filledAmountUsd: 2499 });
    const decision = applied(decidePayram(n, RECEIVED_AT_MS, { payment: null, order: order({ currency: "EUR" }) }));
    expect(decision.payment.facts).toMatchObject({ currency: "USDT", requested: 25_000_000, settled: 25_000_000 });
    expect(countToward(order({ currency: "EUR", amount: 2500 }), decision.payment.facts)).toEqual({ counts: false, reason: "currency" });
  });

  it("settles the new total of a growing partial fill", () => {
    const n = notification({ status: "PARTIALLY_FILLED", rawStatus: "PARTIALLY_FILLED", filledAmount: 3000, filledRaw: "30.00" });
    const current = {
      payment: payment({ status: "PARTIALLY_FILLED", filled: 1000, unknownSeen: false }, { status: "partially_paid" }),
      order: order({ status: "partially_paid", paidAmount: 1000 }),
    };
    const decision = applied(decidePayram(n, RECEIVED_AT_MS, current));
    expect(decision.payment.facts).toMatchObject({ status: "partially_paid", requested: 4999, settled: 3000 });
    expect(deriveOrder(order(), [decision.payment.facts])).toEqual({ paidAmount: 3000, status: "partially_paid" });
  });

  it.each<[string, PayramState, number, "awaiting_payment" | "partially_paid"]>([
    ["an OPEN link with no money", { status: "OPEN", filled: null, unknownSeen: false }, 0, "awaiting_payment"],
    ["a partly filled link", { status: "PARTIALLY_FILLED", filled: 1000, unknownSeen: false }, 1000, "partially_paid"],
  ])("on CANCELLED of %s, the facts keep what was settled and the core never undoes it", (_label, state, settled, orderStatus) => {
    const n = notification({ status: "CANCELLED", rawStatus: "CANCELLED", filledAmount: null, filledRaw: null });
    const decision = applied(decidePayram(n, RECEIVED_AT_MS, { payment: payment(state), order: order() }));
    expect(decision.payment.facts).toMatchObject({ status: "cancelled", requested: 4999, settled, refunded: 0 });
    expect(decision.payment.providerStatus).toBe("CANCELLED");
    expect(decision.events.map((e) => e.type)).toEqual(["payment.cancelled"]);
    expect(deriveOrder(order(), [decision.payment.facts])).toEqual({ paidAmount: settled, status: orderStatus });
  });

  it("records money that arrives after the link expired (CANCELLED → FILLED)", () => {
    const current = { payment: payment({ status: "CANCELLED", filled: null, unknownSeen: false }, { status: "cancelled" }), order: order() };
    const decision = applied(decidePayram(notification(), RECEIVED_AT_MS, current));
    expect(decision.payment.facts).toMatchObject({ status: "succeeded", settled: 4999 });
    expect(deriveOrder(order(), [decision.payment.facts]).status).toBe("paid");
  });

  it("decides a payment the same whether or not it matches an order", () => {
    const withoutOrder = applied(decidePayram(notification(), RECEIVED_AT_MS, { payment: null, order: null }));
    expect(withoutOrder).toEqual(decidePayram(notification(), RECEIVED_AT_MS, { payment: null, order: order() }));
    expect(withoutOrder).not.toHaveProperty("orderStatus");
    expect(withoutOrder.payment.facts.status).toBe("succeeded");
    expect(withoutOrder.events.map((e) => e.type)).toEqual(["payment.succeeded"]);
  });

  it.each<[PayramStatus, string, PaymentFacts["status"], number, number | null]>([
    // status, event type, facts status, settled, event amount (requested for OPEN/CANCELLED/UNDEFINED, else received)
    ["OPEN", "payment.pending", "pending", 2000, 4999],
    ["PARTIALLY_FILLED", "payment.partially_paid", "partially_paid", 2000, 2000],
    ["FILLED", "payment.succeeded", "succeeded", 2000, 2000],
    ["OVER_FILLED", "payment.overpaid", "overpaid", 2000, 2000],
    ["CANCELLED", "payment.cancelled", "cancelled", 2000, 4999],
    ["UNDEFINED", "payment.unknown_status", "unknown", 0, 4999],
  ])("turns a first %s into %s (facts %s, settled %p, event amount %p)", (status, type, factsStatus, settled, amount) => {
    const n = notification({ status, rawStatus: status, amount: 4999, filledAmount: 2000, filledRaw: "20.00" });
    const decision = applied(decidePayram(n, RECEIVED_AT_MS, { payment: null, order: order() }));
    expect(decision.events).toHaveLength(1);
    expect(decision.events[0]).toMatchObject({ type, amount, currency: "USD" });
    expect(decision.payment.facts).toEqual({ status: factsStatus, currency: "USD", requested: 4999, settled, refunded: 0, livemode: true });
    expect(decision.payment.providerStatus).toBe(status);
  });

  it("keeps the raw status text in the event data and as the provider status", () => {
    const n = notification({ status: "UNDEFINED", rawStatus: "REFUND_PENDING", filledAmount: null, filledRaw: null });
    const decision = applied(decidePayram(n, RECEIVED_AT_MS, { payment: null, order: order() }));
    expect(decision.events[0]?.data).toEqual({ status: "REFUND_PENDING", requestedAmount: 4999 });
    expect(decision.payment.facts.status).toBe("unknown"); // no known status seen yet
    expect(decision.payment.providerStatus).toBe("REFUND_PENDING");
  });

  it("leaves the stored status and money alone when an unknown status arrives after FILLED", () => {
    const current = { payment: payment({ status: "FILLED", filled: 4999, unknownSeen: false }, { status: "succeeded" }), order: order() };
    const n = notification({ status: "UNDEFINED", rawStatus: "SETTLED", filledAmount: null, filledRaw: null });
    const decision = applied(decidePayram(n, RECEIVED_AT_MS, current));
    expect(decision.payment.facts).toEqual({ status: "succeeded", currency: "USD", requested: 4999, settled: 4999, refunded: 0, livemode: true });
    expect(decision.payment.providerStatus).toBe("FILLED");
    expect(decision.payment.state).toEqual({ status: "FILLED", filled: 4999, unknownSeen: true });
  });

  it("uses the receive time when Payram sent no timestamp", () => {
    const decision = applied(decidePayram(notification({ timestampMs: null }), RECEIVED_AT_MS, { payment: null, order: order() }));
    expect(decision.payment.at).toBe("2023-11-14T22:13:20.000Z");
    expect(decision.events[0]?.occurredAt).toBe("2023-11-14T22:13:20.000Z");
  });

  it("ignores a redelivered FILLED as a duplicate", () => {
    const current = {
      payment: payment({ status: "FILLED", filled: 4999, unknownSeen: false }, { status: "succeeded" }),
      order: order({ status: "paid", paidAmount: 4999 }),
    };
    expect(decidePayram(notification(), RECEIVED_AT_MS, current)).toEqual({ kind: "ignored", reason: "duplicate" });
  });

  it("ignores a late OPEN after FILLED as stale", () => {
    const current = { payment: payment({ status: "FILLED", filled: 4999, unknownSeen: false }, { status: "succeeded" }), order: order() };
    const n = notification({ status: "OPEN", rawStatus: "OPEN", filledAmount: null, filledRaw: null });
    expect(decidePayram(n, RECEIVED_AT_MS, current)).toEqual({ kind: "ignored", reason: "stale" });
  });
});

describe("decidePayram never uncounts received money", () => {
  it("keeps a stablecoin payment's settled amount (and what it was requested for) when a later status carries none", () => {
    const stored = payment(
      { status: "PARTIALLY_FILLED", filled: 20_000_000, unknownSeen: false },
      { status: "partially_paid", currency: "USDT", requested: 50_000_000 },
    );
    const usdOrder = order({ amount: 5000, status: "partially_paid", paidAmount: 2000 });
    const cancelled = applied(
      decidePayram(
        notification({ status: "CANCELLED", rawStatus: "CANCELLED", currency: "USDT", amount: 50_000_000, filledAmount: null, filledAmountUsd: null, filledRaw: null }),
        RECEIVED_AT_MS,
        { payment: stored, order: usdOrder },
      ),
    );
    expect(cancelled.payment.facts).toMatchObject({ status: "cancelled", currency: "USDT", requested: 50_000_000, settled: 20_000_000 });
    expect(deriveOrder(usdOrder, [cancelled.payment.facts])).toEqual({ paidAmount: 2000, status: "partially_paid" });

    const unknown = applied(
      decidePayram(
        notification({ status: "UNDEFINED", rawStatus: "SETTLING", currency: "USDT", amount: null, filledAmount: null, filledAmountUsd: null, filledRaw: null }),
        RECEIVED_AT_MS,
        { payment: stored, order: usdOrder },
      ),
    );
    expect(unknown.payment.facts).toMatchObject({ status: "partially_paid", requested: 50_000_000, settled: 20_000_000 });
    expect(deriveOrder(usdOrder, [unknown.payment.facts]).paidAmount).toBe(2000);
  });

  it("never lowers settled below what the stored facts already say", () => {
    const stored = payment({ status: "PARTIALLY_FILLED", filled: 1000, unknownSeen: false }, { status: "partially_paid", settled: 1500 });
    const n = notification({ status: "PARTIALLY_FILLED", rawStatus: "PARTIALLY_FILLED", filledAmount: 1200, filledRaw: "12.00" });
    expect(applied(decidePayram(n, RECEIVED_AT_MS, { payment: stored, order: order() })).payment.facts.settled).toBe(1500);
  });
});
