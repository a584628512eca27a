import type { OrderRecord, OrderStatus, PaymentDecision, PaymentRecord } from "@payhooks/core";
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
    refundable: false,
    status: "awaiting_payment",
    paidAmount: 0,
    references: { payram: REFERENCE_ID },
    items: [],
    createdAt: CREATED_AT,
    updatedAt: CREATED_AT,
    v: "1",
    ...overrides,
  };
}

function payment(state: PayramState, overrides: Partial<PaymentRecord> = {}): PaymentRecord {
  return {
    provider: "payram",
    providerPaymentId: REFERENCE_ID,
    orderId: "ord_1001",
    status: state.status ?? "UNDEFINED",
    amount: state.filled,
    currency: "USD",
    at: CREATED_AT,
    livemode: true,
    contribution: 0,
    state,
    v: "1",
    ...overrides,
  };
}

/** Narrows to the applied branch, failing the test with the reason otherwise. */
function applied(decision: PaymentDecision): Extract<PaymentDecision, { kind: "applied" }> {
  if (decision.kind !== "applied") throw new Error(`expected applied, got ignored: ${decision.reason}`);
  return decision;
}

describe("decidePayram", () => {
  it("marks a USD order paid on FILLED, contributing the amount received", () => {
    const decision = decidePayram(notification(), RECEIVED_AT_MS, { payment: null, order: order() });
    expect(decision).toEqual({
      kind: "applied",
      payment: {
        status: "FILLED",
        amount: 4999,
        currency: "USD",
        at: "2024-06-11T10:20:34.000Z",
        livemode: true,
        contribution: 4999,
        state: { status: "FILLED", filled: 4999, unknownSeen: false },
      },
      orderStatus: "paid",
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
  });

  it("takes the requested amount as received for an old-spec FILLED without filled_amount", () => {
    const n = notification({ filledAmount: null, filledRaw: null, amount: 4999 });
    const decision = applied(decidePayram(n, RECEIVED_AT_MS, { payment: null, order: order() }));
    expect(decision.payment.contribution).toBe(4999);
    expect(decision.payment.state).toEqual({ status: "FILLED", filled: 4999, unknownSeen: false });
    expect(decision.orderStatus).toBe("paid");
  });

  it("contributes filled_amount_in_usd when a USD order is paid in USDT", () => {
    const n = notification({
      currency: "USDT",
      amount: 25_000_000,
      filledAmount: 25_000_000,
      filledAmountUsd: 2499,
      filledRaw: "25.000000",
    });
    const decision = applied(decidePayram(n, RECEIVED_AT_MS, { payment: null, order: order({ amount: 2500 }) }));
    expect(decision.payment.contribution).toBe(2499);
    expect(decision.payment.amount).toBe(25_000_000); // the payment itself stays in USDT units
    expect(decision.payment.currency).toBe("USDT");
    expect(decision.events[0]).toMatchObject({ amount: 25_000_000, currency: "USDT" });
  });

  it("contributes nothing when the currencies differ and the order is not in USD", () => {
    const n = notification({ currency: "USDT", amount: 25_000_000, filledAmount: 25_000_000, filledAmountUsd: 2499 });
    const decision = applied(decidePayram(n, RECEIVED_AT_MS, { payment: null, order: order({ currency: "EUR" }) }));
    expect(decision.payment.contribution).toBe(0);
  });

  it("contributes the new total of a growing partial fill", () => {
    const n = notification({ status: "PARTIALLY_FILLED", filledAmount: 3000, filledRaw: "30.00" });
    const current = {
      payment: payment({ status: "PARTIALLY_FILLED", filled: 1000, unknownSeen: false }, { contribution: 1000 }),
      order: order({ status: "partially_paid", paidAmount: 1000 }),
    };
    const decision = applied(decidePayram(n, RECEIVED_AT_MS, current));
    expect(decision.payment.contribution).toBe(3000);
    expect(decision.orderStatus).toBe("partially_paid");
  });

  it.each<[OrderStatus, OrderStatus | undefined]>([
    ["awaiting_payment", "cancelled"],
    ["reserved", "cancelled"],
    ["paid", undefined],
    ["partially_paid", undefined],
    ["overpaid", undefined],
    ["refunded", undefined],
  ])("on CANCELLED, an order that is %s becomes %p", (status, expected) => {
    const n = notification({ status: "CANCELLED", rawStatus: "CANCELLED", filledAmount: null, filledRaw: null });
    const current = { payment: payment({ status: "OPEN", filled: null, unknownSeen: false }), order: order({ status }) };
    const decision = applied(decidePayram(n, RECEIVED_AT_MS, current));
    expect(decision.orderStatus).toBe(expected);
    expect(decision.events.map((e) => e.type)).toEqual(["payment.cancelled"]);
  });

  it("applies a payment that matches no order, without an order status or contribution", () => {
    const decision = applied(decidePayram(notification(), RECEIVED_AT_MS, { payment: null, order: null }));
    expect(decision).not.toHaveProperty("orderStatus");
    expect(decision.payment.contribution).toBe(0);
    expect(decision.payment.status).toBe("FILLED");
    expect(decision.events.map((e) => e.type)).toEqual(["payment.succeeded"]);
  });

  it.each<[PayramStatus, string, OrderStatus | undefined, number | null]>([
    // status, event type, order status, event amount (requested for OPEN/CANCELLED/UNDEFINED, else received)
    ["OPEN", "payment.pending", undefined, 4999],
    ["PARTIALLY_FILLED", "payment.partially_paid", "partially_paid", 2000],
    ["FILLED", "payment.succeeded", "paid", 2000],
    ["OVER_FILLED", "payment.overpaid", "overpaid", 2000],
    ["CANCELLED", "payment.cancelled", "cancelled", 4999],
    ["UNDEFINED", "payment.unknown_status", undefined, 4999],
  ])("turns a first %s into %s (order → %p, event amount %p)", (status, type, orderStatus, amount) => {
    const n = notification({ status, rawStatus: status, amount: 4999, filledAmount: 2000, filledRaw: "20.00" });
    const decision = applied(decidePayram(n, RECEIVED_AT_MS, { payment: null, order: order() }));
    expect(decision.events).toHaveLength(1);
    expect(decision.events[0]).toMatchObject({ type, amount, currency: "USD" });
    expect(decision.orderStatus).toBe(orderStatus);
  });

  it("keeps the raw status text in the event data", () => {
    const n = notification({ status: "UNDEFINED", rawStatus: "REFUND_PENDING", filledAmount: null, filledRaw: null });
    const decision = applied(decidePayram(n, RECEIVED_AT_MS, { payment: null, order: order() }));
    expect(decision.events[0]?.data).toEqual({ status: "REFUND_PENDING", requestedAmount: 4999 });
    expect(decision.payment.status).toBe("UNDEFINED"); // no known status seen yet
  });

  it("leaves the stored status alone when an unknown status arrives after FILLED", () => {
    const current = { payment: payment({ status: "FILLED", filled: 4999, unknownSeen: false }), order: order({ status: "paid" }) };
    const n = notification({ status: "UNDEFINED", rawStatus: "SETTLED", filledAmount: null, filledRaw: null });
    const decision = applied(decidePayram(n, RECEIVED_AT_MS, current));
    expect(decision.payment.status).toBe("FILLED");
    expect(decision.payment.state).toEqual({ status: "FILLED", filled: 4999, unknownSeen: true });
    expect(decision.orderStatus).toBeUndefined();
  });

  it("uses the receive time when Payram sent no timestamp", () => {
    const decision = applied(decidePayram(notification({ timestampMs: null }), RECEIVED_AT_MS, { payment: null, order: order() }));
    expect(decision.payment.at).toBe("2023-11-14T22:13:20.000Z");
    expect(decision.events[0]?.occurredAt).toBe("2023-11-14T22:13:20.000Z");
  });

  it("ignores a redelivered FILLED as a duplicate", () => {
    const current = {
      payment: payment({ status: "FILLED", filled: 4999, unknownSeen: false }, { contribution: 4999 }),
      order: order({ status: "paid", paidAmount: 4999 }),
    };
    expect(decidePayram(notification(), RECEIVED_AT_MS, current)).toEqual({ kind: "ignored", reason: "duplicate" });
  });

  it("ignores a late OPEN after FILLED as stale", () => {
    const current = { payment: payment({ status: "FILLED", filled: 4999, unknownSeen: false }), order: order({ status: "paid" }) };
    const n = notification({ status: "OPEN", rawStatus: "OPEN", filledAmount: null, filledRaw: null });
    expect(decidePayram(n, RECEIVED_AT_MS, current)).toEqual({ kind: "ignored", reason: "stale" });
  });
});

describe("decidePayram never uncounts received money", () => {
  it("keeps a stablecoin payment's USD contribution when a later status carries no USD figure", () => {
    const stored = payment(
      { status: "PARTIALLY_FILLED", filled: 20_000_000, unknownSeen: false },
      { currency: "USDT", contribution: 2000 },
    );
    const cancelled = applied(
      decidePayram(
        notification({ status: "CANCELLED", rawStatus: "CANCELLED", currency: "USDT", amount: 50_000_000, filledAmount: null, filledAmountUsd: null, filledRaw: null }),
        RECEIVED_AT_MS,
        { payment: stored, order: order({ status: "partially_paid", paidAmount: 2000 }) },
      ),
    );
    expect(cancelled.payment.contribution).toBe(2000);
    const unknown = applied(
      decidePayram(
        notification({ status: "UNDEFINED", rawStatus: "SETTLING", currency: "USDT", filledAmount: null, filledAmountUsd: null, filledRaw: null }),
        RECEIVED_AT_MS,
        { payment: stored, order: order({ status: "partially_paid", paidAmount: 2000 }) },
      ),
    );
    expect(unknown.payment.contribution).toBe(2000);
  });
});
