import type { ScenarioContext, SimulatedOrder, SimulatedRequest } from "@payhooks/core";
import { payramConfig, type PayramConfig } from "./config";
import { payramSimulator } from "./simulator";
import { PAYRAM_API_KEY_HEADER, PAYRAM_SIGNATURE_HEADER, verifyPayramRequest } from "./verify";

const SECRET = "pk_live_sim_3c9f1e0a7b5d4c2e8f6a1b3d";
const config = (env: Record<string, string>): PayramConfig => payramConfig.schema.parse(env);

type Sent = { request: SimulatedRequest; status: number; answer: unknown; ok: boolean };

/** A ScenarioContext whose `send` answers as the ingress's Payram route would, verifying with `secret`. */
function fakeIngress(cfg: PayramConfig, order: SimulatedOrder, secret = SECRET) {
  const sent: Sent[] = [];
  const notes: string[] = [];
  const ctx: ScenarioContext<PayramConfig> = {
    config: cfg,
    order,
    now: Date.now,
    async send(request) {
      const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v]));
      const verified = verifyPayramRequest({ rawBody: Buffer.from(request.body, "utf8"), headers, secrets: [secret], now: Date.now() });
      const [status, answer] = verified.ok ? [200, { message: "Webhook received successfully" }] : [401, { error: verified.reason }];
      const ok = request.accept(status, answer);
      sent.push({ request, status, answer, ok });
      return { ok, status, answer };
    },
    note: (line) => void notes.push(line),
  };
  return { ctx, sent, notes };
}

function orderFor(cfg: PayramConfig, scenario: string, source: SimulatedOrder["source"] = "created"): SimulatedOrder {
  const input = payramSimulator.order(cfg, scenario);
  return { orderId: `sim-payram-${scenario}`, amount: input.amount, currency: input.currency, refundable: input.refundable ?? false, references: input.references ?? {}, source };
}

describe("payramSimulator", () => {
  const cfg = config({ PAYRAM_WEBHOOK_SECRET: SECRET });

  it("orders 49.99 USD with a fresh Payram reference (how Payram names the order)", () => {
    const a = payramSimulator.order(cfg, "filled");
    const b = payramSimulator.order(cfg, "filled");
    expect(a).toMatchObject({ amount: 4_999, currency: "USD", references: { payram: expect.stringMatching(/^[0-9a-f-]{36}$/) } });
    expect(a.references?.payram).not.toBe(b.references?.payram);
    expect(payramSimulator.orderIds).toBeUndefined();
  });

  it("needs PAYRAM_WEBHOOK_SECRET", () => {
    expect(payramSimulator.missing(config({}))).toEqual({ variable: "PAYRAM_WEBHOOK_SECRET", why: "Payram webhooks are signed with the project API key" });
    expect(payramSimulator.missing(cfg)).toBeNull();
  });

  it.each([
    ["filled", [["OPEN", "0.00"], ["FILLED", "49.99"]]],
    ["partial", [["OPEN", "0.00"], ["PARTIALLY_FILLED", "19.99"], ["FILLED", "49.99"]]],
    ["overpaid", [["OPEN", "0.00"], ["OVER_FILLED", "54.99"]]],
  ])("%s: signed notices for the order's reference and amount, each waiting for the worker", async (scenario, fills) => {
    const order = orderFor(cfg, scenario);
    const { ctx, sent, notes } = fakeIngress(cfg, order);
    await payramSimulator.scenarios[scenario]!.run(ctx);

    expect(sent.map((s) => [s.request.name, s.status, s.ok])).toEqual(fills.map(([status]) => [status, 200, true]));
    for (const [i, { request }] of sent.entries()) {
      expect(request.path).toBe("/webhooks/payram");
      expect(request.method ?? "POST").toBe("POST");
      expect(request.headers[PAYRAM_SIGNATURE_HEADER]).toMatch(/^sha256=[0-9a-f]{64}$/);
      expect(request.headers[PAYRAM_API_KEY_HEADER]).toBeUndefined(); // never the key itself
      expect(JSON.parse(request.body)).toMatchObject({
        reference_id: order.references.payram,
        invoice_id: `INV-${order.orderId}`,
        status: fills[i]![0],
        amount: "49.99",
        filled_amount: fills[i]![1],
        filled_amount_in_usd: fills[i]![1],
        currency: "USD",
      });
      expect(request.settles).toEqual({ paymentId: order.references.payram, providerStatus: fills[i]![0] });
      expect(request.summary).not.toContain(SECRET);
    }
    expect(notes).toEqual([]);
  });

  it("a refused signature stops the scenario, with a hint naming the variable", async () => {
    const order = orderFor(cfg, "filled");
    const { ctx, sent } = fakeIngress(cfg, order, "someone-elses-key");
    await payramSimulator.scenarios["filled"]!.run(ctx);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ status: 401, answer: { error: "no_matching_signature" }, ok: false });
    expect(sent[0]!.request.hint?.(401, sent[0]!.answer)).toMatch(/PAYRAM_WEBHOOK_SECRET/);
  });

  it("says a new reference cannot be matched when the order is only assumed", async () => {
    const { ctx, notes } = fakeIngress(cfg, orderFor(cfg, "filled", "assumed"));
    await payramSimulator.scenarios["filled"]!.run(ctx);
    expect(notes).toEqual([expect.stringMatching(/^Payram: reference_id [0-9a-f-]{36} is new, so the payment cannot be matched to an order\.$/)]);
  });

  it("has a one-line description per scenario", () => {
    expect(Object.keys(payramSimulator.scenarios)).toEqual(["filled", "partial", "overpaid"]);
    for (const s of Object.values(payramSimulator.scenarios)) expect(s.description).toMatch(/^[^\n]{10,120}$/);
  });
});
