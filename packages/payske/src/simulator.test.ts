import type { ScenarioContext, SimulatedOrder, SimulatedRequest, SimulatorPart } from "@payhooks/core";
import { payskeConfigFor } from "./config";
import { payskeSimulatorFor } from "./simulator";
import { verifyPayskeSignature } from "./verify";

const CURRENT = "whsec_simCurrentSecret0123456789abcdef";
const OLDER = "whsec_simOlderSecret9876543210";

/** Payske's own endpoint and, through the same factory, Stripe's. */
const ENDPOINTS = [
  { prefix: "PAYSKE", provider: "payske", path: "/webhooks/payske", signatureHeader: "payske-signature" },
  { prefix: "STRIPE", provider: "stripe", path: "/webhooks/stripe", signatureHeader: "stripe-signature" },
] as const;

function endpoint(e: (typeof ENDPOINTS)[number]) {
  const configFor = payskeConfigFor(e.prefix, e.provider);
  type Config = Parameters<typeof configFor.settings>[0];
  const simulator: SimulatorPart<Config> = payskeSimulatorFor({
    provider: e.provider,
    path: e.path,
    signatureHeader: e.signatureHeader,
    settings: configFor.settings,
    secretVariable: configFor.names.secret,
  });
  const config = (env: Record<string, string>): Config => configFor.part.schema.parse(env);
  return { ...e, configFor, simulator, config };
}

type Sent = { request: SimulatedRequest; status: number; answer: unknown; ok: boolean };

/** A ScenarioContext whose `send` answers as the ingress's route would: verified against `secrets`, else 400. */
function fakeIngress<C>(config: C, order: SimulatedOrder, route: { path: string; signatureHeader: string }, secrets: string[], toleranceSeconds: number) {
  const sent: Sent[] = [];
  const ctx: ScenarioContext<C> = {
    config,
    order,
    now: Date.now,
    async send(request) {
      const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v]));
      const verified =
        request.path === route.path
          ? verifyPayskeSignature({ rawBody: Buffer.from(request.body, "utf8"), header: headers[route.signatureHeader], secrets, now: Date.now(), toleranceSeconds })
          : ({ ok: false, reason: "not_found" } as const);
      const [status, answer] = verified.ok ? [200, { received: true }] : [400, { error: verified.reason }];
      const ok = request.accept(status, answer);
      sent.push({ request, status, answer, ok });
      return { ok, status, answer };
    },
    note: () => undefined,
  };
  return { ctx, sent };
}

const orderFrom = (input: { amount: number; currency: string }, orderId: string): SimulatedOrder => ({
  orderId,
  amount: input.amount,
  currency: input.currency,
  refundable: false,
  references: {},
  source: "created",
});

describe.each(ENDPOINTS)("payskeSimulatorFor($provider)", (e) => {
  const { simulator, config, configFor } = endpoint(e);
  const env = { [configFor.names.secret]: `${CURRENT},${OLDER}`, [configFor.names.orderKey]: "shop_order" };
  const cfg = config(env);

  it(`needs ${e.prefix}_WEBHOOK_SECRET`, () => {
    expect(simulator.missing(config({}))).toEqual({ variable: `${e.prefix}_WEBHOOK_SECRET`, why: expect.stringMatching(/deliveries are signed with the endpoint secret$/) });
    expect(simulator.missing(cfg)).toBeNull();
  });

  it("orders 49.99 USD", () => {
    expect(simulator.order(cfg, "succeeded")).toEqual({ amount: 4_999, currency: "USD" });
  });

  it.each([
    ["succeeded", [["payment_intent.succeeded", "succeeded"]]],
    ["refunded", [["payment_intent.succeeded", "succeeded"], ["charge.refunded", "refunded"]]],
    ["failed", [["payment_intent.payment_failed", "failed"]]],
    ["checkout", [["checkout.session.completed", "succeeded"]]],
  ])("%s: events signed on the endpoint's header, for the order's amount and id", async (scenario, expected) => {
    const order = orderFrom(simulator.order(cfg, scenario), `sim-${e.provider}-${scenario}`);
    // The ingress accepts only the current secret here: the simulator signs with the first.
    const { ctx, sent } = fakeIngress(cfg, order, e, [CURRENT], 300);
    await simulator.scenarios[scenario]!.run(ctx);

    expect(sent.map((s) => [s.request.name, s.status, s.ok])).toEqual(expected.map(([type]) => [type, 200, true]));
    const pi = (JSON.parse(sent[0]!.request.body) as { data: { object: { id: string; payment_intent?: string } } }).data.object;
    const paymentIntent = pi.payment_intent ?? pi.id;
    for (const [i, { request }] of sent.entries()) {
      expect(request.path).toBe(e.path);
      expect(Object.keys(request.headers).sort()).toEqual(["content-type", e.signatureHeader].sort());
      expect(request.headers[e.signatureHeader]).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      expect(request.summary).not.toContain(CURRENT);
      const event = JSON.parse(request.body) as { id: string; type: string; data: { object: Record<string, unknown> } };
      expect(event).toMatchObject({ object: "event", type: expected[i]![0], livemode: true });
      expect(event.id).toMatch(/^evt_1[0-9A-Za-z]{24}$/);
      const object = event.data.object;
      expect(object["currency"]).toBe("usd");
      if (scenario === "checkout") {
        expect(object).toMatchObject({ client_reference_id: order.orderId, amount_total: 4_999, payment_status: "paid", metadata: {} });
      } else {
        expect(object).toMatchObject({ amount: 4_999, metadata: { shop_order: order.orderId } });
      }
      if (event.type === "charge.refunded") expect(object).toMatchObject({ amount_refunded: 4_999, payment_intent: paymentIntent });
      if (event.type === "payment_intent.succeeded") expect(object).toMatchObject({ amount_received: 4_999 });
      if (event.type === "payment_intent.payment_failed") expect(object).toMatchObject({ amount_received: 0, last_payment_error: { code: "card_declined" } });
      expect(request.settles).toEqual({ paymentId: paymentIntent, providerStatus: expected[i]![1] });
    }
    expect(paymentIntent).toMatch(/^pi_3[0-9A-Za-z]{24}$/);
  });

  it("a refused signature stops the scenario, with a hint naming the variable", async () => {
    const order = orderFrom(simulator.order(cfg, "refunded"), "sim-refused");
    const { ctx, sent } = fakeIngress(cfg, order, e, ["whsec_notTheEndpointSecret000000"], 300);
    await simulator.scenarios["refunded"]!.run(ctx);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ status: 400, answer: { error: "no_matching_signature" }, ok: false });
    expect(sent[0]!.request.hint?.(400, sent[0]!.answer)).toContain(`check ${e.prefix}_WEBHOOK_SECRET`);
  });

  it("has a one-line description per scenario", () => {
    expect(Object.keys(simulator.scenarios)).toEqual(["succeeded", "refunded", "failed", "checkout"]);
    for (const s of Object.values(simulator.scenarios)) expect(s.description).toMatch(/^[^\n]{10,120}$/);
  });
});
