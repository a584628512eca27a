import type { ScenarioContext, SimulatedOrder, SimulatedRequest } from "@payhooks/core";
import { robokassaConfig, type RobokassaConfig } from "./config";
import { outSumMinor } from "./decide";
import { firstValues, readNotice } from "./notice";
import { robokassaSimulator } from "./simulator";
import { verifyRobokassaSignature } from "./verify";

const PASSWORDS = {
  ROBOKASSA_PASSWORD1: "sim-rk-pass-1",
  ROBOKASSA_PASSWORD2: "sim-rk-pass-2-Пароль#2",
  ROBOKASSA_TEST_PASSWORD1: "sim-rk-test-1",
  ROBOKASSA_TEST_PASSWORD2: "sim-rk-test-2",
};
const config = (env: Record<string, string>): RobokassaConfig => robokassaConfig.schema.parse(env);

type Sent = { request: SimulatedRequest; status: number; answer: unknown; ok: boolean; params: Record<string, string> };

/**
 * A ScenarioContext whose `send` answers as the ingress's ResultURL route would: the notice read,
 * its signature checked with the live or (IsTest=1) test Password #2 — `bad sign` when it fails —
 * then `OK{InvId}`. The ingress's configuration may differ from the simulator's.
 */
function fakeIngress(cfg: RobokassaConfig, order: SimulatedOrder, ingress: RobokassaConfig = cfg) {
  const sent: Sent[] = [];
  const notes: string[] = [];
  const ctx: ScenarioContext<RobokassaConfig> = {
    config: cfg,
    order,
    async send(request) {
      const params = firstValues(new URLSearchParams(request.body));
      const read = readNotice(params, ingress.ROBOKASSA_ORDER_PARAM ?? null);
      const password = params["IsTest"] === "1" ? ingress.ROBOKASSA_TEST_PASSWORD2 : ingress.ROBOKASSA_PASSWORD2;
      const [status, answer] = !read.ok
        ? [400, read.reason]
        : password === undefined || !verifyRobokassaSignature({ params, password, algorithm: ingress.ROBOKASSA_HASH })
          ? [400, "bad sign"]
          : [200, `OK${read.notice.invId}`];
      const ok = request.accept(status, answer);
      sent.push({ request, status, answer, ok, params });
      return { ok, status, answer };
    },
    now: Date.now,
    note: (line) => void notes.push(line),
  };
  return { ctx, sent, notes };
}

const orderFor = (cfg: RobokassaConfig, scenario: string, orderId: string): SimulatedOrder => {
  const input = robokassaSimulator.order(cfg, scenario);
  return { orderId, amount: input.amount, currency: input.currency, refundable: false, references: {}, source: "created" };
};

describe("robokassaSimulator", () => {
  const cfg = config({ ...PASSWORDS, ROBOKASSA_HASH: "sha256" });

  it("orders 1 500 in the shop's currency, named by a numeric InvId unless ROBOKASSA_ORDER_PARAM is set", () => {
    expect(robokassaSimulator.order(cfg, "result")).toEqual({ amount: 150_000, currency: "RUB" });
    expect(robokassaSimulator.order(config({ ROBOKASSA_CURRENCY: "KZT" }), "result")).toEqual({ amount: 150_000, currency: "KZT" });
    expect(robokassaSimulator.orderIds?.(cfg)).toBe("numeric");
    expect(robokassaSimulator.orderIds?.(config({ ROBOKASSA_ORDER_PARAM: "Shp_order" }))).toBe("any");
  });

  it("each scenario needs its own Password #2", () => {
    expect(robokassaSimulator.missing(config({}))).toBeNull();
    const { result, test } = robokassaSimulator.scenarios;
    expect(result!.missing?.(config({}))).toEqual({ variable: "ROBOKASSA_PASSWORD2", why: "a ResultURL notice is signed with Password #2" });
    expect(test!.missing?.(config({ ROBOKASSA_PASSWORD1: "a", ROBOKASSA_PASSWORD2: "b" }))).toEqual({
      variable: "ROBOKASSA_TEST_PASSWORD2",
      why: "an IsTest=1 notice is signed with the test Password #2",
    });
    expect(result!.missing?.(cfg)).toBeNull();
    expect(test!.missing?.(cfg)).toBeNull();
  });

  it("result: a notice signed with Password #2 for the order's OutSum, InvId = order id", async () => {
    const order = orderFor(cfg, "result", "1234567890");
    const { ctx, sent, notes } = fakeIngress(cfg, order);
    await robokassaSimulator.scenarios["result"]!.run(ctx);
    expect(sent).toHaveLength(1);
    const [{ request, params, status, answer, ok }] = sent as [Sent];
    expect({ status, answer, ok }).toEqual({ status: 200, answer: "OK1234567890", ok: true });
    expect(request).toMatchObject({ name: "ResultURL", path: "/webhooks/robokassa/result", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(params).toMatchObject({ OutSum: "1500.000000", InvId: order.orderId, Fee: "58.500000" });
    expect(params["IsTest"]).toBeUndefined();
    expect(params["SignatureValue"]).toMatch(/^[0-9A-F]{64}$/);
    expect(outSumMinor(params["OutSum"]!, order.currency)).toBe(order.amount);
    expect(request.settles).toEqual({ paymentId: order.orderId });
    expect(request.summary).not.toContain(PASSWORDS.ROBOKASSA_PASSWORD2);
    expect(notes).toEqual([]);
  });

  it("result with ROBOKASSA_ORDER_PARAM: the Shp parameter names the order, InvId is a fresh number", async () => {
    const withParam = config({ ...PASSWORDS, ROBOKASSA_ORDER_PARAM: "Shp_order" });
    const order = orderFor(withParam, "result", "shop-order-42");
    const { ctx, sent } = fakeIngress(withParam, order);
    await robokassaSimulator.scenarios["result"]!.run(ctx);
    const [{ params, ok, request }] = sent as [Sent];
    expect(ok).toBe(true);
    expect(params["Shp_order"]).toBe("shop-order-42");
    expect(params["InvId"]).toMatch(/^\d{9,10}$/);
    expect(Number(params["InvId"])).toBeLessThanOrEqual(2_147_483_647);
    expect(readNotice(params, "Shp_order")).toMatchObject({ ok: true, notice: { orderId: "shop-order-42" } });
    expect(request.settles).toEqual({ paymentId: params["InvId"] });
  });

  it("test: IsTest=1, signed with the test Password #2 (the live one would not verify), recorded as test-{InvId}", async () => {
    const order = orderFor(cfg, "test", "987654321");
    const { ctx, sent, notes } = fakeIngress(cfg, order);
    await robokassaSimulator.scenarios["test"]!.run(ctx);
    const [{ params, ok, request }] = sent as [Sent];
    expect(ok).toBe(true);
    expect(request.name).toBe("ResultURL (IsTest=1)");
    expect(params["IsTest"]).toBe("1");
    expect(verifyRobokassaSignature({ params, password: PASSWORDS.ROBOKASSA_PASSWORD2, algorithm: "sha256" })).toBe(false);
    expect(request.settles).toEqual({ paymentId: "test-987654321" });
    expect(notes).toEqual([expect.stringMatching(/^test: IsTest=1 notices are recorded/)]);
  });

  it("a refused signature stops with a hint; nothing else is noted", async () => {
    const order = orderFor(cfg, "result", "1234567891");
    const { ctx, sent, notes } = fakeIngress(cfg, order, config({ ...PASSWORDS, ROBOKASSA_HASH: "md5" }));
    await robokassaSimulator.scenarios["result"]!.run(ctx);
    expect(sent[0]).toMatchObject({ status: 400, answer: "bad sign", ok: false });
    expect(sent[0]!.request.hint?.(400, "bad sign")).toMatch(/ROBOKASSA_PASSWORD2, ROBOKASSA_HASH and ROBOKASSA_ORDER_PARAM/);
    expect(sent[0]!.request.hint?.(503, "")).toMatch(/^503: RoboKassa is not configured/);
    expect(notes).toEqual([]);
  });

  it("notes an order in another currency than the shop's", async () => {
    const order = { ...orderFor(cfg, "result", "1234567892"), currency: "USD" };
    const { ctx, notes } = fakeIngress(cfg, order);
    await robokassaSimulator.scenarios["result"]!.run(ctx);
    expect(notes).toEqual(["the order is in USD, the shop in RUB (ROBOKASSA_CURRENCY): expect payment.amount_mismatch."]);
  });
});
