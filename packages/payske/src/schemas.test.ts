import type Stripe from "stripe";
import { PayloadValidationError } from "@payhooks/core";
import { PayskeEventSchema, checkPayskeObject, parsePayskeEvent, payskeJobId, toPayskeNotification, type PayskeEvent } from "./schemas";

/*
 * Fixtures are Stripe-shaped (docs/protocols/payske.md: Payske is Stripe under another name). Each object
 * type is a Pick of stripe-node's own type, so a field with the wrong name or type does not compile.
 */

/** `created` of the events below: 2024-06-11T10:20:34.000Z. */
const CREATED = 1_718_101_234;
const CREATED_ISO = "2024-06-11T10:20:34.000Z";
const PI_ID = "pi_3PQhKx2eZvKYlo2C1a8Vt0Wq";
const CH_ID = "ch_3PQhKx2eZvKYlo2C1lq2n6Xb";
const CS_ID = "cs_live_a1Yf9G7kPz3Q0rWb2cVd4eXf6gHi8jKl0mNo2pQr4sTu6vWx8yZ";
const DP_ID = "dp_1PQiAb2eZvKYlo2CzW3lqK0f";
const EVT_ID = "evt_3PQhKx2eZvKYlo2C1c5HfYyS";
const ORDER_KEY = "order_id";

type PaymentIntentFixture = Pick<
  Stripe.PaymentIntent,
  "id" | "object" | "amount" | "amount_received" | "currency" | "status" | "capture_method" | "created" | "livemode" | "metadata" | "latest_charge"
> & {
  last_payment_error: Pick<Stripe.PaymentIntent.LastPaymentError, "type" | "code" | "decline_code" | "message"> | null;
};
type SessionFixture = Pick<
  Stripe.Checkout.Session,
  "id" | "object" | "mode" | "status" | "payment_status" | "amount_total" | "currency" | "client_reference_id" | "metadata" | "livemode" | "created"
> & { payment_intent: string | Pick<Stripe.PaymentIntent, "id" | "object" | "amount" | "currency" | "status"> | null };
type ChargeFixture = Pick<
  Stripe.Charge,
  "id" | "object" | "amount" | "amount_captured" | "amount_refunded" | "refunded" | "captured" | "paid" | "status" | "currency" | "metadata" | "livemode" | "created"
> & { payment_intent: string | Pick<Stripe.PaymentIntent, "id" | "object" | "amount" | "currency" | "status"> | null };
type DisputeFixture = Pick<Stripe.Dispute, "id" | "object" | "amount" | "currency" | "reason" | "status" | "livemode" | "created" | "metadata"> & {
  charge: string | Pick<Stripe.Charge, "id" | "object" | "amount" | "currency">;
  payment_intent: string | null;
};
/** A v1 snapshot event with stripe-node's envelope fields and a typed `data.object`. */
type EventFixture<O> = Omit<Stripe.EventBase, "data"> & { data: { object: O } };

function paymentIntent(overrides: Partial<PaymentIntentFixture> = {}): PaymentIntentFixture {
  return {
    id: PI_ID,
    object: "payment_intent",
    amount: 4999,
    amount_received: 4999,
    currency: "usd",
    status: "succeeded",
    capture_method: "automatic_async",
    created: CREATED - 30,
    livemode: true,
    metadata: { order_id: "ord_1001" },
    latest_charge: CH_ID,
    last_payment_error: null,
    ...overrides,
  };
}

function session(overrides: Partial<SessionFixture> = {}): SessionFixture {
  return {
    id: CS_ID,
    object: "checkout.session",
    mode: "payment",
    status: "complete",
    payment_status: "paid",
    payment_intent: PI_ID,
    amount_total: 4999,
    currency: "usd",
    client_reference_id: "ord_2002",
    metadata: {},
    livemode: true,
    created: CREATED - 600,
    ...overrides,
  };
}

function charge(overrides: Partial<ChargeFixture> = {}): ChargeFixture {
  return {
    id: CH_ID,
    object: "charge",
    amount: 4999,
    amount_captured: 4999,
    amount_refunded: 4999,
    refunded: true,
    captured: true,
    paid: true,
    status: "succeeded",
    currency: "usd",
    payment_intent: PI_ID,
    metadata: { order_id: "ord_1001" },
    livemode: true,
    created: CREATED - 30,
    ...overrides,
  };
}

function dispute(overrides: Partial<DisputeFixture> = {}): DisputeFixture {
  return {
    id: DP_ID,
    object: "dispute",
    amount: 4999,
    currency: "usd",
    reason: "fraudulent",
    status: "needs_response",
    charge: CH_ID,
    payment_intent: PI_ID,
    livemode: true,
    created: CREATED,
    metadata: {},
    ...overrides,
  };
}

function event<O>(type: Stripe.Event.Type, object: O, overrides: Partial<Omit<Stripe.EventBase, "data" | "type">> = {}): EventFixture<O> {
  return {
    id: EVT_ID,
    object: "event",
    api_version: "2024-06-20",
    created: CREATED,
    livemode: true,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
    data: { object },
    ...overrides,
  };
}

/** What the worker sees: the event as it came over the wire, then accepted by the ingress. */
function received(fixture: unknown): PayskeEvent {
  return parsePayskeEvent(JSON.parse(JSON.stringify(fixture)) as unknown);
}

function notify(fixture: unknown, orderKey = ORDER_KEY) {
  return toPayskeNotification(received(fixture), orderKey);
}

function without(body: object, path: string): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(body)) as Record<string, unknown>;
  const keys = path.split(".");
  let target = copy;
  for (const key of keys.slice(0, -1)) target = target[key] as Record<string, unknown>;
  delete target[keys[keys.length - 1]!];
  return copy;
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a throw, got none");
}

const succeeded = event("payment_intent.succeeded", paymentIntent());

describe("parsePayskeEvent", () => {
  it("accepts a Stripe v1 snapshot event and keeps the envelope fields it does not declare", () => {
    const parsed = received(succeeded);
    expect(parsed).toMatchObject({ id: EVT_ID, object: "event", type: "payment_intent.succeeded", created: CREATED, livemode: true });
    expect(parsed.data.object).toEqual(paymentIntent());
    expect(parsed["api_version"]).toBe("2024-06-20");
    expect(parsed["pending_webhooks"]).toBe(1);
    expect(parsed["request"]).toEqual({ id: null, idempotency_key: null });
    expect(PayskeEventSchema.safeParse(succeeded).success).toBe(true);
  });

  it("accepts a test-mode event and keeps livemode false", () => {
    expect(received(event("payment_intent.succeeded", paymentIntent({ livemode: false }), { livemode: false })).livemode).toBe(false);
  });

  it("accepts an event type it does not map (the worker records it and acknowledges)", () => {
    expect(received(event("customer.created", { id: "cus_Q1a2b3c4d5e6f7", object: "customer" })).type).toBe("customer.created");
  });

  it.each([
    ["id is missing", without(succeeded, "id"), /^id: /],
    ["id is empty", { ...succeeded, id: "" }, /^id: /],
    ["id has a character a job id cannot carry", { ...succeeded, id: "evt:1" }, /^id: /],
    ["id is a number", { ...succeeded, id: 42 }, /^id: /],
    ["type is missing", without(succeeded, "type"), /^type: /],
    ["type is empty", { ...succeeded, type: "" }, /^type: /],
    ["created is missing", without(succeeded, "created"), /^created: /],
    ["created is in ms with a fraction", { ...succeeded, created: 1_718_101_234.5 }, /^created: /],
    ["created is negative", { ...succeeded, created: -1 }, /^created: /],
    ["created is a string", { ...succeeded, created: String(CREATED) }, /^created: /],
    ["livemode is missing", without(succeeded, "livemode"), /^livemode: /],
    ["livemode is the string false", { ...succeeded, livemode: "false" }, /^livemode: /],
    ["object is missing", without(succeeded, "object"), /^object: /],
    ["object is a thin v2 event", { ...succeeded, object: "v2.core.event" }, /^object: /],
    ["object is the resource type", { ...succeeded, object: "payment_intent" }, /^object: /],
    ["data is missing", without(succeeded, "data"), /^data: /],
    ["data.object is missing", without(succeeded, "data.object"), /^data\.object: /],
    ["data.object is null", { ...succeeded, data: { object: null } }, /^data\.object: /],
    ["data.object is a string id", { ...succeeded, data: { object: PI_ID } }, /^data\.object: /],
    ["data.object is an array", { ...succeeded, data: { object: [paymentIntent()] } }, /^data\.object: /],
  ])("throws PayloadValidationError naming the field when %s", (_case, body, message) => {
    const err = thrown(() => parsePayskeEvent(body));
    expect(err).toBeInstanceOf(PayloadValidationError);
    expect((err as PayloadValidationError).code).toBe("payload_invalid");
    expect(err.message).toMatch(message);
  });

  it.each([
    ["null", null],
    ["an array", [succeeded]],
    ["the unparsed JSON string", JSON.stringify(succeeded)],
  ])("throws PayloadValidationError when the body is %s", (_case, body) => {
    const err = thrown(() => parsePayskeEvent(body));
    expect(err).toBeInstanceOf(PayloadValidationError);
    expect(err.message).toMatch(/^event: /);
  });
});

describe("payskeJobId", () => {
  it("is payske-<event id>", () => {
    expect(payskeJobId(received(succeeded))).toBe(`payske-${EVT_ID}`);
  });

  it("is the same for a redelivery of the event (fewer pending webhooks, other key order)", () => {
    const { id, ...rest } = succeeded;
    const redelivery = { ...rest, pending_webhooks: 0, id };
    expect(payskeJobId(received(redelivery))).toBe(payskeJobId(received(succeeded)));
  });

  it("differs between two events, even about the same object", () => {
    const other = event("payment_intent.succeeded", paymentIntent(), { id: "evt_3PQhKx2eZvKYlo2C1eRtY0pQ" });
    expect(payskeJobId(received(other))).not.toBe(payskeJobId(received(succeeded)));
  });

  it("never contains a colon (BullMQ refuses such ids)", () => {
    expect(payskeJobId({ id: "evt_test_1" })).not.toContain(":");
  });
});

describe("toPayskeNotification", () => {
  describe("payment_intent.succeeded", () => {
    it("is a success of the amount received, currency upper-cased, order from metadata.order_id", () => {
      expect(notify(succeeded)).toEqual({
        eventId: EVT_ID,
        type: "payment_intent.succeeded",
        createdMs: CREATED * 1000,
        livemode: true,
        paymentId: PI_ID,
        orderId: "ord_1001",
        change: { kind: "succeeded", requested: 4999, amount: 4999, currency: "USD" },
      });
      expect(new Date(notify(succeeded)!.createdMs).toISOString()).toBe(CREATED_ISO);
    });

    it("counts amount_received, not amount, after a partial capture", () => {
      const pi = paymentIntent({ capture_method: "manual", amount: 5000, amount_received: 4500 });
      expect(notify(event("payment_intent.succeeded", pi))!.change).toEqual({ kind: "succeeded", requested: 5000, amount: 4500, currency: "USD" });
    });

    it("falls back to amount when amount_received is absent", () => {
      const body = without(event("payment_intent.succeeded", paymentIntent()), "data.object.amount_received");
      expect(notify(body)!.change).toEqual({ kind: "succeeded", requested: 4999, amount: 4999, currency: "USD" });
    });

    it("reads the order from a custom metadata key", () => {
      const pi = paymentIntent({ metadata: { shop_order: "SO-77", order_id: "not-this-one" } });
      expect(notify(event("payment_intent.succeeded", pi), "shop_order")!.orderId).toBe("SO-77");
    });

    it("has no order when the key is absent or empty, or metadata is missing", () => {
      expect(notify(event("payment_intent.succeeded", paymentIntent({ metadata: {} })))!.orderId).toBeNull();
      expect(notify(event("payment_intent.succeeded", paymentIntent({ metadata: { order_id: "" } })))!.orderId).toBeNull();
      expect(notify(succeeded, "shop_order")!.orderId).toBeNull();
      expect(notify(without(succeeded, "data.object.metadata"))!.orderId).toBeNull();
    });

    it.each([
      ["a colon (a Redis key separator)", "ord:1"],
      ["a space", "ord 1"],
      ["a slash", "../ord"],
      ["a brace (a Cluster hash tag)", "{ord}"],
      ["129 characters", "o".repeat(129)],
      ["non-ASCII", "заказ-1"],
    ])("names no order when metadata's order id holds %s", (_case, orderId) => {
      expect(notify(event("payment_intent.succeeded", paymentIntent({ metadata: { order_id: orderId } })))!.orderId).toBeNull();
      expect(notify(event("payment_intent.payment_failed", paymentIntent({ metadata: { order_id: orderId } })))!.orderId).toBeNull();
      expect(notify(event("checkout.session.completed", session({ client_reference_id: orderId })))!.orderId).toBeNull();
    });

    it("takes a valid client_reference_id when metadata's order id is not an order id", () => {
      const s = session({ metadata: { order_id: "ord:bad" }, client_reference_id: "ord_ok" });
      expect(notify(event("checkout.session.completed", s))!.orderId).toBe("ord_ok");
      expect(notify(event("payment_intent.succeeded", paymentIntent({ metadata: { order_id: "o".repeat(128) } })))!.orderId).toBe("o".repeat(128));
    });

    it("carries livemode false from a test-mode event", () => {
      const n = notify(event("payment_intent.succeeded", paymentIntent({ livemode: false }), { livemode: false }));
      expect(n!.livemode).toBe(false);
    });

    it.each([
      ["amount is a decimal string", { amount: "49.99" }, /^payment_intent\.succeeded: data\.object\.amount: /],
      ["amount is negative", { amount: -1 }, /^payment_intent\.succeeded: data\.object\.amount: /],
      ["amount has a fraction", { amount: 49.99 }, /^payment_intent\.succeeded: data\.object\.amount: /],
      ["currency is not a 3-letter code", { currency: "usdt" }, /^payment_intent\.succeeded: data\.object\.currency: /],
      ["id is empty", { id: "" }, /^payment_intent\.succeeded: data\.object\.id: /],
    ])("throws PayloadValidationError when %s", (_case, patch, message) => {
      const body = { ...succeeded, data: { object: { ...paymentIntent(), ...patch } } };
      const err = thrown(() => notify(body));
      expect(err).toBeInstanceOf(PayloadValidationError);
      expect(err.message).toMatch(message);
    });

    it("throws PayloadValidationError naming a missing field", () => {
      const err = thrown(() => notify(without(succeeded, "data.object.currency")));
      expect(err).toBeInstanceOf(PayloadValidationError);
      expect(err.message).toMatch(/^payment_intent\.succeeded: data\.object\.currency: /);
    });

    it("throws PayloadValidationError when data.object is some other resource", () => {
      const body = event("payment_intent.succeeded", { id: "cus_Q1a2b3c4d5e6f7", object: "customer", email: "a@example.com" });
      expect(() => notify(body)).toThrow(PayloadValidationError);
    });
  });

  describe("checkout.session.completed / async_payment_succeeded", () => {
    it("a paid session is a success of the PaymentIntent, order from client_reference_id", () => {
      const n = notify(event("checkout.session.completed", session()));
      expect(n).toEqual({
        eventId: EVT_ID,
        type: "checkout.session.completed",
        createdMs: CREATED * 1000,
        livemode: true,
        paymentId: PI_ID,
        orderId: "ord_2002",
        change: { kind: "succeeded", requested: 4999, amount: 4999, currency: "USD" },
      });
    });

    it("reads an expanded payment_intent object reference", () => {
      const expanded = { id: PI_ID, object: "payment_intent" as const, amount: 4999, currency: "usd", status: "succeeded" as const };
      expect(notify(event("checkout.session.completed", session({ payment_intent: expanded })))!.paymentId).toBe(PI_ID);
    });

    it("uses the session id when the session has no PaymentIntent", () => {
      expect(notify(event("checkout.session.completed", session({ payment_intent: null })))!.paymentId).toBe(CS_ID);
    });

    it("prefers metadata[orderKey] over client_reference_id", () => {
      const s = session({ metadata: { order_id: "ord_from_metadata" } });
      expect(notify(event("checkout.session.completed", s))!.orderId).toBe("ord_from_metadata");
      const custom = session({ metadata: { shop_order: "SO-9" } });
      expect(notify(event("checkout.session.completed", custom), "shop_order")!.orderId).toBe("SO-9");
    });

    it("has no order when neither metadata nor client_reference_id names one", () => {
      expect(notify(event("checkout.session.completed", session({ client_reference_id: null })))!.orderId).toBeNull();
    });

    it("is null while the payment is still unpaid (delayed bank debit)", () => {
      expect(notify(event("checkout.session.completed", session({ payment_status: "unpaid" })))).toBeNull();
    });

    it("maps checkout.session.async_payment_succeeded with payment_status paid", () => {
      const n = notify(event("checkout.session.async_payment_succeeded", session({ currency: "eur", amount_total: 1250 })));
      expect(n).toMatchObject({ type: "checkout.session.async_payment_succeeded", paymentId: PI_ID, orderId: "ord_2002" });
      expect(n!.change).toEqual({ kind: "succeeded", requested: 1250, amount: 1250, currency: "EUR" });
    });

    it("gives null amount and currency when the session has none", () => {
      const n = notify(event("checkout.session.completed", session({ amount_total: null, currency: null })));
      expect(n!.change).toEqual({ kind: "succeeded", requested: null, amount: null, currency: null });
    });

    it("reads a session without payment_status (API versions before 2020) as paid: it completed only once paid", () => {
      const n = notify(without(event("checkout.session.completed", session()), "data.object.payment_status"));
      expect(n).toMatchObject({ paymentId: PI_ID, orderId: "ord_2002", change: { kind: "succeeded", requested: 4999, amount: 4999 } });
    });

    it("does not read a session whose payment is still unpaid as a payment", () => {
      expect(notify(event("checkout.session.completed", session({ payment_status: "unpaid" })))).toBeNull();
    });

    it("throws PayloadValidationError when payment_intent is neither an id nor an object with one", () => {
      const body = { ...event("checkout.session.completed", session()), data: { object: { ...session(), payment_intent: 42 } } };
      expect(() => notify(body)).toThrow(PayloadValidationError);
    });
  });

  describe("payment_intent.payment_failed", () => {
    const failedPi = paymentIntent({
      status: "requires_payment_method",
      amount_received: 0,
      last_payment_error: { type: "card_error", code: "card_declined", decline_code: "insufficient_funds", message: "Your card has insufficient funds." },
    });

    it("is a failure of the intended amount with the decline code", () => {
      expect(notify(event("payment_intent.payment_failed", failedPi))).toEqual({
        eventId: EVT_ID,
        type: "payment_intent.payment_failed",
        createdMs: CREATED * 1000,
        livemode: true,
        paymentId: PI_ID,
        orderId: "ord_1001",
        change: { kind: "failed", amount: 4999, currency: "USD", failureCode: "insufficient_funds" },
      });
    });

    it("falls back to the error code, then to null", () => {
      const codeOnly = paymentIntent({ status: "requires_payment_method", last_payment_error: { type: "card_error", code: "expired_card" } });
      expect(notify(event("payment_intent.payment_failed", codeOnly))!.change).toMatchObject({ failureCode: "expired_card" });
      const none = paymentIntent({ status: "requires_payment_method", last_payment_error: null });
      expect(notify(event("payment_intent.payment_failed", none))!.change).toMatchObject({ failureCode: null });
    });

    it("throws PayloadValidationError when amount is missing", () => {
      const err = thrown(() => notify(without(event("payment_intent.payment_failed", failedPi), "data.object.amount")));
      expect(err).toBeInstanceOf(PayloadValidationError);
      expect(err.message).toMatch(/^payment_intent\.payment_failed: data\.object\.amount: /);
    });
  });

  describe("charge.refunded", () => {
    it("is a refund of the PaymentIntent with the charge amount and the cumulative amount refunded", () => {
      const n = notify(event("charge.refunded", charge({ amount_refunded: 1500, refunded: false })));
      expect(n).toEqual({
        eventId: EVT_ID,
        type: "charge.refunded",
        createdMs: CREATED * 1000,
        livemode: true,
        paymentId: PI_ID,
        orderId: "ord_1001",
        change: { kind: "refunded", chargeAmount: 4999, amountRefunded: 1500, currency: "USD" },
      });
    });

    it("reads an expanded payment_intent and falls back to the charge id without one", () => {
      const expanded = { id: PI_ID, object: "payment_intent" as const, amount: 4999, currency: "usd", status: "succeeded" as const };
      expect(notify(event("charge.refunded", charge({ payment_intent: expanded })))!.paymentId).toBe(PI_ID);
      expect(notify(event("charge.refunded", charge({ payment_intent: null })))!.paymentId).toBe(CH_ID);
    });

    it("reads the order from a custom metadata key", () => {
      expect(notify(event("charge.refunded", charge({ metadata: { shop_order: "SO-77" } })), "shop_order")!.orderId).toBe("SO-77");
    });

    it("throws PayloadValidationError when amount_refunded is missing", () => {
      const err = thrown(() => notify(without(event("charge.refunded", charge()), "data.object.amount_refunded")));
      expect(err).toBeInstanceOf(PayloadValidationError);
      expect(err.message).toMatch(/^charge\.refunded: data\.object\.amount_refunded: /);
    });
  });

  describe("charge.dispute.created", () => {
    it("is a dispute of the PaymentIntent with the dispute id, amount and reason", () => {
      expect(notify(event("charge.dispute.created", dispute()))).toEqual({
        eventId: EVT_ID,
        type: "charge.dispute.created",
        createdMs: CREATED * 1000,
        livemode: true,
        paymentId: PI_ID,
        orderId: null,
        change: { kind: "disputed", disputeId: DP_ID, amount: 4999, currency: "USD", reason: "fraudulent" },
      });
    });

    it("falls back to the charge (id or expanded) when the dispute has no PaymentIntent", () => {
      expect(notify(event("charge.dispute.created", dispute({ payment_intent: null })))!.paymentId).toBe(CH_ID);
      const expandedCharge = { id: CH_ID, object: "charge" as const, amount: 4999, currency: "usd" };
      expect(notify(event("charge.dispute.created", dispute({ payment_intent: null, charge: expandedCharge })))!.paymentId).toBe(CH_ID);
    });

    it("throws PayloadValidationError when amount is negative", () => {
      const body = event("charge.dispute.created", dispute({ amount: -4999 }));
      const err = thrown(() => notify(body));
      expect(err).toBeInstanceOf(PayloadValidationError);
      expect(err.message).toMatch(/^charge\.dispute\.created: data\.object\.amount: /);
    });
  });

  it.each([
    ["payment_intent.created", paymentIntent({ status: "requires_payment_method", amount_received: 0 })],
    ["payment_intent.processing", paymentIntent({ status: "processing", amount_received: 0 })],
    ["charge.succeeded", charge({ amount_refunded: 0, refunded: false })],
    ["checkout.session.async_payment_failed", session({ payment_status: "unpaid" })],
    ["checkout.session.expired", session({ status: "expired", payment_status: "unpaid" })],
    ["charge.dispute.closed", dispute({ status: "won" })],
    ["invoice.paid", { id: "in_1PQhKx2eZvKYlo2C", object: "invoice" }],
    ["customer.created", { id: "cus_Q1a2b3c4d5e6f7", object: "customer" }],
  ] as const)("is null for %s (recorded and acknowledged, no ledger change)", (type, object) => {
    expect(notify(event(type, object))).toBeNull();
  });

  it("is null for an unmapped type even when its object would fail a mapped type's schema", () => {
    expect(notify(event("refund.created", { id: "re_3PQhKx2eZvKYlo2C1", object: "refund", amount: "not a number" }))).toBeNull();
  });
});

describe("checkPayskeObject (what the worker could not process: it quarantines the job)", () => {
  it.each([
    ["a negative amount", event("payment_intent.succeeded", paymentIntent({ amount: -1 }))],
    ["a fractional amount", event("payment_intent.succeeded", paymentIntent({ amount_received: 49.5 }))],
    ["an amount past 2^53", event("charge.refunded", charge({ amount_refunded: 2 ** 53 }))],
    ["a currency that is not three letters", event("charge.dispute.created", dispute({ currency: "dollars" }))],
    ["no object id", without(event("checkout.session.completed", session()), "data.object.id")],
  ])("throws PayloadValidationError for a mapped type with %s", (_label, body) => {
    expect(thrown(() => checkPayskeObject(received(body)))).toBeInstanceOf(PayloadValidationError);
  });

  it("passes a valid mapped event, a pending checkout session, and any unmapped type", () => {
    expect(() => checkPayskeObject(received(succeeded))).not.toThrow();
    expect(() => checkPayskeObject(received(event("checkout.session.completed", session({ payment_status: "unpaid" }))))).not.toThrow();
    expect(() => checkPayskeObject(received(event("refund.created", { id: "re_1", object: "refund", amount: "not a number" })))).not.toThrow();
  });
});
