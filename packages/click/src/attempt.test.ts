import { deriveOrder, type OrderRecord, type PaymentDecision, type PaymentFacts, type PaymentRecord } from "@payhooks/core";
import { attemptOf, decideComplete, decidePrepare, orderRefusal, type ClickAttempt, type ClickCurrent, type ClickOutcome } from "./attempt";
import type { ClickCall } from "./request";

const NOW = Date.parse("2024-03-02T02:50:19Z");
const ctx = { now: NOW };

function order(over: Partial<OrderRecord> = {}, payments: Record<string, PaymentFacts> = {}): OrderRecord {
  const terms = { amount: over.amount ?? 5_000_000, currency: over.currency ?? "UZS", livemode: over.livemode ?? true };
  const derived = deriveOrder(terms, Object.values(payments));
  return {
    orderId: "ord-1001",
    refundable: false,
    references: {},
    items: [],
    createdAt: "2024-03-01T00:00:00.000Z",
    updatedAt: "2024-03-01T00:00:00.000Z",
    v: "1",
    ...over,
    ...terms,
    ...derived,
    payments,
  };
}

const PREPARE: ClickCall = {
  action: 0,
  click_trans_id: "2245678901",
  service_id: "12345",
  click_paydoc_id: "3345678901",
  merchant_trans_id: "ord-1001",
  merchant_prepare_id: null,
  amount: "50000",
  error: 0,
  error_note: "Success",
  sign_time: "2024-03-02 07:50:19",
  proposed_prepare_id: 17,
};
const COMPLETE: ClickCall = { ...PREPARE, action: 1, merchant_prepare_id: "17", proposed_prepare_id: undefined, sign_time: "2024-03-02 07:50:41" };
delete (COMPLETE as Partial<ClickCall>).proposed_prepare_id;

/** The payment record a decision writes, as the ledger would store it. */
function stored(decision: PaymentDecision, orderId = "ord-1001", id = "2245678901"): PaymentRecord {
  if (decision.kind !== "applied") throw new Error("not applied");
  return { provider: "click", providerPaymentId: id, orderId, attached: true, v: "1", ...decision.payment };
}

/** The order once `payment` is attached with its facts (what the ledger derives). */
function withPayment(o: OrderRecord, p: PaymentRecord): OrderRecord {
  return order(o, { ...o.payments, [`click/${p.providerPaymentId}`]: p.facts });
}

const unchanged = (o: ClickOutcome) => expect(o.decision.kind).toBe("ignored");
const code = (o: ClickOutcome) => o.reply.error;

/** A prepared attempt and its order, as after a successful Prepare. */
function prepared(): ClickCurrent {
  const p = stored(decidePrepare(PREPARE, { payment: null, order: order() }, ctx).decision);
  return { payment: p, order: withPayment(order(), p) };
}

describe("decidePrepare (docs/protocols/click.md#prepare)", () => {
  test("a new attempt: prepared, holds the order (reserved), one payment.pending, answer 0 with merchant_prepare_id", () => {
    const out = decidePrepare(PREPARE, { payment: null, order: order() }, ctx);
    expect(out.reply).toEqual({ click_trans_id: "2245678901", merchant_trans_id: "ord-1001", merchant_prepare_id: 17, error: 0, error_note: "Success" });
    expect(out.decision.kind).toBe("applied");
    if (out.decision.kind !== "applied") return;
    expect(out.decision.payment.facts).toEqual({ status: "held", currency: "UZS", requested: 5_000_000, settled: 0, refunded: 0, livemode: true });
    expect(out.decision.payment.providerStatus).toBe("prepared");
    expect(out.decision.payment.state).toMatchObject({ state: "prepared", merchantPrepareId: 17, amount: 5_000_000, amountText: "50000", clickPaydocId: "3345678901" });
    expect(out.decision.events).toEqual([
      {
        type: "payment.pending",
        amount: 5_000_000,
        currency: "UZS",
        occurredAt: new Date(NOW).toISOString(),
        data: { clickTransId: "2245678901", clickPaydocId: "3345678901", merchantPrepareId: 17, serviceId: "12345", signTime: "2024-03-02 07:50:19" },
      },
    ]);
    expect(prepared().order!.status).toBe("reserved");
  });

  test("amount in other spellings of the same money is accepted; one tiyin off is -2", () => {
    expect(code(decidePrepare({ ...PREPARE, amount: "50000.00" }, { payment: null, order: order() }, ctx))).toBe(0);
    expect(code(decidePrepare({ ...PREPARE, amount: "50000.000" }, { payment: null, order: order() }, ctx))).toBe(0);
    for (const amount of ["50000.01", "49999.99", "5000000", "5e4", "-50000", "50 000"]) {
      const out = decidePrepare({ ...PREPARE, amount }, { payment: null, order: order() }, ctx);
      expect([amount, code(out)]).toEqual([amount, -2]);
      unchanged(out);
    }
  });

  test("an order not in UZS is -2", () => {
    const out = decidePrepare(PREPARE, { payment: null, order: order({ currency: "USD" }) }, ctx);
    expect(code(out)).toBe(-2);
    unchanged(out);
  });

  test("an unknown order, an impossible order id, a test order, or another order than the named one is -5", () => {
    expect(code(decidePrepare(PREPARE, { payment: null, order: null }, ctx))).toBe(-5);
    expect(code(decidePrepare({ ...PREPARE, merchant_trans_id: "ord 1001" }, { payment: null, order: order({ orderId: "ord 1001" }) }, ctx))).toBe(-5);
    expect(code(decidePrepare(PREPARE, { payment: null, order: order({ livemode: false }) }, ctx))).toBe(-5);
    expect(code(decidePrepare(PREPARE, { payment: null, order: order({ orderId: "other" }) }, ctx))).toBe(-5);
  });

  test("-5 comes before the amount and the order state", () => {
    expect(code(decidePrepare({ ...PREPARE, amount: "1" }, { payment: null, order: null }, ctx))).toBe(-5);
  });

  const paid: PaymentFacts = { status: "succeeded", currency: "UZS", requested: 5_000_000, settled: 5_000_000, refunded: 0, livemode: true };
  test.each<[string, Record<string, PaymentFacts>, number]>([
    ["paid", { "payme/a": paid }, -4],
    ["overpaid", { "payme/a": paid, "payme/b": paid }, -4],
    ["refunded", { "payme/a": { ...paid, status: "refunded", refunded: 5_000_000 } }, -9],
    ["partially_paid", { "payram/a": { ...paid, settled: 100 } }, -9],
    ["reserved by a Payme transaction", { "payme/a": { ...paid, status: "held", settled: 0 } }, -9],
    ["reserved by a prepared Click attempt", { "click/999": { ...paid, status: "held", settled: 0 } }, 0],
    ["awaiting payment after a cancelled attempt", { "click/999": { ...paid, status: "cancelled", settled: 0 } }, 0],
  ])("an order %s → %d", (_what, payments, expected) => {
    const o = order({}, payments);
    const out = decidePrepare(PREPARE, { payment: null, order: o }, ctx);
    expect(code(out)).toBe(expected);
    expect(orderRefusal(o)).toBe(expected === 0 ? null : expected);
  });

  test("-4 comes before -2 (order paid, amount wrong)", () => {
    expect(code(decidePrepare({ ...PREPARE, amount: "1" }, { payment: null, order: order({}, { "payme/a": paid }) }, ctx))).toBe(-4);
  });

  test("no merchant_prepare_id reserved by the ingress → -7, nothing written", () => {
    const { proposed_prepare_id: _gone, ...call } = PREPARE;
    const out = decidePrepare(call, { payment: null, order: order() }, ctx);
    expect(code(out)).toBe(-7);
    unchanged(out);
  });
});

describe("repeated Prepare (docs/protocols/click.md#retries-and-idempotency)", () => {
  test("of a prepared attempt: the stored answer (same merchant_prepare_id, even with a new one proposed), no change", () => {
    const current = prepared();
    const out = decidePrepare({ ...PREPARE, proposed_prepare_id: 99, sign_time: "2024-03-02 07:59:00" }, current, { now: NOW + 60_000 });
    expect(out.reply).toEqual({ click_trans_id: "2245678901", merchant_trans_id: "ord-1001", merchant_prepare_id: 17, error: 0, error_note: "Success" });
    unchanged(out);
  });
  test("with the same money spelled otherwise: still the stored answer", () => {
    expect(code(decidePrepare({ ...PREPARE, amount: "50000.00" }, prepared(), ctx))).toBe(0);
  });
  test("with another merchant_trans_id → -8; another amount → -2", () => {
    expect(code(decidePrepare({ ...PREPARE, merchant_trans_id: "ord-2" }, prepared(), ctx))).toBe(-8);
    expect(code(decidePrepare({ ...PREPARE, amount: "50001" }, prepared(), ctx))).toBe(-2);
  });
  test("of a completed attempt → -4; of a cancelled one → -9; both echo merchant_prepare_id", () => {
    const done = decideComplete(COMPLETE, prepared(), ctx);
    const completed = { payment: stored(done.decision), order: prepared().order };
    expect(decidePrepare(PREPARE, completed, ctx).reply).toMatchObject({ error: -4, merchant_prepare_id: 17 });
    const cancel = decideComplete({ ...COMPLETE, error: -5017 }, prepared(), ctx);
    const cancelled = { payment: stored(cancel.decision), order: prepared().order };
    expect(decidePrepare(PREPARE, cancelled, ctx).reply).toMatchObject({ error: -9, merchant_prepare_id: 17 });
  });
  test("a record that holds no Click attempt → -7", () => {
    const p = prepared();
    expect(code(decidePrepare(PREPARE, { ...p, payment: { ...p.payment!, state: {} } }, ctx))).toBe(-7);
  });
});

describe("decideComplete (docs/protocols/click.md#complete)", () => {
  test("error=0 on a prepared attempt: completed, settled, payment.succeeded, the order paid, merchant_confirm_id", () => {
    const current = prepared();
    const out = decideComplete(COMPLETE, current, ctx);
    expect(out.reply).toEqual({ click_trans_id: "2245678901", merchant_trans_id: "ord-1001", merchant_confirm_id: 17, error: 0, error_note: "Success" });
    const p = stored(out.decision);
    expect(p.facts).toEqual({ status: "succeeded", currency: "UZS", requested: 5_000_000, settled: 5_000_000, refunded: 0, livemode: true });
    expect(p.providerStatus).toBe("completed");
    expect(out.decision.kind === "applied" && out.decision.events.map((e) => [e.type, e.amount])).toEqual([["payment.succeeded", 5_000_000]]);
    expect(withPayment(current.order!, p)).toMatchObject({ status: "paid", paidAmount: 5_000_000 });
  });

  test("error<0 on a prepared attempt: cancelled (-9), the order released, payment.cancelled with Click's error", () => {
    const current = prepared();
    const out = decideComplete({ ...COMPLETE, error: -5017, error_note: "Insufficient funds" }, current, ctx);
    expect(out.reply).toEqual({ click_trans_id: "2245678901", merchant_trans_id: "ord-1001", merchant_confirm_id: 17, error: -9, error_note: "Transaction cancelled" });
    const p = stored(out.decision);
    expect(p.facts.status).toBe("cancelled");
    expect(p.state).toMatchObject({ state: "cancelled", clickError: -5017, clickErrorNote: "Insufficient funds" });
    expect(out.decision.kind === "applied" && out.decision.events[0]).toMatchObject({
      type: "payment.cancelled",
      amount: 5_000_000,
      data: { clickError: -5017, clickErrorNote: "Insufficient funds" },
    });
    expect(withPayment(current.order!, p).status).toBe("awaiting_payment");
  });

  test("a cancel leaves the order reserved while another prepared Click attempt holds it", () => {
    const first = prepared();
    const second = stored(decidePrepare({ ...PREPARE, click_trans_id: "555", proposed_prepare_id: 18 }, { payment: null, order: first.order }, ctx).decision, "ord-1001", "555");
    const both = withPayment(first.order!, second);
    expect(both.status).toBe("reserved");
    const out = decideComplete({ ...COMPLETE, error: -1 }, { payment: first.payment, order: both }, ctx);
    expect(withPayment(both, stored(out.decision)).status).toBe("reserved");
  });

  test("another click_trans_id than the Prepare's is tolerated and recorded", () => {
    const out = decideComplete({ ...COMPLETE, click_trans_id: "777" }, prepared(), ctx);
    expect(code(out)).toBe(0);
    expect(out.reply.click_trans_id).toBe("777");
    expect(stored(out.decision).state).toMatchObject({ clickTransId: "2245678901", completeClickTransId: "777" });
    expect(out.decision.kind === "applied" && out.decision.events[0]!.data).toMatchObject({ clickTransId: "2245678901", completeClickTransId: "777" });
  });

  test("an unknown order → -5 (before -6)", () => {
    expect(code(decideComplete(COMPLETE, { payment: null, order: null }, ctx))).toBe(-5);
    expect(code(decideComplete({ ...COMPLETE, merchant_trans_id: "bad id" }, prepared(), ctx))).toBe(-5);
  });

  test("an unknown merchant_prepare_id, or one of another order → -6", () => {
    const current = prepared();
    expect(code(decideComplete(COMPLETE, { payment: null, order: current.order }, ctx))).toBe(-6);
    expect(code(decideComplete({ ...COMPLETE, merchant_prepare_id: "18" }, current, ctx))).toBe(-6);
    const other = order({ orderId: "ord-2" });
    expect(code(decideComplete({ ...COMPLETE, merchant_trans_id: "ord-2" }, { payment: current.payment, order: other }, ctx))).toBe(-6);
  });

  test("leading zeros in merchant_prepare_id name the same attempt", () => {
    expect(code(decideComplete({ ...COMPLETE, merchant_prepare_id: "0017" }, prepared(), ctx))).toBe(0);
  });

  test("amount off by one soum or one tiyin → -2, the attempt stays prepared", () => {
    for (const amount of ["49999", "50000.01", "5e4"]) {
      const out = decideComplete({ ...COMPLETE, amount }, prepared(), ctx);
      expect(code(out)).toBe(-2);
      unchanged(out);
    }
    expect(code(decideComplete({ ...COMPLETE, amount: "50000.00" }, prepared(), ctx))).toBe(0);
  });

  test("a cancelling Complete with a wrong amount → -2, not cancelled", () => {
    const out = decideComplete({ ...COMPLETE, amount: "1", error: -5017 }, prepared(), ctx);
    expect(code(out)).toBe(-2);
    unchanged(out);
  });

  test("an order paid meanwhile (by another provider or attempt) → -4, nothing changes", () => {
    const current = prepared();
    const paid: PaymentFacts = { status: "succeeded", currency: "UZS", requested: 5_000_000, settled: 5_000_000, refunded: 0, livemode: true };
    const o = order({}, { ...current.order!.payments, "click/other": paid });
    const out = decideComplete(COMPLETE, { payment: current.payment, order: o }, ctx);
    expect(out.reply).toMatchObject({ error: -4, merchant_confirm_id: 17 });
    unchanged(out);
    // A cancel still cancels this attempt (Click could not debit it).
    expect(code(decideComplete({ ...COMPLETE, error: -5017 }, { payment: current.payment, order: o }, ctx))).toBe(-9);
  });
});

describe("repeats and races (docs/protocols/click.md#retries-and-idempotency)", () => {
  const completedCurrent = (): ClickCurrent => {
    const c = prepared();
    const p = stored(decideComplete(COMPLETE, c, ctx).decision);
    return { payment: p, order: withPayment(c.order!, p) };
  };
  const cancelledCurrent = (): ClickCurrent => {
    const c = prepared();
    const p = stored(decideComplete({ ...COMPLETE, error: -5017 }, c, ctx).decision);
    return { payment: p, order: withPayment(c.order!, p) };
  };

  test("after success every Complete answers -4 and changes nothing, error=0 or < 0", () => {
    for (const error of [0, -1, -5017]) {
      const out = decideComplete({ ...COMPLETE, error }, completedCurrent(), ctx);
      expect(out.reply).toMatchObject({ error: -4, error_note: "Already paid", merchant_confirm_id: 17 });
      unchanged(out);
    }
  });

  test("after a cancel every Complete answers -9 and changes nothing", () => {
    for (const error of [0, -5017]) {
      const out = decideComplete({ ...COMPLETE, error }, cancelledCurrent(), ctx);
      expect(out.reply).toMatchObject({ error: -9, merchant_confirm_id: 17 });
      unchanged(out);
    }
  });

  test("the terminal answer comes before the amount check", () => {
    expect(code(decideComplete({ ...COMPLETE, amount: "1" }, completedCurrent(), ctx))).toBe(-4);
    expect(code(decideComplete({ ...COMPLETE, amount: "1" }, cancelledCurrent(), ctx))).toBe(-9);
  });

  test("Complete ∥ Complete: the loser re-decides on the winner's record and gets -4 (applied once)", () => {
    const snapshot = prepared();
    const a = decideComplete(COMPLETE, snapshot, ctx);
    expect(code(a)).toBe(0);
    // The compare-and-set refuses b's write (the version moved) and asks again on fresh data.
    const fresh = { payment: stored(a.decision), order: withPayment(snapshot.order!, stored(a.decision)) };
    const b = decideComplete(COMPLETE, fresh, ctx);
    expect(code(b)).toBe(-4);
    unchanged(b);
  });

  test("Complete(0) ∥ Complete(<0): the loser answers the winner's terminal code", () => {
    const snapshot = prepared();
    const cancel = decideComplete({ ...COMPLETE, error: -5017 }, snapshot, ctx);
    expect(code(decideComplete(COMPLETE, { payment: stored(cancel.decision), order: snapshot.order }, ctx))).toBe(-9);
  });

  test("decisions are pure: the same input gives the same output", () => {
    const c = prepared();
    expect(decideComplete(COMPLETE, c, ctx)).toEqual(decideComplete(COMPLETE, c, ctx));
    expect(decidePrepare(PREPARE, { payment: null, order: order() }, ctx)).toEqual(decidePrepare(PREPARE, { payment: null, order: order() }, ctx));
  });

  test("attemptOf reads only Click records", () => {
    const p = prepared().payment!;
    expect((attemptOf(p) as ClickAttempt).merchantPrepareId).toBe(17);
    expect(attemptOf({ ...p, provider: "payme" })).toBeNull();
    expect(attemptOf(null)).toBeNull();
  });
});
