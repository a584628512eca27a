import { createHash } from "node:crypto";
import {
  ORDER_STATUSES,
  deriveOrder,
  type OrderRecord,
  type PaymentDecision,
  type PaymentFacts,
  type PaymentRecord,
} from "@payhooks/core";
import type { PaymeReply } from "./errors";
import {
  PAYME_REASONS,
  PAYME_TIMEOUT_MS,
  checkOrder,
  checkPerform,
  checkTransaction,
  decideCancel,
  decideCreate,
  decidePerform,
  decideSetFiscalData,
  merchantTransactionId,
  orderIdOf,
  parseParams,
  statementIndex,
  statementItem,
  transactionOf,
  type PaymeContext,
  type PaymeCurrent,
  type PaymeOutcome,
  type PaymeParams,
  type PaymeState,
  type PaymeTransaction,
} from "./transaction";

/** Fixed clock: Payme's `params.time`, the transaction's creation in Payme (2023-11-14T22:13:20.000Z). */
const PAYME_TIME_MS = 1_700_000_000_000;
/** Our clock when the stored transaction was created, performed and cancelled (1.5 s, 1 min, 2 min later). */
const CREATE_MS = PAYME_TIME_MS + 1_500;
const PERFORM_MS = PAYME_TIME_MS + 60_000;
const CANCEL_MS = PAYME_TIME_MS + 120_000;
/** A "now" one hour after `time`: well inside the 12 hours. */
const LATER_MS = PAYME_TIME_MS + 3_600_000;

const PAYME_ID = "5305e3bab097f420a62ced0b";
const ORDER_ID = "1001";
/** 5 000 UZS in tiyin */
const AMOUNT = 500_000;
const FIELD = "order_id";
/** Stored merchant id, deliberately not merchantTransactionId(PAYME_ID): replies must read it from storage. */
const STORED_TXN = "ph_stored_0123456789abcdef";
const CREATED_AT = "2023-11-14T22:00:00.000Z";

const STATUS_OF: Record<PaymeState, string> = { 1: "created", 2: "performed", [-1]: "cancelled", [-2]: "refunded" };
/** The ledger's key for this payment in OrderRecord.payments. */
const MEMBER = `payme/${PAYME_ID}`;

function ctx(now: number, overrides: Partial<PaymeContext> = {}): PaymeContext {
  return { now, livemode: true, accountField: FIELD, ...overrides };
}

function order(overrides: Partial<OrderRecord> = {}): OrderRecord {
  return {
    orderId: ORDER_ID,
    amount: AMOUNT,
    currency: "UZS",
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

/**
 * What a transaction in `state` tells the ledger: created holds the order (requested, nothing
 * settled), performed settled the amount, cancelled settled nothing, refunded gave it all back.
 */
function factsOf(state: PaymeState, livemode = true, amount = AMOUNT): PaymentFacts {
  const status = ({ 1: "held", 2: "succeeded", [-1]: "cancelled", [-2]: "refunded" } as const)[state];
  const settled = state === 2 || state === -2 ? amount : 0;
  return { status, currency: "UZS", requested: amount, settled, refunded: state === -2 ? amount : 0, livemode };
}

/** An order carrying these payments, its status and paidAmount derived by the core as the ledger stores them. */
function orderWith(payments: Record<string, PaymentFacts>, overrides: Partial<OrderRecord> = {}): OrderRecord {
  const o = order({ ...overrides, payments });
  return { ...o, ...deriveOrder(o, Object.values(payments)) };
}

/** A stored transaction in `state`, with the times and reason that state implies. */
function tx(state: PaymeState, overrides: Partial<PaymeTransaction> = {}): PaymeTransaction {
  const times: Pick<PaymeTransaction, "perform_time" | "cancel_time" | "reason"> =
    state === 1
      ? { perform_time: 0, cancel_time: 0, reason: null }
      : state === 2
        ? { perform_time: PERFORM_MS, cancel_time: 0, reason: null }
        : state === -1
          ? { perform_time: 0, cancel_time: CANCEL_MS, reason: 3 }
          : { perform_time: PERFORM_MS, cancel_time: CANCEL_MS, reason: 5 };
  return {
    state,
    time: PAYME_TIME_MS,
    amount: AMOUNT,
    account: { order_id: ORDER_ID },
    create_time: CREATE_MS,
    transaction: STORED_TXN,
    fiscal: {},
    ...times,
    ...overrides,
  };
}

function payment(t: PaymeTransaction, overrides: Partial<PaymentRecord> = {}): PaymentRecord {
  return {
    provider: "payme",
    providerPaymentId: PAYME_ID,
    orderId: ORDER_ID,
    attached: true,
    facts: factsOf(t.state, true, t.amount),
    providerStatus: STATUS_OF[t.state],
    at: new Date(CREATE_MS).toISOString(),
    state: { ...t },
    v: "1",
    ...overrides,
  };
}

/**
 * The records as they stand when the transaction is in `state`: the order carries its facts (and
 * those of `others`), status derived by the core (1 reserved, 2 paid, -1 awaiting_payment, -2 refunded).
 */
function currentIn(state: PaymeState, orderOverrides: Partial<OrderRecord> = {}, others: Record<string, PaymentFacts> = {}): PaymeCurrent {
  return { payment: payment(tx(state)), order: orderWith({ ...others, [MEMBER]: factsOf(state) }, orderOverrides) };
}

function createParams(overrides: Partial<PaymeParams<"CreateTransaction">> = {}): PaymeParams<"CreateTransaction"> {
  return { id: PAYME_ID, time: PAYME_TIME_MS, amount: AMOUNT, account: { order_id: ORDER_ID }, ...overrides };
}

function applied(decision: PaymentDecision): Extract<PaymentDecision, { kind: "applied" }> {
  if (decision.kind !== "applied") throw new Error(`expected applied, got ignored: ${decision.reason}`);
  return decision;
}

function writtenTx(decision: PaymentDecision): PaymeTransaction {
  return applied(decision).payment.state as unknown as PaymeTransaction;
}

function expectIgnored(outcome: PaymeOutcome): void {
  expect(outcome.decision.kind).toBe("ignored");
}

/**
 * What the ledger does with a decision: the payment row replaced (its state through JSON, as the
 * ledger stores it), its facts put on the order and the order's status and paidAmount derived by
 * the core. An ignored decision writes nothing.
 */
function persist(current: PaymeCurrent, decision: PaymentDecision): PaymeCurrent {
  if (decision.kind === "ignored") return current;
  const p = decision.payment;
  const o = current.order;
  const next: PaymentRecord = {
    provider: "payme",
    providerPaymentId: PAYME_ID,
    orderId: o?.orderId ?? null,
    attached: o !== null,
    facts: p.facts,
    providerStatus: p.providerStatus,
    at: p.at,
    state: JSON.parse(JSON.stringify(p.state)) as Record<string, unknown>,
    v: String(Number(current.payment?.v ?? "0") + 1),
  };
  return { payment: next, order: o ? orderWith({ ...o.payments, [MEMBER]: p.facts }, o) : null };
}

const iso = (ms: number): string => new Date(ms).toISOString();
const CANNOT_PERFORM: PaymeReply = { error: { code: -31008 } };
const NOT_FOUND: PaymeReply = { error: { code: -31003 } };

describe("constants", () => {
  it("times out after 12 hours and knows only the reasons 1–5 and 10 (docs/protocols/payme.md#12-hour-timeout, #canceltransaction)", () => {
    expect(PAYME_TIMEOUT_MS).toBe(12 * 60 * 60 * 1000);
    expect([...PAYME_REASONS]).toEqual([1, 2, 3, 4, 5, 10]);
  });

  it("keeps live and sandbox statements in separate indexes", () => {
    expect(statementIndex(true)).toBe("statement:live");
    expect(statementIndex(false)).toBe("statement:test");
  });
});

describe("merchantTransactionId", () => {
  it("is a string derived from Payme's id: ph_ + 24 hex of sha256('payme\\0' + id)", () => {
    const expected = `ph_${createHash("sha256").update(`payme\u0000${PAYME_ID}`).digest("hex").slice(0, 24)}`;
    expect(merchantTransactionId(PAYME_ID)).toBe(expected);
    expect(merchantTransactionId(PAYME_ID)).toMatch(/^ph_[0-9a-f]{24}$/);
  });

  it("is the same for the same id and differs between ids", () => {
    expect(merchantTransactionId(PAYME_ID)).toBe(merchantTransactionId(PAYME_ID));
    expect(merchantTransactionId(PAYME_ID)).not.toBe(merchantTransactionId("5305e3bab097f420a62ced0c"));
  });
});

describe("state machine (docs/protocols/payme.md#state-machine): every state × Create/Perform/Cancel/Check", () => {
  type Method = "Create" | "Perform" | "Cancel" | "Check";
  /** the reason the table's CancelTransaction carries: Payme's, not the stored one */
  const CANCEL_REASON = 2;
  const NEW_TXN = merchantTransactionId(PAYME_ID);

  function run(method: Method, current: PaymeCurrent, now: number): { reply: PaymeReply; written: PaymeTransaction | null } {
    const c = ctx(now);
    if (method === "Check") return { reply: checkTransaction(current.payment, c), written: null };
    const outcome =
      method === "Create"
        ? decideCreate(createParams(), current, c)
        : method === "Perform"
          ? decidePerform(current, c)
          : decideCancel({ id: PAYME_ID, reason: CANCEL_REASON }, current, c);
    return { reply: outcome.reply, written: outcome.decision.kind === "applied" ? writtenTx(outcome.decision) : null };
  }

  const EXACTLY_12H = PAYME_TIME_MS + 43_200_000;
  const EXPIRED = PAYME_TIME_MS + 43_200_001;

  type Row = {
    label: string;
    current: () => PaymeCurrent;
    now: number;
    method: Method;
    reply: PaymeReply;
    written: PaymeTransaction | null;
  };

  const checkOf = (t: PaymeTransaction): PaymeReply => ({
    result: {
      create_time: t.create_time,
      perform_time: t.perform_time,
      cancel_time: t.cancel_time,
      transaction: t.transaction,
      state: t.state,
      reason: t.reason,
    },
  });

  /** "1, not expired" rows, at a given now (1 h after `time`, or exactly 12 h after it). */
  const activeRows = (label: string, now: number): Row[] => [
    {
      label,
      current: () => currentIn(1),
      now,
      method: "Create",
      reply: { result: { create_time: CREATE_MS, transaction: STORED_TXN, state: 1 } },
      written: null,
    },
    {
      label,
      current: () => currentIn(1),
      now,
      method: "Perform",
      reply: { result: { transaction: STORED_TXN, perform_time: now, state: 2 } },
      written: tx(2, { perform_time: now }),
    },
    {
      label,
      current: () => currentIn(1),
      now,
      method: "Cancel",
      reply: { result: { transaction: STORED_TXN, cancel_time: now, state: -1 } },
      written: tx(-1, { cancel_time: now, reason: CANCEL_REASON }),
    },
    { label, current: () => currentIn(1), now, method: "Check", reply: checkOf(tx(1)), written: null },
  ];

  const rows: Row[] = [
    {
      label: "none",
      current: () => ({ payment: null, order: order() }),
      now: CREATE_MS,
      method: "Create",
      reply: { result: { create_time: CREATE_MS, transaction: NEW_TXN, state: 1 } },
      written: tx(1, { transaction: NEW_TXN }),
    },
    { label: "none", current: () => ({ payment: null, order: order() }), now: LATER_MS, method: "Perform", reply: NOT_FOUND, written: null },
    { label: "none", current: () => ({ payment: null, order: order() }), now: LATER_MS, method: "Cancel", reply: NOT_FOUND, written: null },
    { label: "none", current: () => ({ payment: null, order: order() }), now: LATER_MS, method: "Check", reply: NOT_FOUND, written: null },

    ...activeRows("1, 1 h after time", LATER_MS),
    ...activeRows("1, exactly 43 200 000 ms after time (not expired)", EXACTLY_12H),

    {
      label: "1, 43 200 001 ms after time (expired)",
      current: () => currentIn(1),
      now: EXPIRED,
      method: "Create",
      reply: CANNOT_PERFORM,
      written: tx(-1, { cancel_time: EXPIRED, reason: 4 }),
    },
    {
      label: "1, 43 200 001 ms after time (expired)",
      current: () => currentIn(1),
      now: EXPIRED,
      method: "Perform",
      reply: CANNOT_PERFORM,
      written: tx(-1, { cancel_time: EXPIRED, reason: 4 }),
    },
    {
      label: "1, 43 200 001 ms after time (expired)",
      current: () => currentIn(1),
      now: EXPIRED,
      method: "Cancel",
      reply: { result: { transaction: STORED_TXN, cancel_time: EXPIRED, state: -1 } },
      written: tx(-1, { cancel_time: EXPIRED, reason: CANCEL_REASON }),
    },
    {
      label: "1, 43 200 001 ms after time (expired)",
      current: () => currentIn(1),
      now: EXPIRED,
      method: "Check",
      reply: checkOf(tx(1)),
      written: null,
    },

    { label: "2", current: () => currentIn(2), now: LATER_MS, method: "Create", reply: CANNOT_PERFORM, written: null },
    {
      label: "2",
      current: () => currentIn(2),
      now: LATER_MS,
      method: "Perform",
      reply: { result: { transaction: STORED_TXN, perform_time: PERFORM_MS, state: 2 } },
      written: null,
    },
    {
      label: "2 (refundable order)",
      current: () => currentIn(2),
      now: LATER_MS,
      method: "Cancel",
      reply: { result: { transaction: STORED_TXN, cancel_time: LATER_MS, state: -2 } },
      written: tx(-2, { cancel_time: LATER_MS, reason: CANCEL_REASON }),
    },
    {
      label: "2 (order not refundable)",
      current: () => currentIn(2, { refundable: false }),
      now: LATER_MS,
      method: "Cancel",
      reply: { error: { code: -31007 } },
      written: null,
    },
    { label: "2", current: () => currentIn(2), now: LATER_MS, method: "Check", reply: checkOf(tx(2)), written: null },

    { label: "-1", current: () => currentIn(-1), now: LATER_MS, method: "Create", reply: CANNOT_PERFORM, written: null },
    { label: "-1", current: () => currentIn(-1), now: LATER_MS, method: "Perform", reply: CANNOT_PERFORM, written: null },
    {
      label: "-1",
      current: () => currentIn(-1),
      now: LATER_MS,
      method: "Cancel",
      reply: { result: { transaction: STORED_TXN, cancel_time: CANCEL_MS, state: -1 } },
      written: null,
    },
    { label: "-1", current: () => currentIn(-1), now: LATER_MS, method: "Check", reply: checkOf(tx(-1)), written: null },

    { label: "-2", current: () => currentIn(-2), now: LATER_MS, method: "Create", reply: CANNOT_PERFORM, written: null },
    { label: "-2", current: () => currentIn(-2), now: LATER_MS, method: "Perform", reply: CANNOT_PERFORM, written: null },
    {
      label: "-2",
      current: () => currentIn(-2),
      now: LATER_MS,
      method: "Cancel",
      reply: { result: { transaction: STORED_TXN, cancel_time: CANCEL_MS, state: -2 } },
      written: null,
    },
    { label: "-2", current: () => currentIn(-2), now: LATER_MS, method: "Check", reply: checkOf(tx(-2)), written: null },
  ];

  it.each(rows.map((r) => [r.label, r.method, r] as const))("state %s, %s", (_label, _method, row) => {
    const { reply, written } = run(row.method, row.current(), row.now);
    expect(reply).toEqual(row.reply);
    expect(written).toEqual(row.written);
  });

  it("covers every current state with all four methods", () => {
    const methods = (prefix: string) => new Set(rows.filter((r) => r.label.startsWith(prefix)).map((r) => r.method));
    for (const prefix of ["none", "1, 1 h", "1, exactly", "1, 43 200 001", "2", "-1", "-2"]) {
      expect([...methods(prefix)].sort()).toEqual(["Cancel", "Check", "Create", "Perform"]);
    }
  });
});

describe("repeats return the stored values byte for byte (docs/protocols/payme.md#retries-and-idempotency)", () => {
  const T_CREATE = PAYME_TIME_MS + 2_000;
  const T_PERFORM = PAYME_TIME_MS + 90_000;
  const T_CANCEL = PAYME_TIME_MS + 600_000;

  it("Create → Create, Perform → Perform, Cancel(5) → Cancel(1), with the clock moving on", () => {
    let current: PaymeCurrent = { payment: null, order: order() };

    const created = decideCreate(createParams(), current, ctx(T_CREATE));
    current = persist(current, created.decision);
    const createdAgain = decideCreate(createParams(), current, ctx(T_CREATE + 30_000));
    expect(JSON.stringify(createdAgain.reply)).toBe(JSON.stringify(created.reply));
    expectIgnored(createdAgain);

    const performed = decidePerform(current, ctx(T_PERFORM));
    current = persist(current, performed.decision);
    const performedAgain = decidePerform(current, ctx(T_PERFORM + 45_000));
    expect(JSON.stringify(performedAgain.reply)).toBe(JSON.stringify(performed.reply));
    expectIgnored(performedAgain);

    const checkAfterPerform = checkTransaction(current.payment, ctx(T_PERFORM + 50_000));
    expect(checkAfterPerform).toEqual({
      result: {
        create_time: T_CREATE,
        perform_time: T_PERFORM,
        cancel_time: 0,
        transaction: merchantTransactionId(PAYME_ID),
        state: 2,
        reason: null,
      },
    });

    const cancelled = decideCancel({ id: PAYME_ID, reason: 5 }, current, ctx(T_CANCEL));
    current = persist(current, cancelled.decision);
    const cancelledAgain = decideCancel({ id: PAYME_ID, reason: 1 }, current, ctx(T_CANCEL + 3_600_000));
    expect(JSON.stringify(cancelledAgain.reply)).toBe(JSON.stringify(cancelled.reply));
    expectIgnored(cancelledAgain);

    const check = checkTransaction(current.payment, ctx(T_CANCEL + 7_200_000));
    expect(JSON.stringify(check)).toBe(
      JSON.stringify({
        result: {
          create_time: T_CREATE,
          perform_time: T_PERFORM,
          cancel_time: T_CANCEL,
          transaction: merchantTransactionId(PAYME_ID),
          state: -2,
          reason: 5,
        },
      }),
    );
    // Perform after the refund is refused and does not touch the stored times.
    expect(decidePerform(current, ctx(T_CANCEL + 1)).reply).toEqual(CANNOT_PERFORM);
  });

  it("Cancel(3) from state 1, then Cancel(10): cancel_time and reason stay the first ones", () => {
    let current = currentIn(1);
    const first = decideCancel({ id: PAYME_ID, reason: 3 }, current, ctx(T_CANCEL));
    current = persist(current, first.decision);
    const again = decideCancel({ id: PAYME_ID, reason: 10 }, current, ctx(T_CANCEL + 1_000));
    expect(JSON.stringify(again.reply)).toBe(JSON.stringify(first.reply));
    expect(again.decision).toEqual({ kind: "ignored", reason: expect.any(String) });
    const check = checkTransaction(current.payment, ctx(T_CANCEL + 2_000));
    expect(check).toEqual({
      result: { create_time: CREATE_MS, perform_time: 0, cancel_time: T_CANCEL, transaction: STORED_TXN, state: -1, reason: 3 },
    });
  });

  it("a repeat Create still answers the stored create_time, even with another `time` or amount", () => {
    const current = currentIn(1);
    const outcome = decideCreate(createParams({ time: PAYME_TIME_MS + 5 }), current, ctx(LATER_MS));
    expect(JSON.stringify(outcome.reply)).toBe(JSON.stringify({ result: { create_time: CREATE_MS, transaction: STORED_TXN, state: 1 } }));
  });
});

describe("CheckTransaction (docs/protocols/payme.md#checktransaction)", () => {
  it("answers 0 for unset times and null for an unset reason", () => {
    const reply = checkTransaction(payment(tx(1)), ctx(LATER_MS));
    if (!("result" in reply)) throw new Error("expected a result");
    expect(reply.result["perform_time"]).toBe(0);
    expect(reply.result["cancel_time"]).toBe(0);
    expect(reply.result["reason"]).toBeNull();
    expect(JSON.stringify(reply)).toContain('"reason":null');
    expect(Object.keys(reply.result).sort()).toEqual(["cancel_time", "create_time", "perform_time", "reason", "state", "transaction"]);
  });

  it("keeps perform_time on a refunded transaction", () => {
    const reply = checkTransaction(payment(tx(-2)), ctx(LATER_MS));
    expect(reply).toEqual({
      result: { create_time: CREATE_MS, perform_time: PERFORM_MS, cancel_time: CANCEL_MS, transaction: STORED_TXN, state: -2, reason: 5 },
    });
  });

  it("answers `transaction` as a string in every reply that carries it", () => {
    const replies: PaymeReply[] = [
      decideCreate(createParams(), { payment: null, order: order() }, ctx(CREATE_MS)).reply,
      decidePerform(currentIn(1), ctx(LATER_MS)).reply,
      decideCancel({ id: PAYME_ID, reason: 3 }, currentIn(1), ctx(LATER_MS)).reply,
      checkTransaction(payment(tx(2)), ctx(LATER_MS)),
    ];
    for (const reply of replies) {
      if (!("result" in reply)) throw new Error(`expected a result, got ${JSON.stringify(reply)}`);
      expect(typeof reply.result["transaction"]).toBe("string");
    }
    expect(typeof statementItem(payment(tx(1)))["transaction"]).toBe("string");
  });
});

describe("CheckPerformTransaction (docs/protocols/payme.md#checkperformtransaction)", () => {
  const params = (overrides: Partial<PaymeParams<"CheckPerformTransaction">> = {}): PaymeParams<"CheckPerformTransaction"> => ({
    amount: AMOUNT,
    account: { order_id: ORDER_ID },
    ...overrides,
  });
  const fiscalItem = {
    title: "Chai, 100 g",
    price: 250_000,
    count: 2,
    code: "00702001001000001",
    package_code: "123456",
    vat_percent: 12,
  };

  it("allows a payable order: {allow: true} and nothing else when the order has no items", () => {
    expect(checkPerform(params(), order(), ctx(LATER_MS))).toEqual({ result: { allow: true } });
  });

  it.each([
    ["missing", {}],
    ["an empty string", { order_id: "" }],
    ["blank", { order_id: "   " }],
    ["null", { order_id: null }],
    ["an object", { order_id: { id: ORDER_ID } }],
    ["a boolean", { order_id: true }],
    ["a fraction", { order_id: 10.5 }],
    ["not an order id", { order_id: "10 01/../x" }],
    ["under another name", { orderId: ORDER_ID }],
  ])("refuses an account field that is %s with -31050, data 'order_id'", (_label, account) => {
    // The order exists: the account check comes first.
    expect(checkPerform(params({ account }), order(), ctx(LATER_MS))).toEqual({ error: { code: -31050, data: "order_id" } });
  });

  it("names a custom account field in data", () => {
    const custom = ctx(LATER_MS, { accountField: "invoice" });
    expect(checkPerform(params({ account: { order_id: ORDER_ID } }), order(), custom)).toEqual({
      error: { code: -31050, data: "invoice" },
    });
    expect(checkPerform(params({ account: { invoice: ORDER_ID } }), order(), custom)).toEqual({ result: { allow: true } });
    expect(checkPerform(params({ account: { invoice: ORDER_ID } }), null, custom)).toEqual({ error: { code: -31050, data: "invoice" } });
  });

  it("refuses an unknown order with -31050, data = the account field", () => {
    expect(checkPerform(params(), null, ctx(LATER_MS))).toEqual({ error: { code: -31050, data: "order_id" } });
  });

  it("accepts the order id given as a number", () => {
    expect(checkPerform(params({ account: { order_id: 1001 } }), order(), ctx(LATER_MS))).toEqual({ result: { allow: true } });
    expect(orderIdOf({ account: { order_id: 1001 } }, FIELD)).toBe("1001");
  });

  it.each([
    ["one tiyin more", AMOUNT + 1],
    ["one tiyin less", AMOUNT - 1],
    ["in sums instead of tiyin", AMOUNT / 100],
    ["not an integer", AMOUNT + 0.5],
    ["zero", 0],
    ["negative", -AMOUNT],
  ])("refuses an amount %s with -31001", (_label, amount) => {
    expect(checkPerform(params({ amount }), order(), ctx(LATER_MS))).toEqual({ error: { code: -31001 } });
  });

  it("refuses with -31001 a non-integer amount even when the order's amount is the same fraction", () => {
    const fractional = order({ amount: 1234.5 });
    expect(checkPerform(params({ amount: 1234.5 }), fractional, ctx(LATER_MS))).toEqual({ error: { code: -31001 } });
  });

  it("refuses with -31001 an order whose currency is not UZS, even at the same amount", () => {
    expect(checkPerform(params(), order({ currency: "USD" }), ctx(LATER_MS))).toEqual({ error: { code: -31001 } });
  });

  it.each(ORDER_STATUSES.filter((s) => s !== "awaiting_payment").map((s) => [s]))(
    "refuses an order that is %s with -31008",
    (status) => {
      expect(checkPerform(params(), order({ status }), ctx(LATER_MS))).toEqual({ error: { code: -31008 } });
    },
  );

  it("checks in order: account, order, amount, status", () => {
    const reserved = order({ status: "reserved" });
    expect(checkPerform(params({ account: {}, amount: 1 }), null, ctx(LATER_MS))).toEqual({ error: { code: -31050, data: "order_id" } });
    expect(checkPerform(params({ amount: 1 }), null, ctx(LATER_MS))).toEqual({ error: { code: -31050, data: "order_id" } });
    expect(checkPerform(params({ amount: 1 }), reserved, ctx(LATER_MS))).toEqual({ error: { code: -31001 } });
    expect(checkPerform(params(), reserved, ctx(LATER_MS))).toEqual({ error: { code: -31008 } });
    // checkOrder is the same check, without the result
    expect(checkOrder(params({ amount: 1 }), reserved, { accountField: FIELD, livemode: true })).toEqual({ error: { code: -31001 } });
    expect(checkOrder(params(), order(), { accountField: FIELD, livemode: true })).toBeNull();
    // the order's mode is part of finding it: checked before the amount
    expect(checkOrder(params({ amount: 1 }), order({ livemode: false }), { accountField: FIELD, livemode: true })).toEqual({
      error: { code: -31050, data: "order_id" },
    });
  });

  it("refuses with -31050 a sandbox call on a live order and a live call on a test order", () => {
    const sandbox = ctx(LATER_MS, { livemode: false });
    expect(checkPerform(params(), order(), sandbox)).toEqual({ error: { code: -31050, data: "order_id" } });
    expect(checkOrder(params(), order(), sandbox)).toEqual({ error: { code: -31050, data: "order_id" } });
    expect(checkPerform(params(), order({ livemode: false }), ctx(LATER_MS))).toEqual({ error: { code: -31050, data: "order_id" } });
    expect(checkOrder(params(), order({ livemode: false }), ctx(LATER_MS))).toEqual({ error: { code: -31050, data: "order_id" } });
    // names the configured field in data
    expect(checkPerform(params({ account: { invoice: ORDER_ID } }), order(), { ...sandbox, accountField: "invoice" })).toEqual({
      error: { code: -31050, data: "invoice" },
    });
  });

  it("allows a sandbox call on a test order, and a live call on a live order", () => {
    expect(checkPerform(params(), order({ livemode: false }), ctx(LATER_MS, { livemode: false }))).toEqual({ result: { allow: true } });
    expect(checkPerform(params(), order({ livemode: true }), ctx(LATER_MS))).toEqual({ result: { allow: true } });
  });

  it("adds `detail` when every item is a valid fiscal item", () => {
    const extra = { ...fiscalItem, title: "Delivery", price: 0, count: 1, units: 241092, discount: 0 };
    expect(checkPerform(params(), order({ items: [fiscalItem, extra] }), ctx(LATER_MS))).toEqual({
      result: { allow: true, detail: { receipt_type: 0, items: [fiscalItem, extra] } },
    });
  });

  it.each([
    ["a missing code", (({ code: _c, ...rest }) => rest)(fiscalItem)],
    ["a missing package_code", (({ package_code: _p, ...rest }) => rest)(fiscalItem)],
    ["a missing vat_percent", (({ vat_percent: _v, ...rest }) => rest)(fiscalItem)],
    ["an empty title", { ...fiscalItem, title: "" }],
    ["a price as a string", { ...fiscalItem, price: "2500.00" }],
    ["a fractional price", { ...fiscalItem, price: 2500.5 }],
    ["a zero count", { ...fiscalItem, count: 0 }],
    ["a negative discount", { ...fiscalItem, discount: -1 }],
    ["not an object", "Chai"],
  ])("leaves `detail` out when one item has %s", (_label, bad) => {
    const reply = checkPerform(params(), order({ items: [fiscalItem, bad] }), ctx(LATER_MS));
    expect(reply).toEqual({ result: { allow: true } });
  });

  it("is side-effect free: the order is not modified", () => {
    const o = order({ items: [fiscalItem] });
    const before = JSON.stringify(o);
    checkPerform(params(), Object.freeze(o), ctx(LATER_MS));
    expect(JSON.stringify(o)).toBe(before);
  });
});

describe("orderIdOf", () => {
  it("reads the configured account field, a string or an integer", () => {
    expect(orderIdOf({ account: { order_id: ORDER_ID } }, FIELD)).toBe(ORDER_ID);
    expect(orderIdOf({ account: { order_id: 42 } }, FIELD)).toBe("42");
    expect(orderIdOf({ account: { invoice: "AC-532" } }, "invoice")).toBe("AC-532");
  });

  it("is null when the field is missing or not an order id", () => {
    expect(orderIdOf({ account: {} }, FIELD)).toBeNull();
    expect(orderIdOf({ account: { invoice: ORDER_ID } }, FIELD)).toBeNull();
    expect(orderIdOf({ account: { order_id: "a b" } }, FIELD)).toBeNull();
    expect(orderIdOf({ account: { order_id: 1.5 } }, FIELD)).toBeNull();
  });
});

describe("CreateTransaction (docs/protocols/payme.md#createtransaction)", () => {
  it("writes a new id as state 1, reserves the order, emits payment.pending and indexes it by `time`", () => {
    const outcome = decideCreate(createParams(), { payment: null, order: order() }, ctx(CREATE_MS));
    const txn = merchantTransactionId(PAYME_ID);
    expect(outcome.reply).toEqual({ result: { create_time: CREATE_MS, transaction: txn, state: 1 } });
    expect(outcome.decision).toEqual({
      kind: "applied",
      payment: {
        facts: { status: "held", currency: "UZS", requested: AMOUNT, settled: 0, refunded: 0, livemode: true },
        providerStatus: "created",
        at: iso(CREATE_MS),
        state: {
          state: 1,
          time: PAYME_TIME_MS,
          amount: AMOUNT,
          account: { order_id: ORDER_ID },
          create_time: CREATE_MS,
          perform_time: 0,
          cancel_time: 0,
          reason: null,
          transaction: txn,
          fiscal: {},
        },
      },
      index: { name: "statement:live", score: PAYME_TIME_MS },
      events: [
        {
          type: "payment.pending",
          amount: AMOUNT,
          currency: "UZS",
          occurredAt: iso(CREATE_MS),
          data: { state: 1, paymeTime: PAYME_TIME_MS, transaction: txn },
        },
      ],
    });
    // The core holds the order for it.
    expect(persist({ payment: null, order: order() }, outcome.decision).order).toMatchObject({ status: "reserved", paidAmount: 0 });
  });

  it("uses our clock for create_time, not Payme's `time`", () => {
    const outcome = decideCreate(createParams(), { payment: null, order: order() }, ctx(LATER_MS));
    expect(writtenTx(outcome.decision).create_time).toBe(LATER_MS);
    expect(writtenTx(outcome.decision).time).toBe(PAYME_TIME_MS);
  });

  it("stores the account verbatim, numbers included", () => {
    const account = { order_id: 1001, phone: "903595731" };
    const outcome = decideCreate(createParams({ account }), { payment: null, order: order() }, ctx(CREATE_MS));
    expect(writtenTx(outcome.decision).account).toEqual(account);
  });

  it("indexes a sandbox transaction on a test order in statement:test with livemode false", () => {
    const testOrder = order({ livemode: false });
    const outcome = decideCreate(createParams(), { payment: null, order: testOrder }, ctx(CREATE_MS, { livemode: false }));
    const decision = applied(outcome.decision);
    expect(decision.index).toEqual({ name: "statement:test", score: PAYME_TIME_MS });
    expect(decision.payment.facts).toEqual(factsOf(1, false));
    expect(persist({ payment: null, order: testOrder }, outcome.decision).order).toMatchObject({ status: "reserved" });
  });

  it("accepts a `time` exactly 12 h old and refuses one older with -31008, writing nothing", () => {
    const fresh = decideCreate(createParams(), { payment: null, order: order() }, ctx(PAYME_TIME_MS + PAYME_TIMEOUT_MS));
    expect(fresh.decision.kind).toBe("applied");

    const old = decideCreate(createParams(), { payment: null, order: order() }, ctx(PAYME_TIME_MS + PAYME_TIMEOUT_MS + 1));
    expect(old.reply).toEqual(CANNOT_PERFORM);
    expectIgnored(old);
  });

  it.each([
    ["the account is malformed", createParams({ account: {} }), order(), { error: { code: -31050, data: "order_id" } }],
    ["the order is unknown", createParams(), null, { error: { code: -31050, data: "order_id" } }],
    ["the order is a test order", createParams(), order({ livemode: false }), { error: { code: -31050, data: "order_id" } }],
    ["the amount is wrong", createParams({ amount: AMOUNT - 100 }), order(), { error: { code: -31001 } }],
    ["the order is not in UZS", createParams(), order({ currency: "RUB" }), { error: { code: -31001 } }],
    ["another transaction reserved the order", createParams(), orderWith({ "payme/other": factsOf(1) }), CANNOT_PERFORM],
    ["the order is paid", createParams(), orderWith({ "payme/other": factsOf(2) }), CANNOT_PERFORM],
  ] as const)("refuses a new id when %s, writing nothing", (_label, params, o, reply) => {
    const outcome = decideCreate(params, { payment: null, order: o }, ctx(CREATE_MS));
    expect(outcome.reply).toEqual(reply);
    expectIgnored(outcome);
  });

  it("refuses a sandbox CreateTransaction on a live order with -31050, writing nothing", () => {
    const outcome = decideCreate(createParams(), { payment: null, order: order() }, ctx(CREATE_MS, { livemode: false }));
    expect(outcome.reply).toEqual({ error: { code: -31050, data: "order_id" } });
    expectIgnored(outcome);
  });

  it("finds the id before checking the order: a repeat on the reserved order is not refused", () => {
    const outcome = decideCreate(createParams(), currentIn(1, { status: "reserved" }), ctx(LATER_MS));
    expect(outcome.reply).toEqual({ result: { create_time: CREATE_MS, transaction: STORED_TXN, state: 1 } });
  });

  it("cancels an expired transaction on a repeat: state -1, reason 4, cancel_time = now, order released", () => {
    const now = PAYME_TIME_MS + PAYME_TIMEOUT_MS + 1;
    const current = currentIn(1);
    expect(current.order).toMatchObject({ status: "reserved" });
    const outcome = decideCreate(createParams(), current, ctx(now));
    expect(outcome.reply).toEqual(CANNOT_PERFORM);
    expect(persist(current, outcome.decision).order).toMatchObject({ status: "awaiting_payment", paidAmount: 0 });
    expect(outcome.decision).toEqual({
      kind: "applied",
      payment: {
        facts: { status: "cancelled", currency: "UZS", requested: AMOUNT, settled: 0, refunded: 0, livemode: true },
        providerStatus: "cancelled",
        at: iso(now),
        state: { ...tx(1), state: -1, cancel_time: now, reason: 4 },
      },
      events: [
        {
          type: "payment.cancelled",
          amount: AMOUNT,
          currency: "UZS",
          occurredAt: iso(now),
          data: { state: -1, paymeTime: PAYME_TIME_MS, transaction: STORED_TXN, reason: 4 },
        },
      ],
    });
  });
});

describe("PerformTransaction (docs/protocols/payme.md#performtransaction)", () => {
  it("settles the amount as succeeded facts and emits payment.succeeded; the core pays the order", () => {
    const current = currentIn(1);
    const outcome = decidePerform(current, ctx(LATER_MS));
    expect(outcome.reply).toEqual({ result: { transaction: STORED_TXN, perform_time: LATER_MS, state: 2 } });
    expect(outcome.decision).toEqual({
      kind: "applied",
      payment: {
        facts: { status: "succeeded", currency: "UZS", requested: AMOUNT, settled: AMOUNT, refunded: 0, livemode: true },
        providerStatus: "performed",
        at: iso(LATER_MS),
        state: { ...tx(1), state: 2, perform_time: LATER_MS },
      },
      events: [
        {
          type: "payment.succeeded",
          amount: AMOUNT,
          currency: "UZS",
          occurredAt: iso(LATER_MS),
          data: { state: 2, paymeTime: PAYME_TIME_MS, transaction: STORED_TXN },
        },
      ],
    });
    expect(persist(current, outcome.decision).order).toMatchObject({ status: "paid", paidAmount: AMOUNT });
  });

  it("keeps create_time, cancel_time 0 and reason null when performing", () => {
    const written = writtenTx(decidePerform(currentIn(1), ctx(LATER_MS)).decision);
    expect(written.create_time).toBe(CREATE_MS);
    expect(written.cancel_time).toBe(0);
    expect(written.reason).toBeNull();
  });

  it("still performs a transaction without an order, with the same facts", () => {
    const decision = applied(decidePerform({ payment: payment(tx(1)), order: null }, ctx(LATER_MS)).decision);
    expect(decision.payment.facts).toEqual(factsOf(2));
    expect(decision).toEqual(decidePerform(currentIn(1), ctx(LATER_MS)).decision);
  });

  it("takes the money even when another payment already paid the order: the core derives overpaid", () => {
    const current = currentIn(1, {}, { "payme/other": factsOf(2) });
    expect(current.order).toMatchObject({ status: "paid", paidAmount: AMOUNT });
    const outcome = decidePerform(current, ctx(LATER_MS));
    expect(applied(outcome.decision).payment.facts).toEqual(factsOf(2));
    const after = persist(current, outcome.decision).order!;
    expect(after).toMatchObject({ status: "overpaid", paidAmount: 2 * AMOUNT });
    expect(after.payments).toEqual({ "payme/other": factsOf(2), [MEMBER]: factsOf(2) });
  });

  it("cancels an expired transaction instead: -31008, state -1, reason 4, payment.cancelled, order released", () => {
    const now = PAYME_TIME_MS + PAYME_TIMEOUT_MS + 1;
    const current = currentIn(1);
    const outcome = decidePerform(current, ctx(now));
    expect(outcome.reply).toEqual(CANNOT_PERFORM);
    const decision = applied(outcome.decision);
    expect(decision.payment.state).toEqual({ ...tx(1), state: -1, cancel_time: now, reason: 4 });
    expect(decision.payment.facts).toEqual(factsOf(-1));
    expect(decision.payment.providerStatus).toBe("cancelled");
    expect(decision.events.map((e) => [e.type, e.data["reason"]])).toEqual([["payment.cancelled", 4]]);
    expect(persist(current, outcome.decision).order).toMatchObject({ status: "awaiting_payment", paidAmount: 0 });
  });

  it("expiring never undoes money another payment brought to the order", () => {
    const current = currentIn(1, {}, { "payme/other": factsOf(2) });
    const outcome = decidePerform(current, ctx(PAYME_TIME_MS + PAYME_TIMEOUT_MS + 1));
    expect(applied(outcome.decision).payment.facts).toEqual(factsOf(-1));
    expect(persist(current, outcome.decision).order).toMatchObject({ status: "paid", paidAmount: AMOUNT });
  });
});

describe("CancelTransaction (docs/protocols/payme.md#canceltransaction)", () => {
  it("cancels state 1 with Payme's reason, emits payment.cancelled; the core releases the reserved order", () => {
    const current = currentIn(1);
    expect(current.order).toMatchObject({ status: "reserved" });
    const outcome = decideCancel({ id: PAYME_ID, reason: 3 }, current, ctx(LATER_MS));
    expect(outcome.reply).toEqual({ result: { transaction: STORED_TXN, cancel_time: LATER_MS, state: -1 } });
    expect(outcome.decision).toEqual({
      kind: "applied",
      payment: {
        facts: { status: "cancelled", currency: "UZS", requested: AMOUNT, settled: 0, refunded: 0, livemode: true },
        providerStatus: "cancelled",
        at: iso(LATER_MS),
        state: { ...tx(1), state: -1, cancel_time: LATER_MS, reason: 3 },
      },
      events: [
        {
          type: "payment.cancelled",
          amount: AMOUNT,
          currency: "UZS",
          occurredAt: iso(LATER_MS),
          data: { state: -1, paymeTime: PAYME_TIME_MS, transaction: STORED_TXN, reason: 3 },
        },
      ],
    });
    expect(persist(current, outcome.decision).order).toMatchObject({ status: "awaiting_payment", paidAmount: 0 });
  });

  it.each<[string, Record<string, PaymentFacts>, string, number]>([
    ["nothing else", {}, "awaiting_payment", 0],
    ["another payment that paid it", { "payme/other": factsOf(2) }, "paid", AMOUNT],
    ["another payment that paid part of it", { "payme/other": { ...factsOf(2), settled: AMOUNT / 2 } }, "partially_paid", AMOUNT / 2],
  ])("cancelling state 1 of an order with %s leaves what the others brought", (_label, others, status, paidAmount) => {
    const current = currentIn(1, {}, others);
    const outcome = decideCancel({ id: PAYME_ID, reason: 3 }, current, ctx(LATER_MS));
    const decision = applied(outcome.decision);
    expect(decision.payment.facts).toEqual(factsOf(-1));
    expect(decision.events.map((e) => e.type)).toEqual(["payment.cancelled"]);
    expect(persist(current, outcome.decision).order).toMatchObject({ status, paidAmount });
  });

  it("refunds state 2 on a refundable order: -2, payment.refunded, facts refunded in full; the core refunds the order", () => {
    const current = currentIn(2);
    const outcome = decideCancel({ id: PAYME_ID, reason: 5 }, current, ctx(LATER_MS));
    expect(outcome.reply).toEqual({ result: { transaction: STORED_TXN, cancel_time: LATER_MS, state: -2 } });
    expect(outcome.decision).toEqual({
      kind: "applied",
      payment: {
        facts: { status: "refunded", currency: "UZS", requested: AMOUNT, settled: AMOUNT, refunded: AMOUNT, livemode: true },
        providerStatus: "refunded",
        at: iso(LATER_MS),
        state: { ...tx(2), state: -2, cancel_time: LATER_MS, reason: 5 },
      },
      events: [
        {
          type: "payment.refunded",
          amount: AMOUNT,
          currency: "UZS",
          occurredAt: iso(LATER_MS),
          data: { state: -2, paymeTime: PAYME_TIME_MS, transaction: STORED_TXN, reason: 5 },
        },
      ],
    });
    expect(writtenTx(outcome.decision).perform_time).toBe(PERFORM_MS);
    expect(persist(current, outcome.decision).order).toMatchObject({ status: "refunded", paidAmount: 0 });
  });

  it("answers -31007 and writes nothing when the order is not refundable", () => {
    const outcome = decideCancel({ id: PAYME_ID, reason: 5 }, currentIn(2, { refundable: false }), ctx(LATER_MS));
    expect(outcome.reply).toEqual({ error: { code: -31007 } });
    expectIgnored(outcome);
  });

  it("answers -31007 for a performed transaction whose order is gone", () => {
    const outcome = decideCancel({ id: PAYME_ID, reason: 5 }, { payment: payment(tx(2)), order: null }, ctx(LATER_MS));
    expect(outcome.reply).toEqual({ error: { code: -31007 } });
    expectIgnored(outcome);
  });

  it("answers -31003 for an unknown id", () => {
    const outcome = decideCancel({ id: PAYME_ID, reason: 3 }, { payment: null, order: null }, ctx(LATER_MS));
    expect(outcome.reply).toEqual(NOT_FOUND);
    expectIgnored(outcome);
  });
});

describe("sandbox and live transactions are kept apart", () => {
  const sandboxPayment = (state: PaymeState) => payment(tx(state), { facts: factsOf(state, false) });
  const testOrder = (state: PaymeState) => orderWith({ [MEMBER]: factsOf(state, false) }, { livemode: false });

  it("a sandbox transaction is not found (-31003) by live Perform, Cancel, Check and SetFiscalData", () => {
    const current: PaymeCurrent = { payment: sandboxPayment(1), order: testOrder(1) };
    const live = ctx(LATER_MS);
    for (const outcome of [
      decidePerform(current, live),
      decideCancel({ id: PAYME_ID, reason: 3 }, current, live),
      decideSetFiscalData({ id: PAYME_ID, type: "PERFORM", fiscal_data: { receipt_id: 1 } }, current, live),
    ]) {
      expect(outcome.reply).toEqual(NOT_FOUND);
      expectIgnored(outcome);
    }
    expect(checkTransaction(current.payment, live)).toEqual(NOT_FOUND);
    expect(transactionOf(current.payment, true)).toBeNull();
  });

  it("a live CreateTransaction on a sandbox transaction's id answers -31008 without writing", () => {
    const outcome = decideCreate(createParams(), { payment: sandboxPayment(1), order: order() }, ctx(LATER_MS));
    expect(outcome.reply).toEqual(CANNOT_PERFORM);
    expectIgnored(outcome);
  });

  it("and the other way round: a live transaction is not found by a sandbox call", () => {
    const sandbox = ctx(LATER_MS, { livemode: false });
    expect(checkTransaction(payment(tx(2)), sandbox)).toEqual(NOT_FOUND);
    expect(decidePerform(currentIn(1), sandbox).reply).toEqual(NOT_FOUND);
    expect(transactionOf(payment(tx(2)), false)).toBeNull();
  });

  it("a sandbox call sees its own transaction, and its writes carry livemode false", () => {
    const sandbox = ctx(LATER_MS, { livemode: false });
    const current: PaymeCurrent = { payment: sandboxPayment(1), order: testOrder(1) };
    expect(current.order).toMatchObject({ status: "reserved" });
    const outcome = decidePerform(current, sandbox);
    expect(outcome.reply).toEqual({ result: { transaction: STORED_TXN, perform_time: LATER_MS, state: 2 } });
    expect(applied(outcome.decision).payment.facts).toEqual(factsOf(2, false));
    expect(persist(current, outcome.decision).order).toMatchObject({ status: "paid", paidAmount: AMOUNT });
    expect(transactionOf(sandboxPayment(2), false)).toEqual(tx(2));
  });

  it("a sandbox call cannot take a live order (-31050), nor a live call a test order, and neither writes", () => {
    const sandbox = ctx(CREATE_MS, { livemode: false });
    const accountInvalid = { error: { code: -31050, data: "order_id" } };
    const sandboxOnLive = decideCreate(createParams(), { payment: null, order: order() }, sandbox);
    expect(sandboxOnLive.reply).toEqual(accountInvalid);
    expectIgnored(sandboxOnLive);
    expect(checkPerform({ amount: AMOUNT, account: { order_id: ORDER_ID } }, order(), sandbox)).toEqual(accountInvalid);

    const liveOnTest = decideCreate(createParams(), { payment: null, order: order({ livemode: false }) }, ctx(CREATE_MS));
    expect(liveOnTest.reply).toEqual(accountInvalid);
    expectIgnored(liveOnTest);
    expect(checkPerform({ amount: AMOUNT, account: { order_id: ORDER_ID } }, order({ livemode: false }), ctx(CREATE_MS))).toEqual(accountInvalid);
  });
});

describe("parseParams: -32600 with data = the first offending field", () => {
  const invalid = (field: string): PaymeReply => ({ error: { code: -32600, data: field } });

  it("returns the params of a valid call of each method", () => {
    expect(parseParams("CheckPerformTransaction", { amount: AMOUNT, account: { order_id: ORDER_ID } })).toEqual({
      ok: true,
      params: { amount: AMOUNT, account: { order_id: ORDER_ID } },
    });
    expect(parseParams("CreateTransaction", createParams())).toEqual({ ok: true, params: createParams() });
    expect(parseParams("PerformTransaction", { id: PAYME_ID })).toEqual({ ok: true, params: { id: PAYME_ID } });
    expect(parseParams("CheckTransaction", { id: PAYME_ID })).toEqual({ ok: true, params: { id: PAYME_ID } });
    expect(parseParams("GetStatement", { from: PAYME_TIME_MS, to: LATER_MS })).toEqual({
      ok: true,
      params: { from: PAYME_TIME_MS, to: LATER_MS },
    });
    expect(parseParams("SetFiscalData", { id: PAYME_ID, type: "CANCEL", fiscal_data: { receipt_id: "121" } })).toEqual({
      ok: true,
      params: { id: PAYME_ID, type: "CANCEL", fiscal_data: { receipt_id: "121" } },
    });
  });

  it.each(PAYME_REASONS.map((r) => [r]))("accepts cancel reason %i", (reason) => {
    expect(parseParams("CancelTransaction", { id: PAYME_ID, reason })).toEqual({ ok: true, params: { id: PAYME_ID, reason } });
  });

  it.each([
    ["CheckPerformTransaction", "amount", { account: { order_id: ORDER_ID } }],
    ["CheckPerformTransaction", "amount", { amount: "500000", account: { order_id: ORDER_ID } }],
    // Payme's Amount is a positive integer of tiyin (docs/protocols/payme.md#money): any other number is the wrong type.
    ["CheckPerformTransaction", "amount", { amount: 0, account: { order_id: ORDER_ID } }],
    ["CheckPerformTransaction", "amount", { amount: -AMOUNT, account: { order_id: ORDER_ID } }],
    ["CheckPerformTransaction", "amount", { amount: AMOUNT + 0.5, account: { order_id: ORDER_ID } }],
    ["CheckPerformTransaction", "amount", { amount: 2 ** 53, account: { order_id: ORDER_ID } }],
    ["CheckPerformTransaction", "amount", { amount: Infinity, account: { order_id: ORDER_ID } }],
    ["CreateTransaction", "amount", { ...createParams(), amount: -0 }],
    ["CreateTransaction", "amount", { ...createParams(), amount: 1e21 }],
    ["CheckPerformTransaction", "account", { amount: AMOUNT }],
    ["CheckPerformTransaction", "account", { amount: AMOUNT, account: ORDER_ID }],
    ["CheckPerformTransaction", "account", { amount: AMOUNT, account: [ORDER_ID] }],
    ["CreateTransaction", "id", { ...createParams(), id: 5305 }],
    ["CreateTransaction", "id", { ...createParams(), id: "" }],
    ["CreateTransaction", "time", { ...createParams(), time: String(PAYME_TIME_MS) }],
    ["CreateTransaction", "time", { ...createParams(), time: -1 }],
    ["CreateTransaction", "time", { ...createParams(), time: PAYME_TIME_MS + 0.5 }],
    ["CreateTransaction", "amount", { ...createParams(), amount: null }],
    ["CreateTransaction", "account", { ...createParams(), account: null }],
    ["PerformTransaction", "id", {}],
    ["PerformTransaction", "id", { id: 123 }],
    ["PerformTransaction", "id", { id: null }],
    ["CancelTransaction", "id", { id: 1, reason: 3 }],
    ["CancelTransaction", "reason", { id: PAYME_ID }],
    ["CancelTransaction", "reason", { id: PAYME_ID, reason: 6 }],
    ["CancelTransaction", "reason", { id: PAYME_ID, reason: 7 }],
    ["CancelTransaction", "reason", { id: PAYME_ID, reason: 8 }],
    ["CancelTransaction", "reason", { id: PAYME_ID, reason: 9 }],
    ["CancelTransaction", "reason", { id: PAYME_ID, reason: 0 }],
    ["CancelTransaction", "reason", { id: PAYME_ID, reason: 11 }],
    ["CancelTransaction", "reason", { id: PAYME_ID, reason: "3" }],
    ["CheckTransaction", "id", { id: { $oid: PAYME_ID } }],
    ["GetStatement", "from", { to: LATER_MS }],
    ["GetStatement", "to", { from: PAYME_TIME_MS }],
    ["GetStatement", "from", { from: "2023-11-14", to: LATER_MS }],
    ["GetStatement", "to", { from: PAYME_TIME_MS, to: LATER_MS + 0.5 }],
    ["SetFiscalData", "type", { id: PAYME_ID, type: "REFUND", fiscal_data: {} }],
    ["SetFiscalData", "type", { id: PAYME_ID, type: "perform", fiscal_data: {} }],
    ["SetFiscalData", "type", { id: PAYME_ID, fiscal_data: {} }],
    ["SetFiscalData", "fiscal_data", { id: PAYME_ID, type: "PERFORM" }],
    ["SetFiscalData", "fiscal_data", { id: PAYME_ID, type: "PERFORM", fiscal_data: "121" }],
    ["SetFiscalData", "id", { id: 121, type: "PERFORM", fiscal_data: {} }],
  ] as const)("%s with a bad %s: %j", (method, field, params) => {
    expect(parseParams(method, params)).toEqual({ ok: false, reply: invalid(field) });
  });
});

describe("SetFiscalData (docs/protocols/payme.md#setfiscaldata)", () => {
  const perform = { receipt_id: 121, status_code: 0, terminal_id: "EP000000000025", fiscal_sign: "123456789012", date: "20220706221021" };
  const cancel = { receipt_id: "122", status_code: 0, terminal_id: "EP000000000025", fiscal_sign: "210987654321", date: "20220707101010" };
  const STORED_AT = iso(PERFORM_MS);

  it("stores the receipt under its type and changes nothing else", () => {
    const current: PaymeCurrent = { payment: payment(tx(2), { at: STORED_AT }), order: currentIn(2).order };
    const outcome = decideSetFiscalData({ id: PAYME_ID, type: "PERFORM", fiscal_data: perform }, current, ctx(LATER_MS));
    expect(outcome.reply).toEqual({ result: { success: true } });
    expect(outcome.decision).toEqual({
      kind: "applied",
      payment: {
        facts: { status: "succeeded", currency: "UZS", requested: AMOUNT, settled: AMOUNT, refunded: 0, livemode: true },
        providerStatus: "performed",
        at: STORED_AT,
        state: { ...tx(2), fiscal: { PERFORM: perform } },
      },
      events: [],
    });
    expect(persist(current, outcome.decision).order).toMatchObject({ status: "paid", paidAmount: AMOUNT });
  });

  it("keeps PERFORM and CANCEL receipts side by side", () => {
    let current: PaymeCurrent = currentIn(-2);
    current = persist(current, decideSetFiscalData({ id: PAYME_ID, type: "PERFORM", fiscal_data: perform }, current, ctx(LATER_MS)).decision);
    const outcome = decideSetFiscalData({ id: PAYME_ID, type: "CANCEL", fiscal_data: cancel }, current, ctx(LATER_MS + 1));
    expect(writtenTx(outcome.decision).fiscal).toEqual({ PERFORM: perform, CANCEL: cancel });
    expect(writtenTx(outcome.decision).state).toBe(-2);
  });

  it("ignores a repeat with identical data and still answers success", () => {
    const current: PaymeCurrent = { payment: payment(tx(2, { fiscal: { PERFORM: perform } })), order: currentIn(2).order };
    const outcome = decideSetFiscalData({ id: PAYME_ID, type: "PERFORM", fiscal_data: { ...perform } }, current, ctx(LATER_MS));
    expect(outcome.reply).toEqual({ result: { success: true } });
    expectIgnored(outcome);
  });

  it("answers -31003 for an unknown id", () => {
    const outcome = decideSetFiscalData({ id: PAYME_ID, type: "PERFORM", fiscal_data: perform }, { payment: null, order: null }, ctx(LATER_MS));
    expect(outcome.reply).toEqual(NOT_FOUND);
    expectIgnored(outcome);
  });
});

describe("statementItem (docs/protocols/payme.md#getstatement)", () => {
  it("has exactly the Transaction fields, from the stored transaction", () => {
    const account = { order_id: 1001, phone: "903595731" };
    const item = statementItem(payment(tx(-2, { account })));
    expect(item).toEqual({
      id: PAYME_ID,
      time: PAYME_TIME_MS,
      amount: AMOUNT,
      account,
      create_time: CREATE_MS,
      perform_time: PERFORM_MS,
      cancel_time: CANCEL_MS,
      transaction: STORED_TXN,
      state: -2,
      reason: 5,
    });
    expect(Object.keys(item).sort()).toEqual(
      ["account", "amount", "cancel_time", "create_time", "id", "perform_time", "reason", "state", "time", "transaction"].sort(),
    );
  });

  it("lists a fresh transaction with 0 times and a null reason, and no fiscal data", () => {
    const item = statementItem(payment(tx(1, { fiscal: { PERFORM: { receipt_id: 1 } } })));
    expect(item).toMatchObject({ state: 1, perform_time: 0, cancel_time: 0, reason: null });
    expect("fiscal" in item).toBe(false);
    expect(JSON.stringify(item)).toContain('"reason":null');
  });

  it("returns `time` verbatim, not create_time", () => {
    const item = statementItem(payment(tx(2, { time: PAYME_TIME_MS + 7, create_time: PAYME_TIME_MS + 999 })));
    expect(item["time"]).toBe(PAYME_TIME_MS + 7);
    expect(item["create_time"]).toBe(PAYME_TIME_MS + 999);
  });
});
