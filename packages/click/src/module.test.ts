import {
  deriveOrder,
  type Envelope,
  type Ledger,
  type Logger,
  type OrderRecord,
  type PaymentChange,
  type PaymentFacts,
  type PaymentRecord,
  type Redis,
  type SimulatedRequest,
  type WebhookReply,
} from "@payhooks/core";
import { clickModule } from "./index";
import { clickConfig, type ClickConfig, type ClickEnabled } from "./config";
import { clickFormBody } from "./simulator";

const NOW = Date.parse("2024-03-02T02:50:19Z");
const SERVICE = "12345";
const SECRET = "Xq7pLmN2vR9s";
const silent = { warn() {}, info() {}, error() {}, debug() {} } as unknown as Logger;

/**
 * An in-memory stand-in for the ledger with its rules (payments attach to the order they name,
 * the order's status derived from the facts) and a BullMQ-like round trip (the result as JSON),
 * so the ingress and the worker are exercised together without Redis.
 */
function world(env: Record<string, string> = {}) {
  const config = clickConfig.schema.parse({ CLICK_SERVICE_ID: SERVICE, CLICK_SECRET_KEY: SECRET, ...env }) as ClickEnabled;
  const orders = new Map<string, { amount: number; currency: string; livemode: boolean; payments: Record<string, PaymentFacts> }>();
  const payments = new Map<string, PaymentRecord>();
  const events: string[] = [];
  let seq = 0;
  let redisDown = false;
  let jobs = 0;
  const readOrder = (id: string): OrderRecord | null => {
    const o = orders.get(id);
    if (!o) return null;
    return { orderId: id, ...o, refundable: false, references: {}, items: [], createdAt: "", updatedAt: "", v: "1", ...deriveOrder(o, Object.values(o.payments)) };
  };
  const ledger = {
    getOrderRecord: async (id: string) => readOrder(id),
    getPayment: async (provider: string, id: string) => payments.get(`${provider}/${id}`) ?? null,
  } as unknown as Ledger;
  const apply = async (change: PaymentChange) => {
    const key = `${change.provider}/${change.providerPaymentId}`;
    const payment = payments.get(key) ?? null;
    const orderId = payment?.attached ? payment.orderId : (change.orderId ?? null);
    const order = orderId ? readOrder(orderId) : null;
    const d = change.decide({ payment, order });
    if (d.kind === "ignored") return { result: { kind: "ignored" as const, reason: d.reason, orderId: payment?.orderId ?? orderId }, events: [] };
    payments.set(key, { provider: change.provider, providerPaymentId: change.providerPaymentId, orderId, attached: order !== null, v: "1", ...d.payment });
    if (order) orders.get(orderId!)!.payments[key] = d.payment.facts;
    const ids = d.events.map((e) => `${e.type}:${change.providerPaymentId}`);
    events.push(...ids);
    return { result: { kind: "applied" as const, orderId, events: [] }, events: ids };
  };
  const redis = {
    incr: async () => {
      if (redisDown) throw new Error("connection refused");
      return ++seq;
    },
  } as unknown as Redis;
  const state = clickModule.ingress.setup({ config, redis, prefix: "t", logger: silent });

  async function post(path: string, body: string | Buffer, opts: { ip?: string } = {}): Promise<WebhookReply & { json: Record<string, unknown> }> {
    const decision = await clickModule.ingress.accept(
      { method: "POST", path, query: "", rawBody: Buffer.isBuffer(body) ? body : Buffer.from(body, "utf8"), headers: { "content-type": "application/x-www-form-urlencoded" }, ip: opts.ip ?? "127.0.0.1", now: NOW },
      state,
    );
    let reply: WebhookReply;
    if (decision.kind === "reply") reply = decision.reply;
    else if (decision.kind === "call") {
      jobs++;
      const envelope: Envelope = { ...decision.delivery, provider: "click", deliveryId: `click-${jobs}`, receivedAt: NOW };
      let result: unknown = null;
      try {
        const worker = clickModule.worker;
        if (worker.kind !== "request-reply") throw new Error("Click is request–reply");
        // As BullMQ hands a return value over: through JSON.
        result = JSON.parse(JSON.stringify(await worker.answer(envelope, { config, ledger, clock: () => NOW, apply }))) as unknown;
      } catch {
        result = null; // the job failed
      }
      reply = decision.answer(result);
    } else throw new Error("Click never enqueues asynchronously");
    return { ...reply, json: JSON.parse(reply.body) as Record<string, unknown> };
  }

  return {
    config,
    state,
    post,
    events,
    jobs: () => jobs,
    order: (id: string) => readOrder(id),
    putOrder: (id: string, amount = 5_000_000, currency = "UZS", livemode = true) => orders.set(id, { amount, currency, livemode, payments: {} }),
    redisDown: () => (redisDown = true),
  };
}

type Fields = Parameters<typeof clickFormBody>[0];
const prepareFields = (over: Partial<Fields> = {}): Fields => ({
  click_trans_id: "2245678901",
  service_id: SERVICE,
  click_paydoc_id: "3345678901",
  merchant_trans_id: "ord-1",
  amount: "50000",
  action: "0",
  error: "0",
  error_note: "Success",
  sign_time: "2024-03-02 07:50:19",
  ...over,
});
const completeFields = (prepareId: string, over: Partial<Fields> = {}): Fields => prepareFields({ action: "1", merchant_prepare_id: prepareId, sign_time: "2024-03-02 07:50:41", ...over });
const signed = (f: Fields, secret = SECRET) => clickFormBody(f, secret);
const PREPARE = "/webhooks/click/prepare";
const COMPLETE = "/webhooks/click/complete";
const EITHER = "/webhooks/click";

describe("Click's SHOP-API tester, 15 scenarios (docs/protocols/click.md#test-and-live-mode)", () => {
  test("every step answers what the tester expects", async () => {
    const w = world();
    w.putOrder("ord-1");
    const step = async (path: string, body: string) => (await w.post(path, body)).json["error"];
    // 1–7 on ord-1
    expect(await step(PREPARE, signed(prepareFields(), "wrong"))).toBe(-1);
    const p2 = (await w.post(PREPARE, signed(prepareFields({ click_trans_id: "1002" })))).json;
    expect(p2).toEqual({ click_trans_id: 1002, merchant_trans_id: "ord-1", merchant_prepare_id: 1, error: 0, error_note: "Success" });
    const id = String(p2["merchant_prepare_id"]);
    expect(await step(COMPLETE, signed(completeFields(id, { click_trans_id: "1003" }), "wrong"))).toBe(-1);
    expect(await step(COMPLETE, signed(completeFields(id, { click_trans_id: "1004", amount: "49999" })))).toBe(-2);
    expect(w.order("ord-1")!.status).toBe("reserved");
    const c5 = (await w.post(COMPLETE, signed(completeFields(id, { click_trans_id: "1005" })))).json;
    expect(c5).toEqual({ click_trans_id: 1005, merchant_trans_id: "ord-1", merchant_confirm_id: 1, error: 0, error_note: "Success" });
    expect(w.order("ord-1")).toMatchObject({ status: "paid", paidAmount: 5_000_000 });
    expect(await step(COMPLETE, signed(completeFields(id, { click_trans_id: "1006" })))).toBe(-4);
    expect(await step(COMPLETE, signed(completeFields(id, { click_trans_id: "1007", error: "-1" })))).toBe(-4);
    expect(w.order("ord-1")).toMatchObject({ status: "paid", paidAmount: 5_000_000 });
    // 8–11 on a fresh order
    expect(await step(PREPARE, signed(prepareFields({ click_trans_id: "1008", merchant_trans_id: "no-such-order" })))).toBe(-5);
    w.putOrder("ord-2");
    const p9 = (await w.post(PREPARE, signed(prepareFields({ click_trans_id: "1009", merchant_trans_id: "ord-2" })))).json;
    expect(p9["error"]).toBe(0);
    expect(await step(COMPLETE, signed(completeFields("999999", { click_trans_id: "1010", merchant_trans_id: "ord-2" })))).toBe(-6);
    expect(await step(COMPLETE, signed(completeFields(String(p9["merchant_prepare_id"]), { click_trans_id: "1011", merchant_trans_id: "ord-2" })))).toBe(0);
    expect(w.order("ord-2")!.status).toBe("paid");
    // 12–15 on a fresh order
    w.putOrder("ord-3");
    const p12 = (await w.post(PREPARE, signed(prepareFields({ click_trans_id: "1012", merchant_trans_id: "ord-3" })))).json;
    const id12 = String(p12["merchant_prepare_id"]);
    const c13 = (await w.post(COMPLETE, signed(completeFields(id12, { click_trans_id: "1013", merchant_trans_id: "ord-3", error: "-5017", error_note: "Insufficient funds" })))).json;
    expect(c13).toMatchObject({ error: -9, error_note: "Transaction cancelled", merchant_confirm_id: Number(id12) });
    expect(w.order("ord-3")!.status).toBe("awaiting_payment");
    expect(await step(COMPLETE, signed(completeFields(id12, { click_trans_id: "1014", merchant_trans_id: "ord-3", error: "-5017" })))).toBe(-9);
    expect(await step(COMPLETE, signed(completeFields(id12, { click_trans_id: "1015", merchant_trans_id: "ord-3" })))).toBe(-9);
    expect(w.order("ord-3")!.status).toBe("awaiting_payment");
    // One event per real transition, none for repeats or refusals.
    expect(w.events).toEqual([
      "payment.pending:1002",
      "payment.succeeded:1002",
      "payment.pending:1009",
      "payment.succeeded:1009",
      "payment.pending:1012",
      "payment.cancelled:1012",
    ]);
  });
});

describe("ingress (docs/protocols/click.md#transport, #order-of-checks)", () => {
  test("answers are HTTP 200 JSON; refusals are answered without a job", async () => {
    const w = world();
    const r = await w.post(PREPARE, signed(prepareFields(), "wrong"));
    expect([r.status, r.contentType, r.outcome]).toEqual([200, "application/json; charset=utf-8", "rejected_signature"]);
    expect(r.json).toEqual({ click_trans_id: 2245678901, merchant_trans_id: "ord-1", error: -1, error_note: "SIGN CHECK FAILED!" });
    expect(w.jobs()).toBe(0);
  });

  test.each([
    [PREPARE, "1", -3],
    [COMPLETE, "0", -3],
    [EITHER, "2", -3],
    [PREPARE, "00", -3],
  ])("%s with action=%s → %d", async (path, action, expected) => {
    const w = world();
    const fields = action === "1" ? completeFields("1") : prepareFields();
    const r = await w.post(path, signed({ ...fields, action: action as "0" }));
    expect(r.json["error"]).toBe(expected);
    expect(r.outcome).toBe("rejected_payload");
  });

  test("/webhooks/click dispatches on action; /prepare and /complete share one state", async () => {
    const w = world();
    w.putOrder("ord-1");
    const p = (await w.post(EITHER, signed(prepareFields()))).json;
    expect(p["error"]).toBe(0);
    expect((await w.post(PREPARE, signed(prepareFields()))).json).toEqual(p);
    expect((await w.post(EITHER, signed(completeFields(String(p["merchant_prepare_id"]))))).json["error"]).toBe(0);
  });

  test("a genuine request for another service → -8", async () => {
    const w = world();
    const r = await w.post(PREPARE, signed(prepareFields({ service_id: "54321" })));
    expect(r.json).toMatchObject({ error: -8, click_trans_id: 2245678901 });
  });

  test("the syntax comes before the action, the action before the signature", async () => {
    const w = world();
    expect((await w.post(PREPARE, "click_trans_id=1&action=9")).json["error"]).toBe(-8);
    expect((await w.post(PREPARE, signed({ ...prepareFields(), action: "1" as "0", merchant_prepare_id: "1" }, "wrong"))).json["error"]).toBe(-3);
  });

  test("a Prepare with error < 0 → -9, nothing recorded", async () => {
    const w = world();
    w.putOrder("ord-1");
    const r = await w.post(PREPARE, signed(prepareFields({ error: "-5017" })));
    expect(r.json["error"]).toBe(-9);
    expect(w.jobs()).toBe(0);
    expect(w.order("ord-1")!.status).toBe("awaiting_payment");
  });

  test("unreadable bodies and repeated fields → -8", async () => {
    const w = world();
    for (const body of ["", "%zz", "[]", '{"amount": 1000.5}', `${signed(prepareFields())}&amount=50000`]) {
      expect((await w.post(PREPARE, body)).json["error"]).toBe(-8);
    }
    expect((await w.post(PREPARE, Buffer.from([0x61, 0x3d, 0xff]))).json["error"]).toBe(-8);
  });

  test("a flat JSON body is accepted like the form", async () => {
    const w = world();
    w.putOrder("ord-1");
    const f = prepareFields();
    const sign = new URLSearchParams(signed(f)).get("sign_string")!;
    const body = JSON.stringify({ ...f, click_trans_id: 2245678901, service_id: 12345, sign_string: sign });
    expect((await w.post(PREPARE, body)).json).toMatchObject({ error: 0, click_trans_id: 2245678901 });
  });

  test("unknown fields are ignored; upper-case signatures are accepted", async () => {
    const w = world();
    w.putOrder("ord-1");
    const body = signed(prepareFields()).replace(/sign_string=([0-9a-f]+)/, (_m, h: string) => `sign_string=${h.toUpperCase()}`);
    expect((await w.post(PREPARE, `${body}&extra_field=1`)).json["error"]).toBe(0);
  });

  test("click_trans_id is echoed as a JSON number with exactly the digits received", async () => {
    const w = world();
    const r = await w.post(PREPARE, signed(prepareFields({ click_trans_id: "98765432109876543210", merchant_trans_id: "nope" })));
    expect(r.body).toBe('{"click_trans_id":98765432109876543210,"merchant_trans_id":"nope","error":-5,"error_note":"User does not exist"}');
  });

  test("no worker answer (timeout, failed job, late pick-up) → -7, HTTP 200", async () => {
    const w = world();
    w.putOrder("ord-1");
    const decision = await clickModule.ingress.accept(
      { method: "POST", path: PREPARE, query: "", rawBody: Buffer.from(signed(prepareFields())), headers: {}, ip: null, now: NOW },
      w.state,
    );
    expect(decision.kind).toBe("call");
    if (decision.kind !== "call") return;
    expect(decision.jobName).toBe("click.prepare");
    expect(decision.delivery).toMatchObject({ livemode: true, payload: { action: 0, click_trans_id: "2245678901", proposed_prepare_id: 1 } });
    expect(JSON.stringify(decision.delivery.payload)).not.toContain("sign_string");
    for (const result of [null, { late: true }, "not json", { reply: { error: 5 } }]) {
      const r = decision.answer(result);
      expect([r.status, r.outcome, JSON.parse(r.body)]).toEqual([
        200,
        "unavailable",
        { click_trans_id: 2245678901, merchant_trans_id: "ord-1", error: -7, error_note: "Failed to update user" },
      ]);
    }
    // A worker's answer that arrives as JSON text (as QueueEvents may hand it over) is read.
    expect(JSON.parse(decision.answer(JSON.stringify({ reply: { error: 0, error_note: "Success", merchant_prepare_id: 3 } })).body)).toEqual({ merchant_prepare_id: 3, error: 0, error_note: "Success" });
  });

  test("Redis refusing the merchant_prepare_id → -7", async () => {
    const w = world();
    w.redisDown();
    expect((await w.post(PREPARE, signed(prepareFields()))).json["error"]).toBe(-7);
  });

  test("CLICK_ALLOWED_IPS refuses other callers with -1", async () => {
    const w = world({ CLICK_ALLOWED_IPS: "185.8.212.0/24" });
    w.putOrder("ord-1");
    expect((await w.post(PREPARE, signed(prepareFields()), { ip: "10.0.0.1" })).json["error"]).toBe(-1);
    expect((await w.post(PREPARE, signed(prepareFields()), { ip: "::ffff:185.8.212.7" })).json["error"]).toBe(0);
  });

  test("pipeline refusals in Click's dialect", () => {
    const req = { method: "GET", path: PREPARE, query: "", rawBody: Buffer.alloc(0), headers: {}, ip: null, now: NOW };
    const { refusals } = clickModule.ingress;
    expect(refusals.notConfigured(req)).toMatchObject({ status: 503, body: '{"error":"provider_not_configured"}' });
    expect(refusals.methodNotAllowed(req)).toMatchObject({ status: 405, headers: { Allow: "POST" } });
    expect(refusals.badBody(req, 413)).toMatchObject({ status: 413, body: '{"error":-8,"error_note":"Error in request from click"}' });
    expect(JSON.parse(refusals.unavailable(req).body)).toEqual({ error: -7, error_note: "Failed to update user" });
  });
});

describe("worker (docs/protocols/click.md#prepare, #complete, #retries-and-idempotency)", () => {
  test("a repeated Prepare answers as the first did, with no new event; a second attempt may take a Click-reserved order", async () => {
    const w = world();
    w.putOrder("ord-1");
    const first = (await w.post(PREPARE, signed(prepareFields()))).json;
    const again = (await w.post(PREPARE, signed(prepareFields({ sign_time: "2024-03-02 07:55:00" })))).json;
    expect(again).toEqual(first);
    const other = (await w.post(PREPARE, signed(prepareFields({ click_trans_id: "777" })))).json;
    expect(other["error"]).toBe(0);
    expect(other["merchant_prepare_id"]).not.toBe(first["merchant_prepare_id"]);
    expect(w.events).toEqual(["payment.pending:2245678901", "payment.pending:777"]);
    // Cancelling one keeps the order reserved by the other; completing the other pays it.
    await w.post(COMPLETE, signed(completeFields(String(first["merchant_prepare_id"]), { error: "-5017" })));
    expect(w.order("ord-1")!.status).toBe("reserved");
    expect((await w.post(COMPLETE, signed(completeFields(String(other["merchant_prepare_id"]), { click_trans_id: "777" })))).json["error"]).toBe(0);
    expect(w.order("ord-1")!.status).toBe("paid");
  });

  test("two attempts both debited: the second Complete answers -4 and does not overpay", async () => {
    const w = world();
    w.putOrder("ord-1");
    const a = (await w.post(PREPARE, signed(prepareFields({ click_trans_id: "1" })))).json;
    const b = (await w.post(PREPARE, signed(prepareFields({ click_trans_id: "2" })))).json;
    expect((await w.post(COMPLETE, signed(completeFields(String(a["merchant_prepare_id"]), { click_trans_id: "1" })))).json["error"]).toBe(0);
    expect((await w.post(COMPLETE, signed(completeFields(String(b["merchant_prepare_id"]), { click_trans_id: "2" })))).json["error"]).toBe(-4);
    expect(w.order("ord-1")).toMatchObject({ status: "paid", paidAmount: 5_000_000 });
  });

  test("a Complete naming another order's attempt → -6; a test order is not Click's → -5", async () => {
    const w = world();
    w.putOrder("ord-1");
    w.putOrder("ord-2");
    w.putOrder("test-order", 5_000_000, "UZS", false);
    const a = (await w.post(PREPARE, signed(prepareFields()))).json;
    expect((await w.post(COMPLETE, signed(completeFields(String(a["merchant_prepare_id"]), { merchant_trans_id: "ord-2" })))).json["error"]).toBe(-6);
    expect((await w.post(PREPARE, signed(prepareFields({ click_trans_id: "5", merchant_trans_id: "test-order" })))).json["error"]).toBe(-5);
  });

  test("a payload that is no Click call fails the job (the caller hears -7)", async () => {
    const w = world();
    const worker = clickModule.worker;
    if (worker.kind !== "request-reply") throw new Error("Click is request–reply");
    const envelope: Envelope = { provider: "click", deliveryId: "x", receivedAt: NOW, rawBody: "", payload: { action: 3 }, headers: {} };
    await expect(worker.answer(envelope, { config: w.config, ledger: {} as Ledger, clock: () => NOW, apply: async () => ({ result: { kind: "ignored", reason: "", orderId: null }, events: [] }) })).rejects.toThrow(
      "invalid click call",
    );
  });
});

describe("simulator scenarios", () => {
  test.each(Object.keys(clickModule.simulator.scenarios))("%s: every step gets the answer Click expects", async (name) => {
    const w = world();
    w.putOrder("sim-1");
    const failed: string[] = [];
    const notes: string[] = [];
    await clickModule.simulator.scenarios[name]!.run({
      config: w.config,
      order: { orderId: "sim-1", refundable: false, references: {}, source: "created", ...clickModule.simulator.order(w.config, name) },
      now: () => NOW,
      note: (line) => notes.push(line),
      send: async (r: SimulatedRequest) => {
        expect(r.summary).not.toContain(new URLSearchParams(r.body).get("sign_string"));
        expect(r.summary).not.toContain(SECRET);
        const answer = await w.post(r.path, r.body);
        const parsed = JSON.parse(answer.body) as unknown;
        const ok = r.accept(answer.status, parsed);
        if (!ok) failed.push(`${r.name}: ${answer.body}`);
        return { ok, status: answer.status, answer: parsed };
      },
    });
    expect(failed).toEqual([]);
    expect(notes).toEqual([]);
    const expected: Record<string, string> = { succeeded: "paid", cancelled: "awaiting_payment", "bad-signature": "awaiting_payment", repeat: "paid", "wrong-amount": "paid" };
    expect(w.order("sim-1")!.status).toBe(expected[name]);
  });

  test("requires the service id and the secret key", () => {
    expect(clickModule.simulator.missing(clickConfig.schema.parse({}) as ClickConfig)).toMatchObject({ variable: "CLICK_SERVICE_ID" });
    expect(clickModule.simulator.missing(clickConfig.schema.parse({ CLICK_SERVICE_ID: "1" }) as ClickConfig)).toMatchObject({ variable: "CLICK_SECRET_KEY" });
    expect(clickModule.simulator.missing(world().config)).toBeNull();
  });
});

describe("configuration (docs/protocols/click.md#configuration)", () => {
  const parse = (env: Record<string, string>) => clickConfig.schema.safeParse(env);
  test("enabled with the service id and the secret key; CLICK_RPC_TIMEOUT_MS defaults to 5000", () => {
    const c = parse({ CLICK_SERVICE_ID: "12345", CLICK_SECRET_KEY: "k" });
    expect(c.success && c.data.CLICK_RPC_TIMEOUT_MS).toBe(5000);
    expect(c.success && clickConfig.enabled(c.data)).toBe(true);
    expect(clickModule.ingress.requestReply?.timeoutMs(c.success ? c.data : ({} as ClickConfig))).toBe(5000);
    const half = parse({ CLICK_SERVICE_ID: "12345" });
    expect(half.success && clickConfig.enabled(half.data)).toBe(false);
    expect(clickConfig.secrets).toEqual(["CLICK_SECRET_KEY"]);
  });
  test.each([
    ["CLICK_SERVICE_ID", "12a"],
    ["CLICK_SERVICE_ID", "0x10"],
    ["CLICK_MERCHANT_ID", "1e3"],
    ["CLICK_MERCHANT_USER_ID", " 1"],
    ["CLICK_RPC_TIMEOUT_MS", "99"],
    ["CLICK_RPC_TIMEOUT_MS", "60001"],
    ["CLICK_RPC_TIMEOUT_MS", "5e3"],
    ["CLICK_ALLOWED_IPS", "not-an-ip"],
  ])("%s=%j is refused", (name, value) => {
    expect(parse({ [name]: value }).success).toBe(false);
  });
  test("the module: id, routes, sensitive fields", () => {
    expect(clickModule.id).toBe("click");
    expect(clickModule.ingress.routes.map((r) => [r.path, r.methods])).toEqual([
      ["/webhooks/click/prepare", ["POST"]],
      ["/webhooks/click/complete", ["POST"]],
      ["/webhooks/click", ["POST"]],
    ]);
    expect(clickModule.sensitiveFields).toContain("sign_string");
    expect(clickModule.worker.kind).toBe("request-reply");
  });
});
