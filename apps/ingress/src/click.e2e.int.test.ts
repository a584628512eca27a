/**
 * Click's SHOP API (Prepare/Complete) over HTTP against real ingress and worker processes — two
 * workers, as production runs them — a private redis-server (or, in the e2e:cluster project, a
 * private Redis Cluster) and a real merchant endpoint whose deliveries are verified with the
 * `standardwebhooks` package. Requests are signed form bodies as Click sends them
 * (docs/protocols/click.md, shared/protocols/click.md §7.3 for Click's own tester scenarios).
 */
import { randomBytes, randomInt } from "node:crypto";
import { Queue } from "bullmq";
import { Webhook } from "standardwebhooks";
import { PaymentEventSchema, QUEUES, createLedger, type PaymentEvent } from "@payhooks/core";
import { clickFormBody, clickSignTime } from "@payhooks/click";
import {
  adminClient,
  drained,
  startIngress,
  startMerchantEndpoint,
  startTestRedis,
  startWorker,
  waitFor,
  type NodeProcess,
  type TestRedis,
} from "@payhooks/testing";

const SERVICE_ID = "30551";
const SECRET = "e2e-Click-secret-Xq7pLmN2vR9s&=+%";
const ADMIN_TOKEN = "e2e-admin-token-0123456789";
const MERCHANT_SECRET = `whsec_${randomBytes(32).toString("base64")}`;
const PREFIX = "clk";
/** 50 000 soum */
const AMOUNT = 5_000_000;
const SOUM = "50000.00";
/** the timeout of the ingress that has no worker behind it */
const SHORT_TIMEOUT_MS = 500;

let redis: TestRedis;
let merchant: Awaited<ReturnType<typeof startMerchantEndpoint>>;
let ingress: Awaited<ReturnType<typeof startIngress>>;
let workers: NodeProcess[] = [];
let clickQueue: Queue;
let merchantQueue: Queue;
let env: Record<string, string>;

beforeAll(async () => {
  redis = await startTestRedis();
  merchant = await startMerchantEndpoint();
  env = {
    REDIS_URL: redis.url,
    QUEUE_PREFIX: PREFIX,
    CLICK_SERVICE_ID: SERVICE_ID,
    CLICK_SECRET_KEY: SECRET,
    CLICK_MERCHANT_ID: "11111",
    CLICK_MERCHANT_USER_ID: "22222",
    CLICK_RPC_TIMEOUT_MS: "5000",
    ADMIN_TOKEN,
    MERCHANT_WEBHOOK_URL: merchant.url,
    MERCHANT_WEBHOOK_SECRET: MERCHANT_SECRET,
    WORKER_CONCURRENCY: "8",
  };
  [ingress, ...workers] = await Promise.all([startIngress(env), startWorker(env), startWorker(env)]);
  clickQueue = new Queue(QUEUES.click, { connection: redis.client(), prefix: redis.prefix(PREFIX) });
  merchantQueue = new Queue(QUEUES.merchantWebhooks, { connection: redis.client(), prefix: redis.prefix(PREFIX) });
}, 30_000);

afterAll(async () => {
  await Promise.all([clickQueue?.close(), merchantQueue?.close()]);
  await Promise.all([ingress?.proc.stop(), ...workers.map((w) => w.stop())]);
  await merchant?.close();
  await redis?.remove();
});

// ---------------------------------------------------------------------------------------------
// Click's side of the conversation

/** A Click-like id: 10 digits, no leading zero; fresh for every scenario, as Click's tester does. */
const clickId = (): string => String(randomInt(1_000_000_000, 9_999_999_999));

type Call = {
  action?: "0" | "1" | "2";
  clickTransId: string;
  orderId: string;
  amount?: string;
  prepareId?: string | number;
  error?: number;
  errorNote?: string;
  serviceId?: string;
  secret?: string;
};

/** The signed form body of a call (the signature over exactly the fields sent). */
function formOf(c: Call): string {
  const action = c.action ?? (c.prepareId === undefined ? "0" : "1");
  return clickFormBody(
    {
      click_trans_id: c.clickTransId,
      service_id: c.serviceId ?? SERVICE_ID,
      click_paydoc_id: clickId(),
      merchant_trans_id: c.orderId,
      ...(c.prepareId !== undefined ? { merchant_prepare_id: String(c.prepareId) } : {}),
      amount: c.amount ?? SOUM,
      action: action as "0" | "1",
      error: String(c.error ?? 0),
      error_note: c.errorNote ?? (c.error ? "Insufficient funds" : "Success"),
      sign_time: clickSignTime(Date.now()),
    },
    c.secret ?? SECRET,
  );
}

type Answer = {
  click_trans_id?: number;
  merchant_trans_id?: string;
  merchant_prepare_id?: number;
  merchant_confirm_id?: number;
  error: number;
  error_note: string;
};

/** POSTs a raw body to a Click route and reads Click's answer: always HTTP 200 JSON. */
async function post(path: string, body: string, contentType = "application/x-www-form-urlencoded"): Promise<{ answer: Answer; text: string }> {
  const res = await fetch(`${ingress.url}${path}`, { method: "POST", headers: { "content-type": contentType }, body });
  const text = await res.text();
  expect({ status: res.status, type: res.headers.get("content-type") }).toEqual({ status: 200, type: "application/json; charset=utf-8" });
  return { answer: JSON.parse(text) as Answer, text };
}

const prepare = async (c: Call, path = "/webhooks/click/prepare") => (await post(path, formOf({ ...c, action: c.action ?? "0" }))).answer;
const complete = async (c: Call, path = "/webhooks/click/complete") => (await post(path, formOf({ ...c, action: c.action ?? "1" }))).answer;

/** Click's exact answer for a call: the echoed ids, then the prepare/confirm id when there is one. */
function expected(code: number, note: string, c: Pick<Call, "clickTransId" | "orderId">, ids: { merchant_prepare_id?: number; merchant_confirm_id?: number } = {}): Answer {
  return { click_trans_id: Number(c.clickTransId), merchant_trans_id: c.orderId, ...ids, error: code, error_note: note };
}

const NOTE = {
  0: "Success",
  [-1]: "SIGN CHECK FAILED!",
  [-2]: "Incorrect parameter amount",
  [-3]: "Action not found",
  [-4]: "Already paid",
  [-5]: "User does not exist",
  [-6]: "Transaction does not exist",
  [-7]: "Failed to update user",
  [-8]: "Error in request from click",
  [-9]: "Transaction cancelled",
} as const;

// ---------------------------------------------------------------------------------------------
// The merchant's side

let orderSeq = 0;
async function newOrder(amount = AMOUNT, adminUrl = ingress.adminUrl): Promise<string> {
  const orderId = `clk-${++orderSeq}-${Date.now()}`;
  expect(await adminClient(adminUrl, ADMIN_TOKEN).putOrder(orderId, { amount, currency: "UZS" })).toBe(201);
  return orderId;
}
const order = (orderId: string) => adminClient(ingress.adminUrl, ADMIN_TOKEN).getOrder(orderId);

/** Every PaymentEvent the merchant endpoint received, each verified with the merchant secret. */
function delivered(): PaymentEvent[] {
  return merchant.received.map((d) => {
    const verified = new Webhook(MERCHANT_SECRET).verify(d.body, {
      "webhook-id": String(d.headers["webhook-id"]),
      "webhook-timestamp": String(d.headers["webhook-timestamp"]),
      "webhook-signature": String(d.headers["webhook-signature"]),
    });
    return PaymentEventSchema.parse(verified);
  });
}

/**
 * The events the merchant received for one Click attempt (its Prepare's click_trans_id), once
 * every call and delivery is done; `atLeast` of them are waited for first.
 */
async function eventsOf(clickTransId: string, atLeast = 0): Promise<PaymentEvent[]> {
  const of = () => delivered().filter((e) => e.providerPaymentId === clickTransId);
  await waitFor(() => of().length >= atLeast || undefined, `${atLeast} merchant events for click ${clickTransId}`);
  await drained([clickQueue, merchantQueue]);
  await new Promise((r) => setTimeout(r, 200)); // an extra event would have a moment to arrive
  return of();
}

// ---------------------------------------------------------------------------------------------

describe("a sandbox-like sequence", () => {
  it("Prepare → 0 with a merchant_prepare_id, Complete → 0: the order is paid, one succeeded event reaches the merchant", async () => {
    const orderId = await newOrder();
    const clickTransId = clickId();
    const p = await prepare({ clickTransId, orderId });
    expect(p).toEqual(expected(0, NOTE[0], { clickTransId, orderId }, { merchant_prepare_id: expect.any(Number) }));
    expect(p.merchant_prepare_id).toBeGreaterThan(0);
    expect(await order(orderId)).toMatchObject({ status: "reserved", paidAmount: 0 });

    const c = await complete({ clickTransId, orderId, prepareId: p.merchant_prepare_id });
    expect(c).toEqual(expected(0, NOTE[0], { clickTransId, orderId }, { merchant_confirm_id: p.merchant_prepare_id }));
    expect(await order(orderId)).toMatchObject({
      status: "paid",
      paidAmount: AMOUNT,
      payments: [expect.objectContaining({ provider: "click", providerPaymentId: clickTransId, status: "succeeded", settled: AMOUNT, counted: AMOUNT, currency: "UZS", livemode: true })],
    });

    const events = await eventsOf(clickTransId, 2);
    expect(events.map((e) => e.type).sort()).toEqual(["payment.pending", "payment.succeeded"]);
    const succeeded = events.filter((e) => e.type === "payment.succeeded");
    expect(succeeded).toHaveLength(1);
    expect(succeeded[0]).toMatchObject({
      provider: "click",
      providerPaymentId: clickTransId,
      orderId,
      amount: AMOUNT,
      currency: "UZS",
      livemode: true,
      data: { clickTransId, merchantPrepareId: p.merchant_prepare_id, serviceId: SERVICE_ID },
    });
  });

  it("Click's tester, 15 scenarios in its order (a fresh click_trans_id each, fresh orders for 9 and 12)", async () => {
    const a = await newOrder();
    /** scenario n's own click_trans_id */
    const step = (_n: number) => ({ clickTransId: clickId() });

    // 1–2
    const s1 = step(1);
    expect(await prepare({ ...s1, orderId: a, secret: "not-the-key" })).toEqual(expected(-1, NOTE[-1], { ...s1, orderId: a }));
    const s2 = step(2);
    const p2 = await prepare({ ...s2, orderId: a });
    expect(p2).toMatchObject({ error: 0, merchant_prepare_id: expect.any(Number) });
    const id2 = p2.merchant_prepare_id!;
    // 3–7: the Completes carry their own click_trans_id; the attempt is found by merchant_prepare_id.
    const s3 = step(3);
    expect(await complete({ ...s3, orderId: a, prepareId: id2, secret: "not-the-key" })).toEqual(expected(-1, NOTE[-1], { ...s3, orderId: a }));
    const s4 = step(4);
    expect(await complete({ ...s4, orderId: a, prepareId: id2, amount: "49999.00" })).toEqual(expected(-2, NOTE[-2], { ...s4, orderId: a }));
    expect((await order(a)).status).toBe("reserved");
    const s5 = step(5);
    expect(await complete({ ...s5, orderId: a, prepareId: id2 })).toEqual(expected(0, NOTE[0], { ...s5, orderId: a }, { merchant_confirm_id: id2 }));
    const s6 = step(6);
    expect(await complete({ ...s6, orderId: a, prepareId: id2 })).toEqual(expected(-4, NOTE[-4], { ...s6, orderId: a }, { merchant_confirm_id: id2 }));
    const s7 = step(7);
    expect(await complete({ ...s7, orderId: a, prepareId: id2, error: -1, errorNote: "Cancelled" })).toEqual(
      expected(-4, NOTE[-4], { ...s7, orderId: a }, { merchant_confirm_id: id2 }),
    );
    expect(await order(a)).toMatchObject({ status: "paid", paidAmount: AMOUNT });
    // 8
    const s8 = step(8);
    expect(await prepare({ ...s8, orderId: "no-such-order-8" })).toEqual(expected(-5, NOTE[-5], { ...s8, orderId: "no-such-order-8" }));
    // 9–11
    const b = await newOrder();
    const s9 = step(9);
    const p9 = await prepare({ ...s9, orderId: b });
    expect(p9).toEqual(expected(0, NOTE[0], { ...s9, orderId: b }, { merchant_prepare_id: expect.any(Number) }));
    expect(p9.merchant_prepare_id).not.toBe(id2);
    const s10 = step(10);
    expect(await complete({ ...s10, orderId: b, prepareId: 987_654_321 })).toEqual(expected(-6, NOTE[-6], { ...s10, orderId: b }));
    const s11 = step(11);
    expect(await complete({ ...s11, orderId: b, prepareId: p9.merchant_prepare_id })).toEqual(
      expected(0, NOTE[0], { ...s11, orderId: b }, { merchant_confirm_id: p9.merchant_prepare_id }),
    );
    expect(await order(b)).toMatchObject({ status: "paid", paidAmount: AMOUNT });
    // 12–15
    const c = await newOrder();
    const s12 = step(12);
    const p12 = await prepare({ ...s12, orderId: c });
    expect(p12).toMatchObject({ error: 0 });
    const id12 = p12.merchant_prepare_id!;
    const [s13, s14, s15] = [step(13), step(14), step(15)];
    for (const [s, error] of [[s13, -5017], [s14, -5017], [s15, 0]] as const) {
      expect(await complete({ ...s, orderId: c, prepareId: id12, error })).toEqual(expected(-9, NOTE[-9], { ...s, orderId: c }, { merchant_confirm_id: id12 }));
    }
    expect(await order(c)).toMatchObject({ status: "awaiting_payment", paidAmount: 0 });

    // What the merchant heard: a and b paid once each, c cancelled once; nothing for the refusals.
    expect((await eventsOf(s2.clickTransId, 2)).map((e) => e.type).sort()).toEqual(["payment.pending", "payment.succeeded"]);
    expect((await eventsOf(s9.clickTransId, 2)).map((e) => e.type).sort()).toEqual(["payment.pending", "payment.succeeded"]);
    const cancelled = await eventsOf(s12.clickTransId, 2);
    expect(cancelled.map((e) => e.type).sort()).toEqual(["payment.cancelled", "payment.pending"]);
    expect(cancelled.find((e) => e.type === "payment.cancelled")).toMatchObject({ orderId: c, data: { clickError: -5017, clickErrorNote: "Insufficient funds" } });
    const refusedIds = [s1, s3, s4, s5, s6, s7, s8, s10, s11, s13, s14, s15].map((s) => s.clickTransId);
    expect(delivered().filter((e) => refusedIds.includes(e.providerPaymentId))).toEqual([]);
  });
});

describe("every error code, with Click's answer shape", () => {
  it("-1: a signature by another key, or of other fields, or no MD5 at all", async () => {
    const orderId = await newOrder();
    const clickTransId = clickId();
    expect(await prepare({ clickTransId, orderId, secret: `${SECRET}x` })).toEqual(expected(-1, NOTE[-1], { clickTransId, orderId }));
    // Signed over 50000.00, sent as 50000: the text is signed, not the number.
    const tampered = formOf({ clickTransId, orderId, action: "0" }).replace("amount=50000.00", "amount=50000");
    expect((await post("/webhooks/click/prepare", tampered)).answer).toEqual(expected(-1, NOTE[-1], { clickTransId, orderId }));
    const notMd5 = formOf({ clickTransId, orderId, action: "0" }).replace(/sign_string=[0-9a-f]{32}/, `sign_string=${"ab".repeat(20)}`);
    expect((await post("/webhooks/click/prepare", notMd5)).answer).toEqual(expected(-1, NOTE[-1], { clickTransId, orderId }));
    // Upper-case hex of the right digest is the same signature.
    const upper = formOf({ clickTransId, orderId, action: "0" }).replace(/sign_string=([0-9a-f]{32})/, (_m, h: string) => `sign_string=${h.toUpperCase()}`);
    expect((await post("/webhooks/click/prepare", upper)).answer).toMatchObject({ error: 0 });
  });

  it("-2: an amount other than the order's (Prepare), other than the attempt's (Complete), or unreadable", async () => {
    const orderId = await newOrder();
    const clickTransId = clickId();
    expect(await prepare({ clickTransId, orderId, amount: "50000.01" })).toEqual(expected(-2, NOTE[-2], { clickTransId, orderId }));
    expect(await prepare({ clickTransId: clickId(), orderId, amount: "5e4" })).toMatchObject({ error: -2, error_note: NOTE[-2] });
    expect((await order(orderId)).payments).toEqual([]);
    const p = await prepare({ clickTransId, orderId, amount: "50000" });
    expect(p).toMatchObject({ error: 0 });
    expect(await complete({ clickTransId, orderId, prepareId: p.merchant_prepare_id, amount: "50001" })).toEqual(expected(-2, NOTE[-2], { clickTransId, orderId }));
    expect(await order(orderId)).toMatchObject({ status: "reserved", payments: [expect.objectContaining({ status: "held" })] });
    // "50000" and "50000.00" are the same tiyin.
    expect(await complete({ clickTransId, orderId, prepareId: p.merchant_prepare_id, amount: "50000.00" })).toMatchObject({ error: 0 });
  });

  it("-3: an action the route does not serve, or none of 0 and 1", async () => {
    const orderId = await newOrder();
    const clickTransId = clickId();
    expect(await prepare({ clickTransId, orderId, action: "1", prepareId: 1 })).toEqual(expected(-3, NOTE[-3], { clickTransId, orderId }));
    expect(await complete({ clickTransId, orderId, action: "0" })).toEqual(expected(-3, NOTE[-3], { clickTransId, orderId }));
    expect(await prepare({ clickTransId, orderId, action: "2" }, "/webhooks/click")).toEqual(expected(-3, NOTE[-3], { clickTransId, orderId }));
    expect((await order(orderId)).status).toBe("awaiting_payment");
  });

  it("-4: a Prepare for a paid order, and a Complete after success", async () => {
    const orderId = await newOrder();
    const clickTransId = clickId();
    const p = await prepare({ clickTransId, orderId });
    expect(await complete({ clickTransId, orderId, prepareId: p.merchant_prepare_id })).toMatchObject({ error: 0 });
    const other = clickId();
    expect(await prepare({ clickTransId: other, orderId })).toEqual(expected(-4, NOTE[-4], { clickTransId: other, orderId }));
    // A repeated Prepare of the completed attempt carries its id.
    expect(await prepare({ clickTransId, orderId })).toEqual(expected(-4, NOTE[-4], { clickTransId, orderId }, { merchant_prepare_id: p.merchant_prepare_id }));
    expect(await complete({ clickTransId, orderId, prepareId: p.merchant_prepare_id })).toEqual(
      expected(-4, NOTE[-4], { clickTransId, orderId }, { merchant_confirm_id: p.merchant_prepare_id }),
    );
  });

  it("-5: an order that does not exist, on Prepare and on Complete", async () => {
    const clickTransId = clickId();
    expect(await prepare({ clickTransId, orderId: "no-such-order" })).toEqual(expected(-5, NOTE[-5], { clickTransId, orderId: "no-such-order" }));
    expect(await complete({ clickTransId, orderId: "no-such-order", prepareId: 1 })).toEqual(expected(-5, NOTE[-5], { clickTransId, orderId: "no-such-order" }));
    // Not even an order id payhooks could have.
    expect(await prepare({ clickTransId, orderId: "bad order id/../x" })).toEqual(expected(-5, NOTE[-5], { clickTransId, orderId: "bad order id/../x" }));
  });

  it("-6: a merchant_prepare_id never given, or given for another order", async () => {
    const a = await newOrder();
    const b = await newOrder();
    const clickTransId = clickId();
    const p = await prepare({ clickTransId, orderId: a });
    expect(await complete({ clickTransId, orderId: b, prepareId: p.merchant_prepare_id })).toEqual(expected(-6, NOTE[-6], { clickTransId, orderId: b }));
    expect(await complete({ clickTransId, orderId: a, prepareId: 999_999_999 })).toEqual(expected(-6, NOTE[-6], { clickTransId, orderId: a }));
    expect((await order(a)).status).toBe("reserved");
    expect((await order(b)).status).toBe("awaiting_payment");
  });

  it("-8: a malformed request, another service, an unreadable body", async () => {
    const orderId = await newOrder();
    const clickTransId = clickId();
    // Genuinely signed, for another service.
    expect(await prepare({ clickTransId, orderId, serviceId: "99999" })).toEqual(expected(-8, NOTE[-8], { clickTransId, orderId }));
    // A required field missing: the well-formed ids are echoed.
    const noSign = formOf({ clickTransId, orderId, action: "0" }).replace(/&sign_string=[0-9a-f]{32}/, "");
    expect((await post("/webhooks/click/prepare", noSign)).answer).toEqual(expected(-8, NOTE[-8], { clickTransId, orderId }));
    // A positive error, a non-digit click_trans_id (not echoed), a repeated key, broken JSON.
    expect((await post("/webhooks/click/prepare", formOf({ clickTransId, orderId, action: "0" }).replace("error=0", "error=1"))).answer).toEqual(
      expected(-8, NOTE[-8], { clickTransId, orderId }),
    );
    const letters = formOf({ clickTransId: "12ab", orderId, action: "0" });
    expect((await post("/webhooks/click/prepare", letters)).answer).toEqual({ merchant_trans_id: orderId, error: -8, error_note: NOTE[-8] });
    expect((await post("/webhooks/click/prepare", `${formOf({ clickTransId, orderId, action: "0" })}&amount=1`)).answer).toEqual({ error: -8, error_note: NOTE[-8] });
    expect((await post("/webhooks/click", '{"click_trans_id": 1,', "application/json")).answer).toEqual({ error: -8, error_note: NOTE[-8] });
    expect((await order(orderId)).payments).toEqual([]);
  });

  it("-9: a Prepare announcing a failure, a cancelling Complete, anything after it", async () => {
    const orderId = await newOrder();
    const failed = clickId();
    expect(await prepare({ clickTransId: failed, orderId, error: -5017 })).toEqual(expected(-9, NOTE[-9], { clickTransId: failed, orderId }));
    expect((await order(orderId)).payments).toEqual([]);
    const clickTransId = clickId();
    const p = await prepare({ clickTransId, orderId });
    const ids = { merchant_confirm_id: p.merchant_prepare_id! };
    expect(await complete({ clickTransId, orderId, prepareId: p.merchant_prepare_id, error: -5017 })).toEqual(expected(-9, NOTE[-9], { clickTransId, orderId }, ids));
    expect(await complete({ clickTransId, orderId, prepareId: p.merchant_prepare_id })).toEqual(expected(-9, NOTE[-9], { clickTransId, orderId }, ids));
    expect(await prepare({ clickTransId, orderId })).toEqual(expected(-9, NOTE[-9], { clickTransId, orderId }, { merchant_prepare_id: p.merchant_prepare_id! }));
  });

  it("answers with click_trans_id's own digits, even past 2^53; merchant_trans_id as the same string", async () => {
    const orderId = await newOrder();
    const clickTransId = "98765432109876543210"; // 20 digits: a float would round it
    const { text } = await post("/webhooks/click/prepare", formOf({ clickTransId, orderId, action: "0" }));
    expect(text).toMatch(new RegExp(`^\\{"click_trans_id":${clickTransId},"merchant_trans_id":"${orderId}","merchant_prepare_id":\\d+,"error":0,"error_note":"Success"\\}$`));
  });
});

describe("repeats", () => {
  it("a repeated Prepare answers as the first did: same merchant_prepare_id, one attempt, one pending event", async () => {
    const orderId = await newOrder();
    const clickTransId = clickId();
    const first = await post("/webhooks/click/prepare", formOf({ clickTransId, orderId, action: "0" }));
    const again = await post("/webhooks/click/prepare", formOf({ clickTransId, orderId, action: "0" }));
    // Through the shared route as well: the same ledger answers.
    const shared = await post("/webhooks/click", formOf({ clickTransId, orderId, action: "0" }));
    expect(again.text).toBe(first.text);
    expect(shared.text).toBe(first.text);
    expect(first.answer).toMatchObject({ error: 0, merchant_prepare_id: expect.any(Number) });
    expect((await order(orderId)).payments).toHaveLength(1);
    expect((await eventsOf(clickTransId, 1)).map((e) => e.type)).toEqual(["payment.pending"]);
  });

  it("a Complete after success answers -4 and changes nothing: no second event, the order as it was", async () => {
    const orderId = await newOrder();
    const clickTransId = clickId();
    const p = await prepare({ clickTransId, orderId });
    expect(await complete({ clickTransId, orderId, prepareId: p.merchant_prepare_id })).toMatchObject({ error: 0 });
    expect((await eventsOf(clickTransId, 2)).map((e) => e.type).sort()).toEqual(["payment.pending", "payment.succeeded"]);
    const before = await order(orderId);

    for (const error of [0, 0, -1, -5017]) {
      expect(await complete({ clickTransId, orderId, prepareId: p.merchant_prepare_id, error }, "/webhooks/click")).toEqual(
        expected(-4, NOTE[-4], { clickTransId, orderId }, { merchant_confirm_id: p.merchant_prepare_id }),
      );
    }
    expect(await order(orderId)).toEqual(before);
    expect((await eventsOf(clickTransId)).map((e) => e.type).sort()).toEqual(["payment.pending", "payment.succeeded"]);
  });

  it("a cancelling Complete releases the order: awaiting_payment again, and a new attempt pays it", async () => {
    const orderId = await newOrder();
    const first = clickId();
    const p1 = await prepare({ clickTransId: first, orderId });
    expect((await order(orderId)).status).toBe("reserved");
    expect(await complete({ clickTransId: first, orderId, prepareId: p1.merchant_prepare_id, error: -5017 })).toMatchObject({ error: -9 });
    expect(await order(orderId)).toMatchObject({ status: "awaiting_payment", paidAmount: 0, payments: [expect.objectContaining({ status: "cancelled" })] });

    const second = clickId();
    const p2 = await prepare({ clickTransId: second, orderId });
    expect(p2).toMatchObject({ error: 0 });
    expect(p2.merchant_prepare_id).not.toBe(p1.merchant_prepare_id);
    expect(await complete({ clickTransId: second, orderId, prepareId: p2.merchant_prepare_id })).toEqual(
      expected(0, NOTE[0], { clickTransId: second, orderId }, { merchant_confirm_id: p2.merchant_prepare_id }),
    );
    expect(await order(orderId)).toMatchObject({ status: "paid", paidAmount: AMOUNT });
    // The cancelled attempt stays cancelled.
    expect(await complete({ clickTransId: first, orderId, prepareId: p1.merchant_prepare_id })).toMatchObject({ error: -9 });
    expect((await eventsOf(first, 2)).map((e) => e.type).sort()).toEqual(["payment.cancelled", "payment.pending"]);
    expect((await eventsOf(second, 2)).map((e) => e.type).sort()).toEqual(["payment.pending", "payment.succeeded"]);
  });
});

describe("concurrency across two worker processes", () => {
  it("five concurrent Completes of one attempt, 10 rounds: one 0 and four -4 each time, one payment, one succeeded event", async () => {
    const rounds: Array<{ orderId: string; clickTransId: string; codes: number[] }> = [];
    for (let i = 0; i < 10; i++) {
      const orderId = await newOrder();
      const clickTransId = clickId();
      const p = await prepare({ clickTransId, orderId });
      expect(p).toMatchObject({ error: 0 });
      const answers = await Promise.all(
        Array.from({ length: 5 }, (_, k) => complete({ clickTransId, orderId, prepareId: p.merchant_prepare_id }, k % 2 ? "/webhooks/click" : "/webhooks/click/complete")),
      );
      rounds.push({ orderId, clickTransId, codes: answers.map((a) => a.error).sort((x, y) => y - x) });
      for (const a of answers) expect(a.merchant_confirm_id).toBe(p.merchant_prepare_id);
    }
    for (const r of rounds) {
      expect(r.codes).toEqual([0, -4, -4, -4, -4]);
      const o = await order(r.orderId);
      expect(o).toMatchObject({ status: "paid", paidAmount: AMOUNT });
      expect(o.payments).toEqual([expect.objectContaining({ provider: "click", providerPaymentId: r.clickTransId, status: "succeeded", counted: AMOUNT })]);
      const events = await eventsOf(r.clickTransId, 2);
      expect(events.filter((e) => e.type === "payment.succeeded")).toHaveLength(1);
      expect(events).toHaveLength(2);
    }
    // Both worker processes took Complete calls: the race was really across processes.
    const jobs = await clickQueue.getJobs(["completed"], 0, -1);
    const ids = new Set(rounds.map((r) => r.clickTransId));
    const by = new Set(
      jobs
        .filter((j) => j.name === "click.complete" && ids.has((j.data as { payload: { click_trans_id: string } }).payload.click_trans_id))
        .map((j) => j.processedBy),
    );
    const pids = [...by].map((name) => Number(String(name).split("-").pop())).sort();
    expect(pids).toEqual(workers.map((w) => w.child.pid!).sort());
    // And the ledger agrees with the admin view.
    const ledger = createLedger({ redis: redis.client(), prefix: redis.prefix(PREFIX) });
    for (const r of rounds) expect(await ledger.getPayment("click", r.clickTransId)).toMatchObject({ providerStatus: "completed", facts: { status: "succeeded" } });
  }, 60_000);
});

describe("no worker running", () => {
  it("a Prepare is answered -7 within CLICK_RPC_TIMEOUT_MS, and the order is not touched", async () => {
    // A second ingress on a queue prefix no worker serves, with a short timeout.
    const lonely = await startIngress({ ...env, QUEUE_PREFIX: `${PREFIX}-noworker`, CLICK_RPC_TIMEOUT_MS: String(SHORT_TIMEOUT_MS) });
    try {
      const orderId = await newOrder(AMOUNT, lonely.adminUrl);
      const clickTransId = clickId();
      const started = Date.now();
      const res = await fetch(`${lonely.url}/webhooks/click/prepare`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: formOf({ clickTransId, orderId, action: "0" }),
      });
      const elapsed = Date.now() - started;
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual(expected(-7, NOTE[-7], { clickTransId, orderId }));
      // Answered, not hung: a generous bound, far under the 5 s the main ingress would wait.
      expect(elapsed).toBeLessThan(SHORT_TIMEOUT_MS + 3_000);
      expect(elapsed).toBeGreaterThanOrEqual(SHORT_TIMEOUT_MS / 2); // it did wait for a worker
      expect(await adminClient(lonely.adminUrl, ADMIN_TOKEN).getOrder(orderId)).toMatchObject({ status: "awaiting_payment", payments: [] });
    } finally {
      await lonely.proc.stop();
    }
  });
});
