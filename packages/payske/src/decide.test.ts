import type Stripe from "stripe";
import type { OrderRecord, PaymentDecision, PaymentRecord } from "@payhooks/core";
import { INITIAL_PAYSKE_STATE, decidePayske, type PayskeState } from "./decide";
import { parsePayskeEvent, toPayskeNotification, type PayskeNotification } from "./schemas";

/*
 * Drives decidePayske through a tiny in-memory ledger that applies decisions exactly the way
 * packages/core/src/ledger.ts applyPayment does, fed with Stripe-shaped events (providers.md §3)
 * that go through parsePayskeEvent + toPayskeNotification as the worker does.
 */

/** 2024-06-11T10:20:34.000Z, in unix seconds as Stripe's `created`. */
const T0 = 1_718_101_234;
const iso = (createdSec: number) => new Date(createdSec * 1000).toISOString();
const ORDER_ID = "ord_1001";
const PI_ID = "pi_3PQhKx2eZvKYlo2C1a8Vt0Wq";
const CH_ID = "ch_3PQhKx2eZvKYlo2C1lq2n6Xb";
const CS_ID = "cs_live_a1Yf9G7kPz3Q0rWb2cVd4eXf6gHi8jKl0mNo2pQr4sTu6vWx8yZ";
const ORDER_KEY = "order_id";
const CREATED_AT = "2024-06-11T10:00:00.000Z";

// ---- Stripe-shaped fixtures (each a Pick of stripe-node's type, so the shapes type-check) ----

type PaymentIntentFixture = Pick<
  Stripe.PaymentIntent,
  "id" | "object" | "amount" | "amount_received" | "currency" | "status" | "created" | "livemode" | "metadata" | "latest_charge"
> & { last_payment_error: Pick<Stripe.PaymentIntent.LastPaymentError, "type" | "code" | "decline_code"> | null };
type SessionFixture = Pick<
  Stripe.Checkout.Session,
  "id" | "object" | "mode" | "status" | "payment_status" | "amount_total" | "currency" | "client_reference_id" | "metadata" | "livemode" | "created"
> & { payment_intent: string | null };
type ChargeFixture = Pick<
  Stripe.Charge,
  "id" | "object" | "amount" | "amount_captured" | "amount_refunded" | "refunded" | "currency" | "metadata" | "livemode" | "created" | "status"
> & { payment_intent: string | null };
type DisputeFixture = Pick<Stripe.Dispute, "id" | "object" | "amount" | "currency" | "reason" | "status" | "livemode" | "created" | "metadata"> & {
  charge: string;
  payment_intent: string | null;
};
type EventFixture = Omit<Stripe.EventBase, "data"> & { data: { object: object } };

function pi(overrides: Partial<PaymentIntentFixture> = {}): PaymentIntentFixture {
  return {
    id: PI_ID,
    object: "payment_intent",
    amount: 1000,
    amount_received: 1000,
    currency: "usd",
    status: "succeeded",
    created: T0 - 60,
    livemode: true,
    metadata: { order_id: ORDER_ID },
    latest_charge: CH_ID,
    last_payment_error: null,
    ...overrides,
  };
}

function failedPi(overrides: Partial<PaymentIntentFixture> = {}): PaymentIntentFixture {
  return pi({
    status: "requires_payment_method",
    amount_received: 0,
    latest_charge: null,
    last_payment_error: { type: "card_error", code: "card_declined", decline_code: "insufficient_funds" },
    ...overrides,
  });
}

function checkoutSession(overrides: Partial<SessionFixture> = {}): SessionFixture {
  return {
    id: CS_ID,
    object: "checkout.session",
    mode: "payment",
    status: "complete",
    payment_status: "paid",
    payment_intent: PI_ID,
    amount_total: 1000,
    currency: "usd",
    client_reference_id: ORDER_ID,
    metadata: {},
    livemode: true,
    created: T0 - 600,
    ...overrides,
  };
}

/** A Charge of 1000 with Stripe's cumulative amount_refunded. */
function refundedCharge(amountRefunded: number, overrides: Partial<ChargeFixture> = {}): ChargeFixture {
  const amount = overrides.amount ?? 1000;
  return {
    id: CH_ID,
    object: "charge",
    amount,
    amount_captured: amount,
    amount_refunded: amountRefunded,
    refunded: amountRefunded === amount,
    currency: "usd",
    payment_intent: PI_ID,
    metadata: { order_id: ORDER_ID },
    livemode: true,
    created: T0 - 60,
    status: "succeeded",
    ...overrides,
  };
}

function dispute(id: string, overrides: Partial<DisputeFixture> = {}): DisputeFixture {
  return {
    id,
    object: "dispute",
    amount: 1000,
    currency: "usd",
    reason: "fraudulent",
    status: "needs_response",
    charge: CH_ID,
    payment_intent: PI_ID,
    livemode: true,
    created: T0,
    metadata: {},
    ...overrides,
  };
}

function evt(id: string, type: Stripe.Event.Type, object: object, created: number, livemode = true): EventFixture {
  return {
    id,
    object: "event",
    api_version: "2024-06-20",
    created,
    livemode,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
    data: { object },
  };
}

/** The worker's path: wire JSON → parsePayskeEvent → toPayskeNotification. */
function notification(fixture: EventFixture, orderKey = ORDER_KEY): PayskeNotification {
  const n = toPayskeNotification(parsePayskeEvent(JSON.parse(JSON.stringify(fixture)) as unknown), orderKey);
  if (!n) throw new Error(`${fixture.type} mapped to no change`);
  return n;
}

// ---- the ledger, simulated ----

type Current = { payment: PaymentRecord | null; order: OrderRecord | null };
type Applied = Extract<PaymentDecision, { kind: "applied" }>;
type Emitted = Applied["events"][number] & { providerPaymentId: string; orderId: string | null; livemode: boolean };

function order(overrides: Partial<OrderRecord> = {}): OrderRecord {
  return {
    orderId: ORDER_ID,
    amount: 1000,
    currency: "USD",
    refundable: true,
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

/**
 * Applies a decision the way ledger.ts applyPayment writes it: the payment hash from
 * decision.payment (state through JSON, as Redis stores it), and, when the order exists,
 * paidAmount = order.paidAmount − counted + contribution, where counted is the previous
 * contribution only if the payment was already on this very order; status from orderStatus.
 */
function applyToLedger(decision: Applied, current: Current, ids: { paymentId: string; orderId: string | null }): Current {
  const p = decision.payment;
  const payment: PaymentRecord = {
    provider: "payske",
    providerPaymentId: ids.paymentId,
    orderId: ids.orderId,
    status: p.status,
    amount: p.amount,
    currency: p.currency,
    at: p.at,
    livemode: p.livemode,
    contribution: p.contribution,
    state: JSON.parse(JSON.stringify(p.state)) as Record<string, unknown>,
    v: String(Number(current.payment?.v ?? "0") + 1),
  };
  let nextOrder = current.order;
  if (nextOrder) {
    const counted = current.payment && current.payment.orderId === nextOrder.orderId ? current.payment.contribution : 0;
    nextOrder = {
      ...nextOrder,
      status: decision.orderStatus ?? nextOrder.status,
      paidAmount: nextOrder.paidAmount - counted + p.contribution,
      v: String(Number(nextOrder.v) + 1),
    };
  }
  return { payment, order: nextOrder };
}

class World {
  readonly orders = new Map<string, OrderRecord>();
  readonly payments = new Map<string, PaymentRecord>();
  readonly emitted: Emitted[] = [];

  constructor(...orders: OrderRecord[]) {
    for (const o of orders) this.orders.set(o.orderId, o);
  }

  /** One worker run: read payment and order as applyPayment does, decide, write. */
  deliver(fixture: EventFixture, orderKey = ORDER_KEY): PaymentDecision {
    const n = notification(fixture, orderKey);
    const payment = this.payments.get(n.paymentId) ?? null;
    // A payment recorded without an order is matched when a later notification names one.
    const orderId = payment ? (payment.orderId ?? n.orderId) : n.orderId;
    const current: Current = { payment, order: orderId ? (this.orders.get(orderId) ?? null) : null };
    const decision = decidePayske(n, current);
    if (decision.kind === "applied") {
      const next = applyToLedger(decision, current, { paymentId: n.paymentId, orderId });
      this.payments.set(n.paymentId, next.payment!);
      if (next.order) this.orders.set(next.order.orderId, next.order);
      for (const e of decision.events) {
        this.emitted.push({ ...e, providerPaymentId: n.paymentId, orderId: current.order ? orderId : null, livemode: decision.payment.livemode });
      }
    }
    return decision;
  }

  order(id = ORDER_ID): OrderRecord {
    const o = this.orders.get(id);
    if (!o) throw new Error(`no order ${id}`);
    return o;
  }

  payment(id = PI_ID): PaymentRecord {
    const p = this.payments.get(id);
    if (!p) throw new Error(`no payment ${id}`);
    return p;
  }

  state(id = PI_ID): PayskeState {
    return this.payment(id).state as PayskeState;
  }

  types(): string[] {
    return this.emitted.map((e) => `${e.type}:${e.amount ?? "null"}`);
  }
}

function applied(decision: PaymentDecision): Applied {
  if (decision.kind !== "applied") throw new Error(`expected applied, got ignored: ${decision.reason}`);
  return decision;
}

function ignored(decision: PaymentDecision): string {
  if (decision.kind !== "ignored") throw new Error(`expected ignored, got applied: ${decision.events.map((e) => e.type).join(", ")}`);
  return decision.reason;
}

// ---- events used across tests ----

const succeededEvt = (id = "evt_succ_1", created = T0, object: object = pi()) => evt(id, "payment_intent.succeeded", object, created);
const failedEvt = (id: string, created: number, object: object = failedPi()) => evt(id, "payment_intent.payment_failed", object, created);
const refundEvt = (id: string, amountRefunded: number, created: number, overrides: Partial<ChargeFixture> = {}) =>
  evt(id, "charge.refunded", refundedCharge(amountRefunded, overrides), created);
const disputeEvt = (id: string, disputeId: string, created: number) => evt(id, "charge.dispute.created", dispute(disputeId), created);

describe("decidePayske: success", () => {
  it("marks the order paid on payment_intent.succeeded, contributing the amount", () => {
    const world = new World(order());
    const decision = world.deliver(succeededEvt());
    expect(decision).toEqual({
      kind: "applied",
      payment: {
        status: "succeeded",
        amount: 1000,
        currency: "USD",
        at: iso(T0),
        livemode: true,
        contribution: 1000,
        state: {
          ...INITIAL_PAYSKE_STATE,
          status: "succeeded",
          received: 1000,
          counted: true,
          createdMs: T0 * 1000,
          seen: ["evt_succ_1"],
        },
      },
      orderStatus: "paid",
      events: [
        {
          type: "payment.succeeded",
          amount: 1000,
          currency: "USD",
          occurredAt: "2024-06-11T10:20:34.000Z",
          data: { eventId: "evt_succ_1", eventType: "payment_intent.succeeded" },
        },
      ],
    });
    expect(world.order()).toMatchObject({ status: "paid", paidAmount: 1000 });
    expect(world.emitted).toEqual([expect.objectContaining({ type: "payment.succeeded", orderId: ORDER_ID, providerPaymentId: PI_ID, livemode: true })]);
  });

  it("marks the order paid on checkout.session.completed with payment_status paid, order from client_reference_id", () => {
    const world = new World(order());
    const decision = applied(world.deliver(evt("evt_cs_1", "checkout.session.completed", checkoutSession(), T0)));
    expect(decision.orderStatus).toBe("paid");
    expect(decision.events).toEqual([
      {
        type: "payment.succeeded",
        amount: 1000,
        currency: "USD",
        occurredAt: iso(T0),
        data: { eventId: "evt_cs_1", eventType: "checkout.session.completed" },
      },
    ]);
    expect(world.order()).toMatchObject({ status: "paid", paidAmount: 1000 });
    expect(world.payment(PI_ID).orderId).toBe(ORDER_ID);
  });

  it("counts a checkout payment once when both checkout.session.completed and payment_intent.succeeded arrive", () => {
    const world = new World(order());
    applied(world.deliver(evt("evt_cs_1", "checkout.session.completed", checkoutSession(), T0)));
    // The PaymentIntent of a Checkout Session carries no order metadata of its own.
    expect(ignored(world.deliver(succeededEvt("evt_succ_1", T0 + 1, pi({ metadata: {} }))))).toBe("already succeeded");
    expect(world.order()).toMatchObject({ status: "paid", paidAmount: 1000 });
    expect(world.types()).toEqual(["payment.succeeded:1000"]);
  });

  it("reads the order from a custom metadata key", () => {
    const world = new World(order({ orderId: "SO-77" }));
    const decision = applied(world.deliver(succeededEvt("evt_succ_1", T0, pi({ metadata: { shop_order: "SO-77" } })), "shop_order"));
    expect(decision.orderStatus).toBe("paid");
    expect(world.order("SO-77")).toMatchObject({ status: "paid", paidAmount: 1000 });
  });

  it("refuses an event id it has already applied", () => {
    const world = new World(order());
    applied(world.deliver(succeededEvt()));
    const before = { order: world.order(), payment: world.payment() };
    expect(ignored(world.deliver(succeededEvt()))).toBe("event already applied");
    expect(world.order()).toBe(before.order);
    expect(world.payment()).toBe(before.payment);
    expect(world.emitted).toHaveLength(1);
  });

  it("refuses a redelivered refund event id even though its amount would still be new to a fresh state", () => {
    const world = new World(order());
    applied(world.deliver(succeededEvt()));
    applied(world.deliver(refundEvt("evt_ref_1", 300, T0 + 10)));
    expect(ignored(world.deliver(refundEvt("evt_ref_1", 300, T0 + 10)))).toBe("event already applied");
    expect(world.types()).toEqual(["payment.succeeded:1000", "payment.refunded:300"]);
    expect(world.state().seen).toEqual(["evt_succ_1", "evt_ref_1"]);
  });

  it("marks the order overpaid when a second payment pays it again", () => {
    const world = new World(order());
    applied(world.deliver(succeededEvt()));
    const second = applied(world.deliver(succeededEvt("evt_succ_2", T0 + 5, pi({ id: "pi_3PQhKx2eZvKYlo2C0second" }))));
    expect(second.orderStatus).toBe("overpaid");
    expect(world.order()).toMatchObject({ status: "overpaid", paidAmount: 2000 });
  });
});

describe("decidePayske: refunds", () => {
  it("refunds the order in full: status refunded, paidAmount 0, event amount = refunded amount", () => {
    const world = new World(order());
    applied(world.deliver(succeededEvt()));
    const decision = applied(world.deliver(refundEvt("evt_ref_1", 1000, T0 + 100)));
    expect(decision.orderStatus).toBe("refunded");
    expect(decision.payment).toMatchObject({ status: "refunded", amount: 1000, currency: "USD", contribution: 0, at: iso(T0 + 100) });
    expect(decision.events).toEqual([
      {
        type: "payment.refunded",
        amount: 1000,
        currency: "USD",
        occurredAt: iso(T0 + 100),
        data: { eventId: "evt_ref_1", eventType: "charge.refunded", amountRefunded: 1000, chargeAmount: 1000 },
      },
    ]);
    expect(world.order()).toMatchObject({ status: "refunded", paidAmount: 0 });
  });

  it("emits the newly refunded amount for two partial refunds (cumulative 300 then 1000): paid, then refunded", () => {
    const world = new World(order());
    applied(world.deliver(succeededEvt()));

    const first = applied(world.deliver(refundEvt("evt_ref_1", 300, T0 + 100)));
    expect(first.events[0]).toMatchObject({ type: "payment.refunded", amount: 300, currency: "USD", occurredAt: iso(T0 + 100) });
    expect(first.orderStatus).toBeUndefined();
    expect(world.order()).toMatchObject({ status: "paid", paidAmount: 700 });
    expect(world.payment().contribution).toBe(700);

    const second = applied(world.deliver(refundEvt("evt_ref_2", 1000, T0 + 200)));
    expect(second.events[0]).toMatchObject({ type: "payment.refunded", amount: 700, currency: "USD", occurredAt: iso(T0 + 200) });
    expect(second.events[0]!.data).toMatchObject({ amountRefunded: 1000, chargeAmount: 1000 });
    expect(world.order()).toMatchObject({ status: "refunded", paidAmount: 0 });
    expect(world.types()).toEqual(["payment.succeeded:1000", "payment.refunded:300", "payment.refunded:700"]);
  });

  it("ignores the late partial refund when the later cumulative one arrived first (1000, then 300)", () => {
    const world = new World(order());
    applied(world.deliver(succeededEvt()));
    applied(world.deliver(refundEvt("evt_ref_2", 1000, T0 + 200)));
    expect(ignored(world.deliver(refundEvt("evt_ref_1", 300, T0 + 100)))).toBe("refund already counted");
    expect(world.order()).toMatchObject({ status: "refunded", paidAmount: 0 });
    expect(world.types()).toEqual(["payment.succeeded:1000", "payment.refunded:1000"]);
  });

  it("applies a full refund that overtook the success, and the late success never makes the order paid again", () => {
    const world = new World(order());
    const refund = applied(world.deliver(refundEvt("evt_ref_1", 1000, T0 + 100)));
    expect(refund.orderStatus).toBe("refunded");
    expect(refund.events[0]).toMatchObject({ type: "payment.refunded", amount: 1000, currency: "USD", occurredAt: iso(T0 + 100) });
    expect(world.order()).toMatchObject({ status: "refunded", paidAmount: 0 });

    expect(ignored(world.deliver(succeededEvt("evt_succ_1", T0)))).toBe("already refunded");
    expect(ignored(world.deliver(evt("evt_cs_1", "checkout.session.completed", checkoutSession(), T0 - 1)))).toBe("already refunded");
    expect(world.order()).toMatchObject({ status: "refunded", paidAmount: 0 });
    expect(world.types()).toEqual(["payment.refunded:1000"]);
  });

  it("counts the rest of a partial refund that overtook the success once, and the late success adds nothing", () => {
    const world = new World(order());
    const refund = applied(world.deliver(refundEvt("evt_ref_1", 300, T0 + 100)));
    expect(refund.orderStatus).toBe("paid");
    expect(world.order()).toMatchObject({ status: "paid", paidAmount: 700 });
    expect(ignored(world.deliver(succeededEvt("evt_succ_1", T0)))).toBe("already refunded");
    expect(world.order()).toMatchObject({ status: "paid", paidAmount: 700 });
    applied(world.deliver(refundEvt("evt_ref_2", 1000, T0 + 200)));
    expect(world.order()).toMatchObject({ status: "refunded", paidAmount: 0 });
    expect(world.types()).toEqual(["payment.refunded:300", "payment.refunded:700"]);
  });

  it("puts an overpaid order back to paid when the duplicate payment is refunded in full", () => {
    // Customer paid twice; the merchant refunds the second PaymentIntent. paidAmount is back to
    // the order amount, so the status must say so too.
    const world = new World(order());
    const secondPi = "pi_3PQhKx2eZvKYlo2C0second";
    applied(world.deliver(succeededEvt()));
    applied(world.deliver(succeededEvt("evt_succ_2", T0 + 5, pi({ id: secondPi }))));
    expect(world.order()).toMatchObject({ status: "overpaid", paidAmount: 2000 });
    applied(world.deliver(refundEvt("evt_ref_2", 1000, T0 + 100, { id: "ch_3PQhKx2eZvKYlo2C0second", payment_intent: secondPi })));
    expect(world.order().paidAmount).toBe(1000);
    expect(world.order().status).toBe("paid");
  });
});

describe("decidePayske: failures", () => {
  it("records a failure without touching the order, then a retry that succeeds pays it", () => {
    const world = new World(order());
    const failure = applied(world.deliver(failedEvt("evt_fail_1", T0)));
    expect(failure.orderStatus).toBeUndefined();
    expect(failure.payment).toMatchObject({ status: "failed", amount: 1000, currency: "USD", contribution: 0 });
    expect(failure.events).toEqual([
      {
        type: "payment.failed",
        amount: 1000,
        currency: "USD",
        occurredAt: iso(T0),
        data: { eventId: "evt_fail_1", eventType: "payment_intent.payment_failed", failureCode: "insufficient_funds" },
      },
    ]);
    expect(world.order()).toMatchObject({ status: "awaiting_payment", paidAmount: 0 });

    const success = applied(world.deliver(succeededEvt("evt_succ_1", T0 + 120)));
    expect(success.orderStatus).toBe("paid");
    expect(world.order()).toMatchObject({ status: "paid", paidAmount: 1000 });
    expect(world.types()).toEqual(["payment.failed:1000", "payment.succeeded:1000"]);
  });

  it("ignores a failure that arrives after the success", () => {
    const world = new World(order());
    applied(world.deliver(succeededEvt("evt_succ_1", T0 + 120)));
    expect(ignored(world.deliver(failedEvt("evt_fail_1", T0)))).toMatch(/succeeded/);
    expect(world.order()).toMatchObject({ status: "paid", paidAmount: 1000 });
    expect(world.payment().status).toBe("succeeded");
  });

  it("ignores an older failure that arrives after a newer one, and applies a newer one", () => {
    const world = new World(order());
    applied(world.deliver(failedEvt("evt_fail_2", T0 + 60)));
    expect(ignored(world.deliver(failedEvt("evt_fail_1", T0)))).toBe("an older failure");
    const third = applied(world.deliver(failedEvt("evt_fail_3", T0 + 90, failedPi({ last_payment_error: { type: "card_error", code: "expired_card" } }))));
    expect(third.events[0]).toMatchObject({ occurredAt: iso(T0 + 90), data: { failureCode: "expired_card" } });
    expect(world.types()).toEqual(["payment.failed:1000", "payment.failed:1000"]);
    expect(world.state().createdMs).toBe((T0 + 90) * 1000);
  });
});

describe("decidePayske: disputes", () => {
  it("records a dispute once per dispute id and leaves the order status alone", () => {
    const world = new World(order());
    applied(world.deliver(succeededEvt()));
    const first = applied(world.deliver(disputeEvt("evt_dp_1", "dp_1PQiAb2eZvKYlo2CzW3lqK0f", T0 + 300)));
    expect(first.orderStatus).toBeUndefined();
    expect(first.payment).toMatchObject({ status: "succeeded", contribution: 1000 });
    expect(first.events).toEqual([
      {
        type: "payment.disputed",
        amount: 1000,
        currency: "USD",
        occurredAt: iso(T0 + 300),
        data: { eventId: "evt_dp_1", eventType: "charge.dispute.created", disputeId: "dp_1PQiAb2eZvKYlo2CzW3lqK0f", reason: "fraudulent" },
      },
    ]);
    // The dispute has no order metadata; the payment already knows its order.
    expect(world.emitted[1]).toMatchObject({ type: "payment.disputed", orderId: ORDER_ID });
    expect(world.order()).toMatchObject({ status: "paid", paidAmount: 1000 });

    // The same dispute told again under another event id.
    expect(ignored(world.deliver(disputeEvt("evt_dp_1b", "dp_1PQiAb2eZvKYlo2CzW3lqK0f", T0 + 301)))).toBe("dispute already recorded");
    // A second, different dispute is recorded.
    applied(world.deliver(disputeEvt("evt_dp_2", "dp_1PQiZz2eZvKYlo2C0aaaaaaa", T0 + 400)));
    expect(world.types()).toEqual(["payment.succeeded:1000", "payment.disputed:1000", "payment.disputed:1000"]);
    expect(world.state().disputes).toEqual(["dp_1PQiAb2eZvKYlo2CzW3lqK0f", "dp_1PQiZz2eZvKYlo2C0aaaaaaa"]);
    expect(world.order()).toMatchObject({ status: "paid", paidAmount: 1000 });
  });
});

describe("decidePayske: amount and currency must match the order", () => {
  it.each([
    ["a different amount", pi({ amount: 900, amount_received: 900 }), 900, "USD"],
    ["a different currency", pi({ currency: "eur" }), 1000, "EUR"],
  ])("emits payment.amount_mismatch for %s, order unchanged, contribution 0", (_case, object, amount, currency) => {
    const world = new World(order());
    const decision = applied(world.deliver(succeededEvt("evt_succ_1", T0, object)));
    expect(decision.orderStatus).toBeUndefined();
    expect(decision.payment).toMatchObject({ status: "succeeded", amount, currency, contribution: 0 });
    expect(decision.events).toEqual([
      {
        type: "payment.amount_mismatch",
        amount,
        currency,
        occurredAt: iso(T0),
        data: { eventId: "evt_succ_1", eventType: "payment_intent.succeeded", orderAmount: 1000, orderCurrency: "USD" },
      },
    ]);
    expect(world.order()).toMatchObject({ status: "awaiting_payment", paidAmount: 0 });
    expect(world.emitted[0]).toMatchObject({ orderId: ORDER_ID });
  });

  it("leaves the order untouched when the mismatched payment is later refunded in full", () => {
    const world = new World(order());
    applied(world.deliver(succeededEvt("evt_succ_1", T0, pi({ amount: 900, amount_received: 900 }))));
    const refund = applied(world.deliver(refundEvt("evt_ref_1", 900, T0 + 100, { amount: 900 })));
    expect(refund.orderStatus).toBeUndefined();
    expect(refund.payment.contribution).toBe(0);
    expect(refund.events[0]).toMatchObject({ type: "payment.refunded", amount: 900, currency: "USD" });
    expect(world.order()).toMatchObject({ status: "awaiting_payment", paidAmount: 0 });
  });

  it("leaves a paid order paid when a mismatched second payment comes and is refunded", () => {
    const world = new World(order());
    applied(world.deliver(succeededEvt()));
    const other = "pi_3PQhKx2eZvKYlo2C0other";
    applied(world.deliver(succeededEvt("evt_succ_2", T0 + 5, pi({ id: other, amount: 50, amount_received: 50 }))));
    applied(world.deliver(refundEvt("evt_ref_2", 50, T0 + 100, { id: "ch_other", amount: 50, payment_intent: other })));
    expect(world.order()).toMatchObject({ status: "paid", paidAmount: 1000 });
    expect(world.types()).toEqual(["payment.succeeded:1000", "payment.amount_mismatch:50", "payment.refunded:50"]);
  });
});

describe("decidePayske: payments without a known order", () => {
  it("emits payment.succeeded with no order status when the event names no order", () => {
    const world = new World(order());
    const decision = applied(world.deliver(succeededEvt("evt_succ_1", T0, pi({ metadata: {} }))));
    expect(decision.events[0]).toMatchObject({ type: "payment.succeeded", amount: 1000, currency: "USD", occurredAt: iso(T0) });
    expect(decision).not.toHaveProperty("orderStatus");
    expect(decision.payment.contribution).toBe(0);
    expect(world.emitted[0]!.orderId).toBeNull();
    expect(world.order()).toMatchObject({ status: "awaiting_payment", paidAmount: 0 });
  });

  it("emits payment.succeeded with no order status when the named order does not exist", () => {
    const world = new World();
    const decision = applied(world.deliver(succeededEvt("evt_succ_1", T0, pi({ metadata: { order_id: "ord_missing" } }))));
    expect(decision.events[0]!.type).toBe("payment.succeeded");
    expect(decision).not.toHaveProperty("orderStatus");
    expect(world.emitted[0]!.orderId).toBeNull();
  });

  it("pays the order when the checkout session naming it arrives after the PaymentIntent's success that did not", () => {
    // Stripe does not order deliveries (providers.md §3.8). A Checkout PaymentIntent carries no
    // order metadata; only the session's client_reference_id names the order. The ledger matches
    // the recorded payment to the order the later notification names (ledger.ts applyPayment).
    const world = new World(order());
    applied(world.deliver(succeededEvt("evt_succ_1", T0, pi({ metadata: {} }))));
    world.deliver(evt("evt_cs_1", "checkout.session.completed", checkoutSession(), T0 + 1));
    expect(world.order()).toMatchObject({ status: "paid", paidAmount: 1000 });
  });
});

describe("decidePayske: live and test mode are kept apart", () => {
  it("ignores a test-mode event for a payment recorded in live mode", () => {
    const world = new World(order());
    applied(world.deliver(succeededEvt()));
    const testRefund = evt("evt_ref_test", "charge.refunded", refundedCharge(1000, { livemode: false }), T0 + 100, false);
    expect(ignored(world.deliver(testRefund))).toMatch(/kept apart/);
    expect(world.order()).toMatchObject({ status: "paid", paidAmount: 1000 });
    expect(world.payment().livemode).toBe(true);
  });

  it("ignores a live event for a payment recorded in test mode, and test-mode writes carry livemode false", () => {
    const world = new World(order());
    const test = applied(world.deliver(evt("evt_fail_test", "payment_intent.payment_failed", failedPi({ livemode: false }), T0, false)));
    expect(test.payment.livemode).toBe(false);
    expect(world.emitted[0]!.livemode).toBe(false);
    expect(ignored(world.deliver(succeededEvt("evt_succ_live", T0 + 10)))).toMatch(/kept apart/);
    expect(world.order()).toMatchObject({ status: "awaiting_payment", paidAmount: 0 });
  });
});

describe("decidePayske: emitted events", () => {
  it("carry the event's amount, upper-cased currency and occurredAt = ISO of created*1000, in a full lifecycle", () => {
    const world = new World(order({ currency: "EUR" }));
    const eur = { currency: "eur" };
    world.deliver(failedEvt("evt_a", T0, failedPi(eur)));
    world.deliver(succeededEvt("evt_b", T0 + 61, pi(eur)));
    world.deliver(evt("evt_c", "charge.dispute.created", dispute("dp_1PQiAb2eZvKYlo2CzW3lqK0f", { ...eur, amount: 1000 }), T0 + 3600));
    world.deliver(refundEvt("evt_d", 250, T0 + 7200, eur));
    world.deliver(refundEvt("evt_e", 1000, T0 + 86_400, eur));
    expect(world.emitted.map(({ type, amount, currency, occurredAt, data }) => ({ type, amount, currency, occurredAt, eventId: data["eventId"] }))).toEqual([
      { type: "payment.failed", amount: 1000, currency: "EUR", occurredAt: "2024-06-11T10:20:34.000Z", eventId: "evt_a" },
      { type: "payment.succeeded", amount: 1000, currency: "EUR", occurredAt: "2024-06-11T10:21:35.000Z", eventId: "evt_b" },
      { type: "payment.disputed", amount: 1000, currency: "EUR", occurredAt: "2024-06-11T11:20:34.000Z", eventId: "evt_c" },
      { type: "payment.refunded", amount: 250, currency: "EUR", occurredAt: "2024-06-11T12:20:34.000Z", eventId: "evt_d" },
      { type: "payment.refunded", amount: 750, currency: "EUR", occurredAt: "2024-06-12T10:20:34.000Z", eventId: "evt_e" },
    ]);
    expect(world.order()).toMatchObject({ status: "refunded", paidAmount: 0 });
    expect(world.payment()).toMatchObject({ status: "refunded", at: "2024-06-12T10:20:34.000Z", contribution: 0 });
    expect(world.state()).toMatchObject({ received: 1000, refunded: 1000, seen: ["evt_a", "evt_b", "evt_c", "evt_d", "evt_e"] });
  });

  it("keeps state.createdMs from going backwards when an older event applies late, and pays the order", () => {
    const world = new World(order());
    applied(world.deliver(disputeEvt("evt_dp_1", "dp_1PQiAb2eZvKYlo2CzW3lqK0f", T0 + 300)));
    const late = applied(world.deliver(succeededEvt("evt_succ_1", T0)));
    expect(late.events[0]!.occurredAt).toBe(iso(T0));
    expect(world.state().createdMs).toBe((T0 + 300) * 1000);
    expect(world.order()).toMatchObject({ status: "paid", paidAmount: 1000 });
  });
});
