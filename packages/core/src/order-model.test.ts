import {
  EVENT_TYPE_FOR_STATUS,
  PAYMENT_STATUSES,
  USD_STABLECOINS,
  countToward,
  deriveOrder,
  reportedType,
  type DerivedOrder,
  type OrderTerms,
  type PaymentFacts,
  type PaymentStatus,
  type Verdict,
} from "./order-model";
import { PAYMENT_EVENT_TYPES, type PaymentEventType } from "./payment-event";

/** A USD 49.99 live order unless told otherwise. */
const order = (amount = 4999, currency = "USD", livemode = true): OrderTerms => ({ amount, currency, livemode });
/** A live USD payment made and settled for 49.99 unless told otherwise. */
const pay = (over: Partial<PaymentFacts> = {}): PaymentFacts => ({
  status: "succeeded",
  currency: "USD",
  requested: 4999,
  settled: 4999,
  refunded: 0,
  livemode: true,
  ...over,
});
const counts = (value: number, refunded = 0): Verdict => ({ counts: true, value, refunded });
const not = (reason: "mode" | "currency" | "amount" | "undetermined"): Verdict => ({ counts: false, reason });

describe("countToward: every payment status × currency × mode", () => {
  // Each currency case of a payment against a 49.99 order, with what the rule makes of it when modes agree.
  // The amounts are both what the payment was requested for and what it settled.
  const CURRENCY_CASES: Array<[label: string, orderCurrency: string, currency: string, minor: number, sameMode: Verdict]> = [
    ["same currency (USD on USD)", "USD", "USD", 4999, counts(4999)],
    ["same currency, 3 decimals (KWD on KWD)", "KWD", "KWD", 4999, counts(4999)],
    ["other fiat (EUR on USD), same digits", "USD", "EUR", 4999, not("currency")],
    ["other fiat (USD on EUR), same digits", "EUR", "USD", 4999, not("currency")],
    ["USDC on USD, exact (49.990000)", "USD", "USDC", 49_990_000, counts(4999)],
    ["USDT on USD, exact (49.990000)", "USD", "USDT", 49_990_000, counts(4999)],
    ["USDC on USD with sub-cent digits (49.990001)", "USD", "USDC", 49_990_001, not("amount")],
    ["USDT on USD with sub-cent digits (49.989999)", "USD", "USDT", 49_989_999, not("amount")],
    ["USDC on EUR (stablecoins restate into USD only)", "EUR", "USDC", 49_990_000, not("currency")],
    ["USD on a USDC order (no reverse restatement)", "USDC", "USD", 4999, not("currency")],
    ["BTC on USD, digits equal to the order's", "USD", "BTC", 4999, not("currency")],
    ["BTC on USD, a whole-cent worth of satoshis", "USD", "BTC", 4_999_000_000, not("currency")],
    ["BTC on USD, 0.00000001", "USD", "BTC", 1, not("currency")],
  ];
  const MODES: Array<[label: string, orderLive: boolean, paymentLive: boolean]> = [
    ["live payment, live order", true, true],
    ["test payment, test order", false, false],
    ["test payment, live order", true, false],
    ["live payment, test order", false, true],
  ];

  const rows = PAYMENT_STATUSES.flatMap((status) =>
    CURRENCY_CASES.flatMap(([currencyCase, orderCurrency, currency, minor, sameMode]) =>
      MODES.map(([modeCase, orderLive, paymentLive]) => ({
        status,
        currencyCase,
        modeCase,
        terms: order(4999, orderCurrency, orderLive),
        facts: pay({ status, currency, requested: minor, settled: minor, livemode: paymentLive }),
        // The mode is checked first; the payment's status never matters to the rule.
        expected: orderLive === paymentLive ? sameMode : not("mode"),
      })),
    ),
  );

  it("covers every status, currency case and mode", () => {
    expect(rows).toHaveLength(PAYMENT_STATUSES.length * CURRENCY_CASES.length * MODES.length);
  });

  test.each(rows)("$status / $currencyCase / $modeCase", ({ terms, facts, expected }) => {
    expect(countToward(terms, facts)).toEqual(expected);
  });

  it("knows exactly USDC and USDT as USD stablecoins", () => {
    expect([...USD_STABLECOINS].sort()).toEqual(["USDC", "USDT"]);
  });
});

describe("countToward: what the amount is judged on", () => {
  test.each<[string, OrderTerms, Partial<PaymentFacts>, Verdict]>([
    // requested is the basis when stated
    ["requested = amount, nothing settled yet", order(), { status: "held", requested: 4999, settled: 0 }, counts(0)],
    ["requested = amount, part settled", order(), { status: "partially_paid", requested: 4999, settled: 2000 }, counts(2000)],
    ["requested = amount, more settled", order(), { status: "overpaid", requested: 4999, settled: 6000 }, counts(6000)],
    ["requested for another amount, settled equals the order", order(), { requested: 2000, settled: 4999 }, not("amount")],
    ["requested 0", order(), { requested: 0, settled: 0 }, not("amount")],
    // requested null: the settled amount is the basis
    ["requested null, settled = amount", order(), { requested: null, settled: 4999 }, counts(4999)],
    ["requested null, settled less", order(), { requested: null, settled: 2000 }, not("amount")],
    ["requested null, settled more", order(), { requested: null, settled: 6000 }, not("amount")],
    ["requested null, nothing settled", order(), { status: "pending", requested: null, settled: 0 }, not("undetermined")],
    ["requested null, USDC settled exactly", order(), { currency: "USDC", requested: null, settled: 49_990_000 }, counts(4999)],
    ["requested null, USDC settled with sub-cent digits", order(), { currency: "USDC", requested: null, settled: 49_990_001 }, not("amount")],
    ["requested null, BTC settled", order(), { currency: "BTC", requested: null, settled: 4999 }, not("currency")],
    // currency not stated
    ["currency null, amount stated", order(), { currency: null }, not("undetermined")],
    ["currency null, other mode", order(), { currency: null, requested: null, settled: 0, livemode: false }, not("mode")],
    // what counts of a stablecoin payment requested exactly is its settled amount rounded down to cents
    ["USDC requested exactly, settled with sub-cent digits above", order(), { currency: "USDC", requested: 49_990_000, settled: 49_995_555 }, counts(4999)],
    ["USDC requested exactly, settled a micro-dollar short", order(), { currency: "USDC", requested: 49_990_000, settled: 49_989_999 }, counts(4998)],
  ])("%s", (_case, terms, facts, expected) => {
    expect(countToward(terms, pay(facts))).toEqual(expected);
  });
});

describe("countToward: refunds", () => {
  const eur = order(5000, "EUR");
  test.each<[string, OrderTerms, Partial<PaymentFacts>, Verdict]>([
    ["part refunded", eur, { currency: "EUR", requested: 5000, settled: 5000, refunded: 1500 }, counts(3500, 1500)],
    ["all refunded", eur, { currency: "EUR", status: "refunded", requested: 5000, settled: 5000, refunded: 5000 }, counts(0, 5000)],
    ["refunded more than settled: capped at settled", eur, { currency: "EUR", requested: 5000, settled: 5000, refunded: 7000 }, counts(0, 5000)],
    ["refund of an unsettled payment: capped at 0", eur, { currency: "EUR", requested: 5000, settled: 0, refunded: 100 }, counts(0, 0)],
    ["overpaid, then part refunded", eur, { currency: "EUR", requested: 5000, settled: 6000, refunded: 1000 }, counts(5000, 1000)],
    ["partially paid, then part refunded", eur, { currency: "EUR", requested: 5000, settled: 2000, refunded: 500 }, counts(1500, 500)],
    ["USDC part refunded", order(5000), { currency: "USDC", requested: 50_000_000, settled: 50_000_000, refunded: 15_000_000 }, counts(3500, 1500)],
    ["refund of a mismatched payment: still not counted", eur, { currency: "EUR", requested: 4000, settled: 4000, refunded: 4000 }, not("amount")],
  ])("%s", (_case, terms, facts, expected) => {
    expect(countToward(terms, pay(facts))).toEqual(expected);
  });
});

describe("deriveOrder", () => {
  const eur = order(5000, "EUR");
  const p = (over: Partial<PaymentFacts>): PaymentFacts => pay({ currency: "EUR", requested: 5000, settled: 0, ...over });

  test.each<[string, PaymentFacts[], DerivedOrder]>([
    ["no payment", [], { paidAmount: 0, status: "awaiting_payment" }],
    ["a pending payment", [p({ status: "pending" })], { paidAmount: 0, status: "awaiting_payment" }],
    ["a held counting payment", [p({ status: "held" })], { paidAmount: 0, status: "reserved" }],
    ["a held payment for another amount", [p({ status: "held", requested: 4000 })], { paidAmount: 0, status: "awaiting_payment" }],
    ["a held test payment on a live order", [p({ status: "held", livemode: false })], { paidAmount: 0, status: "awaiting_payment" }],
    ["a held payment in another currency", [p({ status: "held", currency: "USD" })], { paidAmount: 0, status: "awaiting_payment" }],
    ["a cancelled payment", [p({ status: "cancelled" })], { paidAmount: 0, status: "awaiting_payment" }],
    ["a failed payment", [p({ status: "failed" })], { paidAmount: 0, status: "awaiting_payment" }],
    ["a held and a partial payment", [p({ status: "held" }), p({ status: "partially_paid", settled: 2000 })], { paidAmount: 2000, status: "partially_paid" }],
    ["part paid", [p({ status: "partially_paid", settled: 2000 })], { paidAmount: 2000, status: "partially_paid" }],
    ["paid exactly at the amount", [p({ settled: 5000 })], { paidAmount: 5000, status: "paid" }],
    ["one cent short", [p({ status: "partially_paid", settled: 4999 })], { paidAmount: 4999, status: "partially_paid" }],
    ["one cent over", [p({ status: "overpaid", settled: 5001 })], { paidAmount: 5001, status: "overpaid" }],
    ["overpaid", [p({ status: "overpaid", settled: 6000 })], { paidAmount: 6000, status: "overpaid" }],
    // the refund is taken off once: 5000 - 1500, not 5000 - 1500 - 1500
    ["paid then part refunded", [p({ settled: 5000, refunded: 1500 })], { paidAmount: 3500, status: "partially_refunded" }],
    ["paid then all refunded", [p({ status: "refunded", settled: 5000, refunded: 5000 })], { paidAmount: 0, status: "refunded" }],
    ["overpaid then the excess refunded", [p({ settled: 6000, refunded: 1000 })], { paidAmount: 5000, status: "paid" }],
    ["overpaid then part refunded, still over", [p({ settled: 7000, refunded: 1000 })], { paidAmount: 6000, status: "overpaid" }],
    ["refund beyond settled never goes negative", [p({ status: "refunded", settled: 5000, refunded: 9000 })], { paidAmount: 0, status: "refunded" }],
    ["all refunded, then paid again by another payment", [p({ status: "refunded", settled: 5000, refunded: 5000 }), p({ settled: 5000 })], { paidAmount: 5000, status: "paid" }],
    ["two partials summing exactly to the amount", [p({ status: "partially_paid", settled: 2000 }), p({ status: "partially_paid", settled: 3000 })], { paidAmount: 5000, status: "paid" }],
    ["two partials, one part refunded", [p({ status: "partially_paid", settled: 2000, refunded: 500 }), p({ status: "partially_paid", settled: 3000 })], { paidAmount: 4500, status: "partially_refunded" }],
    ["three partials summing above the amount", [p({ settled: 2000 }), p({ settled: 2000 }), p({ settled: 2000 })], { paidAmount: 6000, status: "overpaid" }],
    ["paid, plus a payment for another amount", [p({ settled: 5000 }), p({ requested: 4000, settled: 4000 })], { paidAmount: 5000, status: "paid" }],
    ["paid, plus a test payment", [p({ settled: 5000 }), p({ settled: 5000, livemode: false })], { paidAmount: 5000, status: "paid" }],
    ["only payments that do not count", [p({ requested: 4000, settled: 4000 }), p({ currency: "USD", settled: 5000 }), p({ livemode: false, settled: 5000 })], { paidAmount: 0, status: "awaiting_payment" }],
    ["a refunded payment that does not count", [p({ requested: 4000, settled: 4000, refunded: 4000 })], { paidAmount: 0, status: "awaiting_payment" }],
  ])("%s", (_case, payments, expected) => {
    expect(deriveOrder(eur, payments)).toEqual(expected);
  });

  test.each<[string, OrderTerms, PaymentFacts[], DerivedOrder]>([
    [
      // RoboKassa states only what it settled; Payram states what it was requested for
      "RoboKassa pays in full, then a Payram partial → overpaid, not partially_paid",
      order(4999),
      [pay({ requested: null, settled: 4999 }), pay({ status: "partially_paid", currency: "USDC", requested: 49_990_000, settled: 10_000_000 })],
      { paidAmount: 5999, status: "overpaid" },
    ],
    [
      "Payram partial in USDC, the rest by card in USD → paid",
      order(4999),
      [pay({ status: "partially_paid", currency: "USDC", requested: 49_990_000, settled: 20_000_000 }), pay({ requested: 4999, settled: 2999 })],
      { paidAmount: 4999, status: "paid" },
    ],
    [
      "Payme held, Payske paid in full → paid",
      order(500_000, "UZS"),
      [pay({ status: "held", currency: "UZS", requested: 500_000, settled: 0 }), pay({ currency: "UZS", requested: 500_000, settled: 500_000 })],
      { paidAmount: 500_000, status: "paid" },
    ],
    [
      "a test order is paid by test payments only",
      order(4999, "USD", false),
      [pay({ livemode: true }), pay({ livemode: false })],
      { paidAmount: 4999, status: "paid" },
    ],
  ])("%s", (_case, terms, payments, expected) => {
    expect(deriveOrder(terms, payments)).toEqual(expected);
  });

  it("reads any iterable of payments once", () => {
    function* gen(): Generator<PaymentFacts> {
      yield pay({ settled: 2000, requested: 4999 });
      yield pay({ settled: 2999, requested: 4999 });
    }
    expect(deriveOrder(order(), gen())).toEqual({ paidAmount: 4999, status: "paid" });
  });
});

describe("the issue's cases", () => {
  test.each<[string, OrderTerms, PaymentFacts, PaymentEventType, Verdict, PaymentEventType]>([
    [
      "Payram FILLED for 0.01 on a 49.99 USD order (requested 1)",
      order(4999),
      pay({ requested: 1, settled: 1 }),
      "payment.succeeded",
      not("amount"),
      "payment.amount_mismatch",
    ],
    [
      "0.00000001 BTC on a USD order",
      order(4999),
      pay({ currency: "BTC", requested: 1, settled: 1 }),
      "payment.succeeded",
      not("currency"),
      "payment.amount_mismatch",
    ],
    ["a test payment on a live order", order(4999, "USD", true), pay({ livemode: false }), "payment.succeeded", not("mode"), "payment.mode_mismatch"],
    ["a live payment on a test order", order(4999, "USD", false), pay({ livemode: true }), "payment.succeeded", not("mode"), "payment.mode_mismatch"],
    ["a partial test payment on a live order", order(4999), pay({ status: "partially_paid", settled: 100, livemode: false }), "payment.partially_paid", not("mode"), "payment.mode_mismatch"],
    ["an overpaid USDC payment with sub-cent digits", order(4999), pay({ status: "overpaid", currency: "USDC", requested: 49_990_001, settled: 60_000_000 }), "payment.overpaid", not("amount"), "payment.amount_mismatch"],
  ])("%s: not counted, reported as a mismatch", (_case, terms, facts, type, verdict, reported) => {
    expect(countToward(terms, facts)).toEqual(verdict);
    expect(deriveOrder(terms, [facts])).toEqual({ paidAmount: 0, status: "awaiting_payment" });
    expect(reportedType(type, countToward(terms, facts))).toBe(reported);
  });
});

describe("reportedType", () => {
  const MONEY_IN: PaymentEventType[] = ["payment.succeeded", "payment.partially_paid", "payment.overpaid"];
  const VERDICTS: Array<[label: string, verdict: Verdict | null, moneyIn: (t: PaymentEventType) => PaymentEventType]> = [
    ["no order", null, (t) => t],
    ["counts", counts(4999), (t) => t],
    ["counts nothing (0)", counts(0), (t) => t],
    ["mode", not("mode"), () => "payment.mode_mismatch"],
    ["currency", not("currency"), () => "payment.amount_mismatch"],
    ["amount", not("amount"), () => "payment.amount_mismatch"],
    ["undetermined", not("undetermined"), (t) => t],
  ];
  const rows = PAYMENT_EVENT_TYPES.flatMap((type) =>
    VERDICTS.map(([verdictCase, verdict, moneyIn]) => ({
      type,
      verdictCase,
      verdict,
      // mismatch types only for money received; everything else keeps its type
      expected: MONEY_IN.includes(type) ? moneyIn(type) : type,
    })),
  );

  test.each(rows)("$type with verdict $verdictCase → $expected", ({ type, verdict, expected }) => {
    expect(reportedType(type, verdict)).toBe(expected);
  });

  it("leaves refunds, cancellations and pending of a mismatched payment as they are", () => {
    for (const t of ["payment.pending", "payment.refunded", "payment.cancelled", "payment.failed", "payment.disputed"] as const) {
      expect(reportedType(t, not("amount"))).toBe(t);
      expect(reportedType(t, not("mode"))).toBe(t);
    }
  });
});

describe("EVENT_TYPE_FOR_STATUS", () => {
  test.each<[PaymentStatus, PaymentEventType]>([
    ["pending", "payment.pending"],
    ["held", "payment.pending"],
    ["partially_paid", "payment.partially_paid"],
    ["succeeded", "payment.succeeded"],
    ["overpaid", "payment.overpaid"],
    ["failed", "payment.failed"],
    ["cancelled", "payment.cancelled"],
    ["refunded", "payment.refunded"],
    ["disputed", "payment.disputed"],
    ["unknown", "payment.unknown_status"],
  ])("%s → %s", (status, type) => {
    expect(EVENT_TYPE_FOR_STATUS[status]).toBe(type);
  });

  it("maps every status", () => {
    expect(Object.keys(EVENT_TYPE_FOR_STATUS).sort()).toEqual([...PAYMENT_STATUSES].sort());
  });
});
