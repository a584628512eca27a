/**
 * The RoboKassa module's own parts, pure: `accept` on ResultURL (Password #2, the one notice
 * that is queued), SuccessURL (Password #1, a page or a redirect, never a job) and FailURL
 * (unsigned, a page or a redirect), live and test passwords; and the worker's `interpret`.
 */
import { PayloadValidationError, type Envelope, type IngressDecision, type IngressPart, type WebhookRequest } from "@payhooks/core";
import { ROBOKASSA_FAIL_PATH, ROBOKASSA_RESULT_PATH, ROBOKASSA_SUCCESS_PATH, robokassaModule } from "./module";
import { signForTest } from "./verify";

const P1 = "rk-module-pass-1";
const P2 = "rk-module-pass-2";
const TP1 = "rk-module-test-pass-1";
const TP2 = "rk-module-test-pass-2";
const NOW = 1_700_000_000_000;

const configOf = (env: Record<string, string> = {}) =>
  robokassaModule.config.schema.parse({ ROBOKASSA_PASSWORD1: P1, ROBOKASSA_PASSWORD2: P2, ROBOKASSA_ORDER_PARAM: "Shp_order_id", ...env });
const stateOf = (env: Record<string, string> = {}) => {
  const config = configOf(env);
  if (!robokassaModule.config.enabled(config)) throw new Error("RoboKassa not enabled by its passwords");
  return robokassaModule.ingress.setup({ config, redis: null as never, prefix: "t", logger: null as never });
};

const withTest = stateOf({ ROBOKASSA_TEST_PASSWORD1: TP1, ROBOKASSA_TEST_PASSWORD2: TP2 });
const liveOnly = stateOf();

const notice = (over: Record<string, string> = {}) => ({ OutSum: "100.000000", InvId: "450009", Shp_order_id: "ord-1", ...over });

function request(path: string, params: Record<string, string>, method: "GET" | "POST" = "POST"): WebhookRequest {
  const form = new URLSearchParams(params).toString();
  return {
    method,
    path,
    query: method === "GET" ? form : "",
    rawBody: Buffer.from(method === "POST" ? form : ""),
    headers: { "content-type": "application/x-www-form-urlencoded", "user-agent": "RK" },
    ip: "127.0.0.1",
    now: NOW,
  };
}

const accept = (req: WebhookRequest, s = withTest) => robokassaModule.ingress.accept(req, s) as IngressDecision;
function replied(d: IngressDecision) {
  if (d.kind !== "reply") throw new Error(`expected a reply, got ${d.kind}`);
  return d.reply;
}

describe("ResultURL", () => {
  it("a notice signed with Password #2 → enqueue robokassa-live-{InvId}, answered OK{InvId}", () => {
    const params = signForTest(notice(), P2);
    const d = accept(request(ROBOKASSA_RESULT_PATH, params));
    if (d.kind !== "enqueue") throw new Error(d.kind);
    expect(d.jobId).toBe("robokassa-live-450009");
    expect(d.jobName).toBe("robokassa.result");
    expect(d.delivery).toEqual({
      rawBody: new URLSearchParams(params).toString(),
      payload: params,
      headers: { "content-type": "application/x-www-form-urlencoded", "user-agent": "RK" },
      livemode: true,
    });
    expect(d.reply).toMatchObject({ status: 200, body: "OK450009" });
  });

  it("the same notice by GET query is the same job", () => {
    const d = accept(request(ROBOKASSA_RESULT_PATH, signForTest(notice(), P2), "GET"));
    expect(d.kind === "enqueue" && d.jobId).toBe("robokassa-live-450009");
  });

  it("signed with Password #1, or altered after signing → 400 bad sign (never OK), rejected_signature", () => {
    for (const params of [signForTest(notice(), P1), { ...signForTest(notice(), P2), OutSum: "1000.000000" }]) {
      const r = replied(accept(request(ROBOKASSA_RESULT_PATH, params)));
      expect(r).toMatchObject({ status: 400, body: "bad sign", outcome: "rejected_signature" });
    }
  });

  it("a missing or malformed parameter → 400 naming it, before the signature", () => {
    expect(replied(accept(request(ROBOKASSA_RESULT_PATH, { OutSum: "1", InvId: "2" }))).body).toBe("missing SignatureValue");
    expect(replied(accept(request(ROBOKASSA_RESULT_PATH, signForTest(notice({ InvId: "12a" }), P2)))).body).toBe("bad InvId");
    expect(replied(accept(request(ROBOKASSA_RESULT_PATH, signForTest(notice({ OutSum: "1e3" }), P2)))).body).toBe("bad OutSum");
  });

  it("IsTest=1 is verified with the test Password #2 → robokassa-test-{InvId}, livemode false", () => {
    const d = accept(request(ROBOKASSA_RESULT_PATH, signForTest(notice({ IsTest: "1" }), TP2)));
    if (d.kind !== "enqueue") throw new Error(d.kind);
    expect(d.jobId).toBe("robokassa-test-450009");
    expect(d.delivery.livemode).toBe(false);
    // The live password does not verify a test notice, nor a test password a live one.
    expect(replied(accept(request(ROBOKASSA_RESULT_PATH, signForTest(notice({ IsTest: "1" }), P2)))).body).toBe("bad sign");
    expect(replied(accept(request(ROBOKASSA_RESULT_PATH, signForTest(notice(), TP2)))).body).toBe("bad sign");
  });

  it("IsTest=1 without test passwords configured → refused, even signed with the live Password #2", () => {
    const r = replied(accept(request(ROBOKASSA_RESULT_PATH, signForTest(notice({ IsTest: "1" }), P2)), liveOnly));
    expect(r.status).toBe(400);
    expect(r.body).toMatch(/^test notices are not accepted/);
    expect(r.outcome).toBe("rejected_signature");
  });
});

describe("SuccessURL (the payer's browser)", () => {
  it("signed with Password #1 → a thank-you page naming the order; never a job", () => {
    const r = replied(accept(request(ROBOKASSA_SUCCESS_PATH, signForTest(notice(), P1), "GET")));
    expect(r).toMatchObject({ status: 200, contentType: "text/html; charset=utf-8" });
    expect(r.body).toContain("order ord-1");
  });

  it("signed with Password #2 (or unsigned) → 400 page", () => {
    expect(replied(accept(request(ROBOKASSA_SUCCESS_PATH, signForTest(notice(), P2), "GET"))).status).toBe(400);
    expect(replied(accept(request(ROBOKASSA_SUCCESS_PATH, notice(), "GET"))).status).toBe(400);
  });

  it("IsTest=1 is checked with the test Password #1", () => {
    expect(replied(accept(request(ROBOKASSA_SUCCESS_PATH, signForTest(notice({ IsTest: "1" }), TP1), "GET"))).status).toBe(200);
    expect(replied(accept(request(ROBOKASSA_SUCCESS_PATH, signForTest(notice({ IsTest: "1" }), P1), "GET"))).status).toBe(400);
    expect(replied(accept(request(ROBOKASSA_SUCCESS_PATH, signForTest(notice({ IsTest: "1" }), TP1), "GET"), liveOnly)).status).toBe(400);
  });

  it("with ROBOKASSA_SUCCESS_REDIRECT → 303 to the shop, order_id added, its own query kept", () => {
    const s = stateOf({ ROBOKASSA_SUCCESS_REDIRECT: "https://shop.example/thanks?lang=ru" });
    const r = replied(accept(request(ROBOKASSA_SUCCESS_PATH, signForTest(notice(), P1), "GET"), s));
    expect(r.status).toBe(303);
    expect(r.headers).toEqual({ location: "https://shop.example/thanks?lang=ru&order_id=ord-1" });
    // An unverified link is never redirected with its order.
    expect(replied(accept(request(ROBOKASSA_SUCCESS_PATH, notice(), "GET"), s)).status).toBe(400);
  });
});

describe("FailURL (unsigned)", () => {
  it("a page naming the order", () => {
    const r = replied(accept(request(ROBOKASSA_FAIL_PATH, { InvId: "450009", Shp_order_id: "ord-1" }, "GET")));
    expect(r).toMatchObject({ status: 200, contentType: "text/html; charset=utf-8" });
    expect(r.body).toContain("order ord-1");
    // An unsigned value that is no order id is not shown as one.
    expect(replied(accept(request(ROBOKASSA_FAIL_PATH, { InvId: "1", Shp_order_id: "<script>" }, "GET"))).body).not.toContain("<script>");
  });

  it("with ROBOKASSA_FAIL_REDIRECT → 303; an order id that is no order id is not passed on", () => {
    const s = stateOf({ ROBOKASSA_FAIL_REDIRECT: "https://shop.example/failed" });
    expect(replied(accept(request(ROBOKASSA_FAIL_PATH, { InvId: "1", Shp_order_id: "ord-9" }, "GET"), s)).headers).toEqual({ location: "https://shop.example/failed?order_id=ord-9" });
    expect(replied(accept(request(ROBOKASSA_FAIL_PATH, { InvId: "1", Shp_order_id: "<b>" }, "GET"), s)).headers).toEqual({ location: "https://shop.example/failed" });
  });

  it("only ResultURL is counted as provider traffic", () => {
    expect(robokassaModule.ingress.routes.map((r) => [r.path, r.counted ?? true])).toEqual([
      [ROBOKASSA_RESULT_PATH, true],
      [ROBOKASSA_SUCCESS_PATH, false],
      [ROBOKASSA_FAIL_PATH, false],
    ]);
  });
});

describe("refusals", () => {
  it("never start with OK (RoboKassa would take that as accepted)", () => {
    const r = request(ROBOKASSA_RESULT_PATH, notice());
    const refusals: IngressPart<unknown, unknown>["refusals"] = robokassaModule.ingress.refusals;
    const all = [refusals.notConfigured(r), refusals.badBody(r, 413), refusals.badBody(r, 415), refusals.methodNotAllowed(r), refusals.unavailable(r)];
    for (const reply of all) expect(reply.body.startsWith("OK")).toBe(false);
    expect(all.map((x) => x.status)).toEqual([503, 413, 415, 405, 503]);
  });
});

describe("worker.interpret", () => {
  const envelope = (payload: Record<string, string>): Envelope => ({
    provider: "robokassa",
    deliveryId: "d",
    receivedAt: NOW,
    rawBody: new URLSearchParams(payload).toString(),
    payload,
    headers: {},
  });

  it("a live notice → the InvId's payment, for the Shp order, decided in the shop's currency", () => {
    const change = robokassaModule.worker.interpret(envelope(signForTest(notice(), P2)), configOf());
    expect(change).toMatchObject({ provider: "robokassa", providerPaymentId: "450009", orderId: "ord-1", livemode: true });
    expect(change.decide({ payment: null, order: null })).toMatchObject({ kind: "applied", payment: { facts: { status: "succeeded", settled: 10_000, currency: "RUB", livemode: true } } });
  });

  it("a test notice → its own test- payment; without ROBOKASSA_ORDER_PARAM the InvId is the order", () => {
    const noOrderParam = robokassaModule.config.schema.parse({ ROBOKASSA_PASSWORD1: P1, ROBOKASSA_PASSWORD2: P2 });
    const change = robokassaModule.worker.interpret(envelope(signForTest(notice({ IsTest: "1" }), TP2)), noOrderParam);
    expect(change).toMatchObject({ providerPaymentId: "test-450009", livemode: false, orderId: "450009" });
  });

  it("a payload it cannot read → PayloadValidationError", () => {
    expect(() => robokassaModule.worker.interpret(envelope({ OutSum: "1" }), configOf())).toThrow(PayloadValidationError);
  });
});
