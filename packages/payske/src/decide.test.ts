import type Stripe from "stripe";
import {
  EVENT_TYPE_FOR_STATUS,
  countToward,
  deriveOrder,
  reportedType,
  type OrderRecord,
  type PaymentDecision,
  type PaymentFacts,
  type PaymentRecord,
  type ProviderEvent,
} from "@payhooks/core";
import { INITIAL_PAYSKE_STATE, SEEN_LIMIT, decidePayske, type PayskeState } from "./decide";
import { parsePayskeEvent, toPayskeNotification, type PayskeNotification } from "./schemas";

/*
 * Drives decidePayske through a tiny in-memory ledger that applies decisions the way
 * packages/core/src/ledger.ts applyPayment does (the order derived by the core's deriveOrder, the
 * event type by its reportedType), fed with Stripe-shaped events (docs/protocols/payske.md#fields-read) that go
 * through parsePayskeEvent + toPayskeNotification as the worker does.
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

type Applied = Extract<PaymentDecision, { kind: "applied" }>;
type Emitted = ProviderEvent & { providerPaymentId: string; orderId: string | null; livemode: boolean };

function order(overrides: Partial<OrderRecord> = {}): OrderRecord {
  return {
    orderId: ORDER_ID,
    amount: 1000,
    currency: "USD",
    livemode: true,
    refundable: true,
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

/** Facts of a live USD payment of 1000 that succeeded; tests change what they need. */
function facts(overrides: Partial<PaymentFacts> = {}): PaymentFacts {
  return { status: "succeeded", currency: "USD", requested: 1000, settled: 1000, refunded: 0, livemode: true, ...overrides };
}

class World {
  readonly orders = new Map<string, OrderRecord>();
  readonly payments = new Map<string, PaymentRecord>();
  readonly emitted: Emitted[] = [];

  constructor(...orders: OrderRecord[]) {
    for (const o of orders) this.orders.set(o.orderId, o);
  }

  /**
   * One worker run, as ledger.ts applyPayment does it: the order is the one the payment is
   * attached to, else the one the notification names, else the one it named before; decide;
   * write the payment (state through JSON, as Redis keeps it); when the order exists, put the
   * payment's facts on it and derive its status and paidAmount; report each event under the
   * core's type for the verdict. An ignored decision writes nothing, except that a recorded
   * payment whose order is now known gets attached to it.
   */
  deliver(fixture: EventFixture, orderKey = ORDER_KEY): PaymentDecision {
    const n = notification(fixture, orderKey);
    const payment = this.payments.get(n.paymentId) ?? null;
    const orderId = (payment?.attached ? payment.orderId : null) ?? n.orderId ?? payment?.orderId ?? null;
    const order = orderId ? (this.orders.get(orderId) ?? null) : null;
    const decision = decidePayske(n, { payment, order });
    let next: Applied["payment"];
    let events: ProviderEvent[];
    if (decision.kind === "applied") {
      next = { ...decision.payment, state: JSON.parse(JSON.stringify(decision.payment.state)) as Record<string, unknown> };
      events = decision.events;
    } else if (payment && !payment.attached && order) {
      next = payment;
      const f = payment.facts;
      events = [
        {
          type: EVENT_TYPE_FOR_STATUS[f.status],
          amount: f.settled > 0 ? f.settled : f.requested,
          currency: f.currency,
          occurredAt: payment.at,
          data: { status: payment.providerStatus, attached: true },
        },
      ];
    } else {
      return decision;
    }
    const { facts: nextFacts, providerStatus, at, state } = next;
    // An attached payment's order is its own, so an existing order here is always the one to attach to.
    this.payments.set(n.paymentId, {
      provider: "payske",
      providerPaymentId: n.paymentId,
      orderId,
      attached: order !== null,
      facts: nextFacts,
      providerStatus,
      at,
      state,
      v: String(Number(payment?.v ?? "0") + 1),
    });
    const verdict = order ? countToward(order, nextFacts) : null;
    if (order) {
      const payments = { ...order.payments, [`payske/${n.paymentId}`]: nextFacts };
      this.orders.set(order.orderId, { ...order, payments, ...deriveOrder(order, Object.values(payments)), v: String(Number(order.v) + 1) });
    }
    for (const e of events) {
      this.emitted.push({ ...e, type: reportedType(e.type, verdict), providerPaymentId: n.paymentId, orderId: order ? orderId : null, livemode: nextFacts.livemode });
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
  it("reports payment_intent.succeeded as succeeded facts (requested amount, amount_received settled); the core pays the order", () => {
    const world = new World(order());
    const decision = world.deliver(succeededEvt());
    expect(decision).toEqual({
      kind: "applied",
      payment: {
        facts: facts(),
        providerStatus: "succeeded",
        at: iso(T0),
        state: { ...INITIAL_PAYSKE_STATE, status: "succeeded", createdMs: T0 * 1000, seen: ["evt_succ_1"] },
      },
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

  it("keeps what a PaymentIntent was for apart from what it received", () => {
    const world = new World(order());
    const decision = applied(world.deliver(succeededEvt("evt_succ_1", T0, pi({ amount_received: 600 }))));
    expect(decision.payment.facts).toEqual(facts({ requested: 1000, settled: 600 }));
    expect(world.order()).toMatchObject({ status: "partially_paid", paidAmount: 600 });
  });

  it("reports checkout.session.completed with payment_status paid, the order from client_reference_id", () => {
    const world = new World(order());
    const decision = applied(world.deliver(evt("evt_cs_1", "checkout.session.completed", checkoutSession(), T0)));
    expect(decision.payment.facts).toEqual(facts());
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
    expect(world.payment(PI_ID)).toMatchObject({ orderId: ORDER_ID, attached: true });
  });

  it("counts a completed checkout session without payment_status (API before 2020) as paid, and an unpaid one not at all", () => {
    const { payment_status: _omitted, ...legacy } = checkoutSession();
    const world = new World(order());
    const decision = applied(world.deliver(evt("evt_cs_old", "checkout.session.completed", legacy, T0)));
    expect(decision.payment.facts).toEqual(facts());
    expect(world.order()).toMatchObject({ status: "paid", paidAmount: 1000 });

    const unpaid = evt("evt_cs_unpaid", "checkout.session.completed", checkoutSession({ payment_status: "unpaid" }), T0);
    expect(toPayskeNotification(parsePayskeEvent(JSON.parse(JSON.stringify(unpaid)) as unknown), ORDER_KEY)).toBeNull();
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
    applied(world.deliver(succeededEvt("evt_succ_1", T0, pi({ metadata: { shop_order: "SO-77" } })), "shop_order"));
    expect(world.payment()).toMatchObject({ orderId: "SO-77", attached: true });
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

  it("reports a second payment for the order as its own succeeded facts; the core derives overpaid", () => {
    const world = new World(order());
    applied(world.deliver(succeededEvt()));
    const second = applied(world.deliver(succeededEvt("evt_succ_2", T0 + 5, pi({ id: "pi_3PQhKx2eZvKYlo2C0second" }))));
    expect(second.payment.facts).toEqual(facts());
    expect(world.order()).toMatchObject({ status: "overpaid", paidAmount: 2000 });
  });
});

describe("decidePayske: refunds", () => {
  it("refunds in full: facts refunded with settled and refunded 1000, event amount = refunded amount; the order is refunded", () => {
    const world = new World(order());
    applied(world.deliver(succeededEvt()));
    const decision = applied(world.deliver(refundEvt("evt_ref_1", 1000, T0 + 100)));
    expect(decision.payment).toMatchObject({ facts: facts({ status: "refunded", refunded: 1000 }), providerStatus: "refunded", at: iso(T0 + 100) });
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

  it("emits the newly refunded amount for two partial refunds (cumulative 300 then 1000)", () => {
    const world = new World(order());
    applied(world.deliver(succeededEvt()));

    const first = applied(world.deliver(refundEvt("evt_ref_1", 300, T0 + 100)));
    expect(first.events[0]).toMatchObject({ type: "payment.refunded", amount: 300, currency: "USD", occurredAt: iso(T0 + 100) });
    expect(first.payment.facts).toEqual(facts({ status: "refunded", refunded: 300 }));
    expect(world.order()).toMatchObject({ status: "partially_refunded", paidAmount: 700 });

    const second = applied(world.deliver(refundEvt("evt_ref_2", 1000, T0 + 200)));
    expect(second.events[0]).toMatchObject({ type: "payment.refunded", amount: 700, currency: "USD", occurredAt: iso(T0 + 200) });
    expect(second.events[0]!.data).toMatchObject({ amountRefunded: 1000, chargeAmount: 1000 });
    expect(second.payment.facts).toEqual(facts({ status: "refunded", refunded: 1000 }));
    expect(world.order()).toMatchObject({ status: "refunded", paidAmount: 0 });
    expect(world.types()).toEqual(["payment.succeeded:1000", "payment.refunded:300", "payment.refunded:700"]);
  });

  it("ignores the late partial refund when the later cumulative one arrived first (1000, then 300)", () => {
    const world = new World(order());
    applied(world.deliver(succeededEvt()));
    applied(world.deliver(refundEvt("evt_ref_2", 1000, T0 + 200)));
    expect(ignored(world.deliver(refundEvt("evt_ref_1", 300, T0 + 100)))).toBe("refund already counted");
    expect(world.payment().facts.refunded).toBe(1000);
    expect(world.order()).toMatchObject({ status: "refunded", paidAmount: 0 });
    expect(world.types()).toEqual(["payment.succeeded:1000", "payment.refunded:1000"]);
  });

  it("applies a full refund that overtook the success, and the late success never pays the order again", () => {
    const world = new World(order());
    const refund = applied(world.deliver(refundEvt("evt_ref_1", 1000, T0 + 100)));
    // The charge tells what was paid: requested and settled come from it.
    expect(refund.payment.facts).toEqual(facts({ status: "refunded", refunded: 1000 }));
    expect(refund.events[0]).toMatchObject({ type: "payment.refunded", amount: 1000, currency: "USD", occurredAt: iso(T0 + 100) });
    expect(world.order()).toMatchObject({ status: "refunded", paidAmount: 0 });

    expect(ignored(world.deliver(succeededEvt("evt_succ_1", T0)))).toBe("already refunded");
    expect(ignored(world.deliver(evt("evt_cs_1", "checkout.session.completed", checkoutSession(), T0 - 1)))).toBe("already refunded");
    expect(world.order()).toMatchObject({ status: "refunded", paidAmount: 0 });
    expect(world.types()).toEqual(["payment.refunded:1000"]);
  });

  it("counts the rest of a partial refund that overtook the success once, and the late success adds nothing", () => {
    const world = new World(order());
    applied(world.deliver(refundEvt("evt_ref_1", 300, T0 + 100)));
    expect(world.order()).toMatchObject({ status: "partially_refunded", paidAmount: 700 });
    expect(ignored(world.deliver(succeededEvt("evt_succ_1", T0)))).toBe("already refunded");
    expect(world.order()).toMatchObject({ status: "partially_refunded", paidAmount: 700 });
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
    expect(world.order()).toMatchObject({ status: "paid", paidAmount: 1000 });
  });
});

describe("decidePayske: amounts only grow, whatever order the events arrive in", () => {
  it("a refund before the success: the success after it is ignored and the facts never shrink", () => {
    const world = new World(order());
    const refund = applied(world.deliver(refundEvt("evt_ref_1", 300, T0 + 100)));
    const afterRefund = facts({ status: "refunded", refunded: 300 });
    expect(refund.payment.facts).toEqual(afterRefund);

    expect(ignored(world.deliver(succeededEvt("evt_succ_1", T0)))).toBe("already refunded");
    expect(ignored(world.deliver(succeededEvt("evt_succ_small", T0 + 1, pi({ amount: 500, amount_received: 500 }))))).toBe("already refunded");
    expect(ignored(world.deliver(failedEvt("evt_fail_1", T0 - 10)))).toMatch(/refunded/);
    expect(ignored(world.deliver(refundEvt("evt_ref_0", 100, T0 + 50)))).toBe("refund already counted");
    expect(world.payment().facts).toEqual(afterRefund);

    // A dispute keeps the money as it is; a larger refund only grows what was given back.
    const disputed = applied(world.deliver(disputeEvt("evt_dp_1", "dp_1PQiAb2eZvKYlo2CzW3lqK0f", T0 + 300)));
    expect(disputed.payment.facts).toEqual({ ...afterRefund, status: "disputed" });
    const more = applied(world.deliver(refundEvt("evt_ref_2", 800, T0 + 400)));
    expect(more.payment.facts).toEqual(facts({ status: "refunded", refunded: 800 }));
    expect(world.order()).toMatchObject({ status: "partially_refunded", paidAmount: 200 });
  });

  it("a failure recorded before the success does not lower what the success settled, and none after it applies", () => {
    const world = new World(order());
    applied(world.deliver(failedEvt("evt_fail_1", T0)));
    const success = applied(world.deliver(succeededEvt("evt_succ_1", T0 + 60)));
    expect(success.payment.facts).toEqual(facts());
    expect(ignored(world.deliver(failedEvt("evt_fail_2", T0 + 120)))).toMatch(/succeeded/);
    expect(world.payment().facts).toEqual(facts());
  });
});

describe("decidePayske: failures", () => {
  it("records a failure as failed facts with nothing settled, then a retry that succeeds pays the order", () => {
    const world = new World(order());
    const failure = applied(world.deliver(failedEvt("evt_fail_1", T0)));
    expect(failure.payment.facts).toEqual(facts({ status: "failed", settled: 0 }));
    expect(failure.payment.providerStatus).toBe("failed");
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

    applied(world.deliver(succeededEvt("evt_succ_1", T0 + 120)));
    expect(world.order()).toMatchObject({ status: "paid", paidAmount: 1000 });
    expect(world.types()).toEqual(["payment.failed:1000", "payment.succeeded:1000"]);
  });

  it("ignores a failure that arrives after the success", () => {
    const world = new World(order());
    applied(world.deliver(succeededEvt("evt_succ_1", T0 + 120)));
    expect(ignored(world.deliver(failedEvt("evt_fail_1", T0)))).toMatch(/succeeded/);
    expect(world.order()).toMatchObject({ status: "paid", paidAmount: 1000 });
    expect(world.payment().facts.status).toBe("succeeded");
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
  it("records a dispute once per dispute id; the money stays counted", () => {
    const world = new World(order());
    applied(world.deliver(succeededEvt()));
    const first = applied(world.deliver(disputeEvt("evt_dp_1", "dp_1PQiAb2eZvKYlo2CzW3lqK0f", T0 + 300)));
    expect(first.payment.facts).toEqual(facts({ status: "disputed" }));
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

describe("decidePayske: amount and currency must match the order (the core's rule)", () => {
  it.each([
    ["a different amount", pi({ amount: 900, amount_received: 900 }), 900, "USD", "amount"],
    ["a different currency", pi({ currency: "eur" }), 1000, "EUR", "currency"],
  ] as const)("reports %s as facts; the core reports payment.amount_mismatch and leaves the order unpaid", (_case, object, amount, currency, reason) => {
    const world = new World(order());
    const decision = applied(world.deliver(succeededEvt("evt_succ_1", T0, object)));
    expect(decision.payment.facts).toEqual(facts({ requested: amount, settled: amount, currency }));
    expect(decision.events).toEqual([
      { type: "payment.succeeded", amount, currency, occurredAt: iso(T0), data: { eventId: "evt_succ_1", eventType: "payment_intent.succeeded" } },
    ]);
    expect(countToward(order(), decision.payment.facts)).toEqual({ counts: false, reason });
    expect(world.order()).toMatchObject({ status: "awaiting_payment", paidAmount: 0 });
    expect(world.emitted[0]).toMatchObject({ type: "payment.amount_mismatch", amount, currency, orderId: ORDER_ID });
  });

  it("leaves the order untouched when the mismatched payment is later refunded in full", () => {
    const world = new World(order());
    applied(world.deliver(succeededEvt("evt_succ_1", T0, pi({ amount: 900, amount_received: 900 }))));
    const refund = applied(world.deliver(refundEvt("evt_ref_1", 900, T0 + 100, { amount: 900 })));
    expect(refund.payment.facts).toEqual(facts({ status: "refunded", requested: 900, settled: 900, refunded: 900 }));
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
  it("records a payment whose event names no order, unattached, with the same facts", () => {
    const world = new World(order());
    const decision = applied(world.deliver(succeededEvt("evt_succ_1", T0, pi({ metadata: {} }))));
    expect(decision.events[0]).toMatchObject({ type: "payment.succeeded", amount: 1000, currency: "USD", occurredAt: iso(T0) });
    expect(decision.payment.facts).toEqual(facts());
    expect(world.payment()).toMatchObject({ orderId: null, attached: false });
    expect(world.emitted[0]!.orderId).toBeNull();
    expect(world.order()).toMatchObject({ status: "awaiting_payment", paidAmount: 0, payments: {} });
  });

  it("records a payment whose named order does not exist yet, waiting for it", () => {
    const world = new World();
    const decision = applied(world.deliver(succeededEvt("evt_succ_1", T0, pi({ metadata: { order_id: "ord_missing" } }))));
    expect(decision.events[0]!.type).toBe("payment.succeeded");
    expect(world.payment()).toMatchObject({ orderId: "ord_missing", attached: false });
    expect(world.emitted[0]!.orderId).toBeNull();
  });

  it("pays the order when the checkout session naming it arrives after the PaymentIntent's success that did not", () => {
    // Stripe does not order deliveries (docs/protocols/payske.md#retries-and-idempotency). A Checkout PaymentIntent carries no
    // order metadata; only the session's client_reference_id names the order. The decision is
    // "already succeeded", and the ledger attaches the recorded payment to the order it names.
    const world = new World(order());
    applied(world.deliver(succeededEvt("evt_succ_1", T0, pi({ metadata: {} }))));
    expect(ignored(world.deliver(evt("evt_cs_1", "checkout.session.completed", checkoutSession(), T0 + 1)))).toBe("already succeeded");
    expect(world.payment()).toMatchObject({ orderId: ORDER_ID, attached: true });
    expect(world.order()).toMatchObject({ status: "paid", paidAmount: 1000 });
    expect(world.types()).toEqual(["payment.succeeded:1000", "payment.succeeded:1000"]);
    expect(world.emitted[1]).toMatchObject({ orderId: ORDER_ID, data: { status: "succeeded", attached: true } });
  });
});

describe("decidePayske: live and test mode are kept apart", () => {
  it("ignores a test-mode event for a payment recorded in live mode", () => {
    const world = new World(order());
    applied(world.deliver(succeededEvt()));
    const testRefund = evt("evt_ref_test", "charge.refunded", refundedCharge(1000, { livemode: false }), T0 + 100, false);
    expect(ignored(world.deliver(testRefund))).toMatch(/kept apart/);
    expect(world.order()).toMatchObject({ status: "paid", paidAmount: 1000 });
    expect(world.payment().facts.livemode).toBe(true);
  });

  it("ignores a live event for a payment recorded in test mode, and test-mode facts carry livemode false", () => {
    const world = new World(order());
    const test = applied(world.deliver(evt("evt_fail_test", "payment_intent.payment_failed", failedPi({ livemode: false }), T0, false)));
    expect(test.payment.facts.livemode).toBe(false);
    expect(world.emitted[0]!.livemode).toBe(false);
    expect(ignored(world.deliver(succeededEvt("evt_succ_live", T0 + 10)))).toMatch(/kept apart/);
    expect(world.order()).toMatchObject({ status: "awaiting_payment", paidAmount: 0 });
  });

  it("a test-mode success never pays a live order: the core reports payment.mode_mismatch", () => {
    const world = new World(order());
    const test = applied(world.deliver(evt("evt_succ_test", "payment_intent.succeeded", pi({ livemode: false }), T0, false)));
    expect(test.payment.facts).toEqual(facts({ livemode: false }));
    expect(countToward(order(), test.payment.facts)).toEqual({ counts: false, reason: "mode" });
    expect(world.order()).toMatchObject({ status: "awaiting_payment", paidAmount: 0 });
    expect(world.emitted[0]).toMatchObject({ type: "payment.mode_mismatch", livemode: false });
    // The same facts pay a test order.
    expect(deriveOrder({ ...order(), livemode: false }, [test.payment.facts])).toEqual({ paidAmount: 1000, status: "paid" });
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
    expect(world.payment()).toMatchObject({
      facts: facts({ status: "refunded", currency: "EUR", refunded: 1000 }),
      providerStatus: "refunded",
      at: "2024-06-12T10:20:34.000Z",
    });
    expect(world.state()).toMatchObject({ status: "refunded", seen: ["evt_a", "evt_b", "evt_c", "evt_d", "evt_e"] });
  });

  it("keeps state.createdMs from going backwards when an older event applies late, and pays the order", () => {
    const world = new World(order());
    applied(world.deliver(disputeEvt("evt_dp_1", "dp_1PQiAb2eZvKYlo2CzW3lqK0f", T0 + 300)));
    const late = applied(world.deliver(succeededEvt("evt_succ_1", T0)));
    expect(late.events[0]!.occurredAt).toBe(iso(T0));
    expect(world.state()).toMatchObject({ createdMs: (T0 + 300) * 1000, disputes: ["dp_1PQiAb2eZvKYlo2CzW3lqK0f"] });
    expect(world.payment().facts).toMatchObject({ requested: 1000, settled: 1000 });
    expect(world.order()).toMatchObject({ status: "paid", paidAmount: 1000 });
  });
});

describe("decidePayske: a bounded list of event ids", () => {
  it("150 distinct events keep the last 100 ids; redelivering the early ones changes nothing", () => {
    expect(SEEN_LIMIT).toBe(100);
    const world = new World(order());
    // A failure, the success, then 148 partial refunds of one cent each: 150 events, all applied.
    const events = [failedEvt("evt_000", T0), succeededEvt("evt_001", T0 + 60)];
    for (let i = 2; i < 150; i++) events.push(refundEvt(`evt_${String(i).padStart(3, "0")}`, i - 1, T0 + 60 + i));
    for (const e of events) applied(world.deliver(e));
    expect(world.emitted).toHaveLength(150);
    const ids = events.map((e) => e.id);
    expect(world.state().seen).toEqual(ids.slice(-100));
    expect(world.payment().facts).toEqual(facts({ status: "refunded", refunded: 148 }));

    // Redelivered under new job ids, long after BullMQ forgot them: the early events are not in
    // `seen` any more, and the monotone rules refuse each of them.
    const before = { payment: world.payment(), order: world.order() };
    expect(ignored(world.deliver(events[0]!))).toMatch(/failure after the payment refunded/);
    expect(ignored(world.deliver(events[1]!))).toMatch(/already refunded/);
    for (const early of events.slice(2, 50)) expect(ignored(world.deliver(early))).toBe("refund already counted");
    // ... and one still in the window is refused by it.
    expect(ignored(world.deliver(events[149]!))).toBe("event already applied");
    expect(world.emitted).toHaveLength(150);
    expect(world.payment()).toEqual(before.payment);
    expect(world.order()).toEqual(before.order);
    expect(world.state().seen).toHaveLength(100);
  });
});
