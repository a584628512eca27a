import type { ScenarioContext, SimulatedOrder, SimulatedRequest } from "@payhooks/core";
import { paymeConfig, type PaymeConfig } from "./config";
import { PAYME_ERRORS } from "./errors";
import { authenticate } from "./rpc";
import { paymeSimulator } from "./simulator";
import { PAYME_TIMEOUT_MS } from "./transaction";

const KEY = "sim&%#?@:payme-key-0123456789"; // ":" and URL-special characters must survive Basic auth
const config = (env: Record<string, string>): PaymeConfig => paymeConfig.schema.parse(env);

type Call = { method: string; params: Record<string, unknown>; id: number };
type Sent = { request: SimulatedRequest; call: Call; status: number; answer: unknown; ok: boolean };

/**
 * A ScenarioContext whose `send` answers as the ingress and a worker would: Basic auth checked
 * against the configured login and key (-32504), then one transaction on the order kept here.
 */
function fakeMerchant(cfg: PaymeConfig, order: SimulatedOrder, key = KEY) {
  const sent: Sent[] = [];
  const notes: string[] = [];
  let tx: { id: string; state: number } | null = null;
  const answer = (call: Call): { result?: Record<string, unknown>; error?: { code: number } } => {
    const p = call.params;
    const account = p["account"] as Record<string, unknown> | undefined;
    if (call.method === "CheckPerformTransaction" || call.method === "CreateTransaction") {
      if (account?.[cfg.PAYME_ACCOUNT_FIELD] !== order.orderId) return { error: { code: PAYME_ERRORS.ACCOUNT_INVALID } };
      if (p["amount"] !== order.amount) return { error: { code: PAYME_ERRORS.WRONG_AMOUNT } };
    }
    switch (call.method) {
      case "CheckPerformTransaction":
        return { result: { allow: true } };
      case "CreateTransaction":
        if (Date.now() - (p["time"] as number) > PAYME_TIMEOUT_MS) return { error: { code: PAYME_ERRORS.CANNOT_PERFORM } };
        tx = { id: p["id"] as string, state: 1 };
        return { result: { state: 1, transaction: "ph_0" } };
      case "PerformTransaction": {
        const current = tx;
        if (current === null || current.id !== p["id"] || current.state !== 1) return { error: { code: PAYME_ERRORS.CANNOT_PERFORM } };
        current.state = 2;
        return { result: { state: 2 } };
      }
      case "CancelTransaction": {
        const current = tx;
        if (current === null || current.id !== p["id"]) return { error: { code: PAYME_ERRORS.TRANSACTION_NOT_FOUND } };
        if (current.state === 2 && !order.refundable) return { error: { code: PAYME_ERRORS.CANNOT_CANCEL } };
        current.state = current.state === 2 ? -2 : -1;
        return { result: { state: current.state } };
      }
      default:
        return { error: { code: PAYME_ERRORS.METHOD_NOT_FOUND } };
    }
  };
  const ctx: ScenarioContext<PaymeConfig> = {
    config: cfg,
    order,
    async send(request) {
      const call = JSON.parse(request.body) as Call;
      const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v]));
      const who = authenticate(headers["authorization"], { login: cfg.PAYME_LOGIN, live: key, test: null });
      const body = { jsonrpc: "2.0", id: call.id, ...(who === "live" ? answer(call) : { error: { code: PAYME_ERRORS.INSUFFICIENT_PRIVILEGE } }) };
      const ok = request.accept(200, body);
      sent.push({ request, call, status: 200, answer: body, ok });
      return { ok, status: 200, answer: body };
    },
    now: Date.now,
    note: (line) => void notes.push(line),
  };
  return { ctx, sent, notes };
}

function orderFor(cfg: PaymeConfig, scenario: string): SimulatedOrder {
  const input = paymeSimulator.order(cfg, scenario);
  return { orderId: `sim-payme-${scenario}`, amount: input.amount, currency: input.currency, refundable: input.refundable ?? false, references: {}, source: "created" };
}

describe("paymeSimulator", () => {
  const cfg = config({ PAYME_KEY: KEY });

  it("orders 50 000 UZS with a fiscal item; refundable only for refund", () => {
    const order = paymeSimulator.order(cfg, "perform");
    expect(order).toEqual({
      amount: 5_000_000,
      currency: "UZS",
      items: [{ title: "Simulated order", price: 5_000_000, count: 1, code: "10899002001000000", package_code: "1501476", vat_percent: 12 }],
    });
    expect(paymeSimulator.order(cfg, "refund")).toMatchObject({ refundable: true });
  });

  it("needs PAYME_KEY", () => {
    expect(paymeSimulator.missing(config({}))).toEqual({ variable: "PAYME_KEY", why: "Payme calls authenticate with Basic auth Paycom:<PAYME_KEY>" });
    expect(paymeSimulator.missing(cfg)).toBeNull();
  });

  it.each([
    ["check", [["CheckPerformTransaction", { allow: true }]]],
    ["create", [["CheckPerformTransaction", { allow: true }], ["CreateTransaction", { state: 1 }]]],
    ["perform", [["CheckPerformTransaction", { allow: true }], ["CreateTransaction", { state: 1 }], ["PerformTransaction", { state: 2 }]]],
    ["cancel", [["CheckPerformTransaction", { allow: true }], ["CreateTransaction", { state: 1 }], ["CancelTransaction", { state: -1 }]]],
    ["refund", [["CheckPerformTransaction", { allow: true }], ["CreateTransaction", { state: 1 }], ["PerformTransaction", { state: 2 }], ["CancelTransaction", { state: -2 }]]],
  ] as const)("%s: authenticated calls for the order's amount and id, answered as expected", async (scenario, expected) => {
    const order = orderFor(cfg, scenario);
    const { ctx, sent, notes } = fakeMerchant(cfg, order);
    await paymeSimulator.scenarios[scenario]!.run(ctx);

    expect(sent.map((s) => [s.call.method, (s.answer as { result?: unknown }).result])).toEqual(expected.map(([m, r]) => [m, expect.objectContaining(r)]));
    expect(sent.every((s) => s.ok)).toBe(true);
    expect(sent.map((s) => s.call.id)).toEqual(expected.map((_, i) => i + 1));
    const ids = new Set<unknown>();
    for (const { request, call } of sent) {
      expect(request).toMatchObject({ name: call.method, path: "/webhooks/payme", headers: { "content-type": "text/json; charset=UTF-8" } });
      expect(request.settles).toBeUndefined(); // request–reply: nothing to wait for
      expect(request.summary).toMatch(/\(Basic Paycom:\*\*\*\)$/);
      expect(request.summary).not.toContain(KEY);
      if ("amount" in call.params) expect(call.params["amount"]).toBe(order.amount);
      if ("account" in call.params) expect(call.params["account"]).toEqual({ order_id: order.orderId });
      if ("id" in call.params) ids.add(call.params["id"]);
    }
    // One transaction, with a Payme-like 24-hex id.
    expect([...ids]).toEqual(scenario === "check" ? [] : [expect.stringMatching(/^[0-9a-f]{24}$/)]);
    if (scenario === "cancel") expect(sent[2]!.call.params["reason"]).toBe(3);
    if (scenario === "refund") expect(sent[3]!.call.params["reason"]).toBe(5);
    expect(notes).toEqual([]);
  });

  it("timeout: a Create 12 h old is expected to be refused with -31008, and the note says why the real expiry is not simulated", async () => {
    const { ctx, sent, notes } = fakeMerchant(cfg, orderFor(cfg, "timeout"));
    await paymeSimulator.scenarios["timeout"]!.run(ctx);
    expect(sent.map((s) => [s.call.method, s.ok])).toEqual([
      ["CheckPerformTransaction", true],
      ["CreateTransaction", true],
    ]);
    expect(sent[1]!.answer).toMatchObject({ error: { code: -31008 } });
    expect(Date.now() - (sent[1]!.call.params["time"] as number)).toBeGreaterThan(PAYME_TIMEOUT_MS);
    expect(notes.join("\n")).toMatch(/worker's clock.*CLOCK_OFFSET_MS/s);
  });

  it("uses PAYME_LOGIN and PAYME_ACCOUNT_FIELD", async () => {
    const custom = config({ PAYME_KEY: KEY, PAYME_LOGIN: "Merchant", PAYME_ACCOUNT_FIELD: "invoice" });
    const { ctx, sent } = fakeMerchant(custom, orderFor(custom, "check"));
    await paymeSimulator.scenarios["check"]!.run(ctx);
    expect(sent[0]!.ok).toBe(true);
    const auth = sent[0]!.request.headers["authorization"]!;
    expect(Buffer.from(auth.replace(/^Basic /, ""), "base64").toString("utf8")).toBe(`Merchant:${KEY}`);
    expect(sent[0]!.call.params["account"]).toEqual({ invoice: "sim-payme-check" });
    expect(sent[0]!.request.summary).toMatch(/invoice sim-payme-check \(Basic Merchant:\*\*\*\)$/);
  });

  it("a refused key stops the scenario at once, with a hint naming PAYME_KEY", async () => {
    const { ctx, sent } = fakeMerchant(cfg, orderFor(cfg, "perform"), "the-ingress-has-another-key");
    await paymeSimulator.scenarios["perform"]!.run(ctx);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ ok: false, answer: { error: { code: -32504 } } });
    expect(sent[0]!.request.hint?.(200, sent[0]!.answer)).toMatch(/^-32504: .*PAYME_KEY/);
  });

  it("a performed, non-refundable order cannot be refunded: the hint says why", async () => {
    const order = { ...orderFor(cfg, "refund"), refundable: false };
    const { ctx, sent } = fakeMerchant(cfg, order);
    await paymeSimulator.scenarios["refund"]!.run(ctx);
    expect(sent.at(-1)).toMatchObject({ call: { method: "CancelTransaction" }, ok: false });
    expect(sent.at(-1)!.request.hint?.(200, sent.at(-1)!.answer)).toMatch(/^-31007: .*refundable/);
  });

  it("has a one-line description per scenario", () => {
    expect(Object.keys(paymeSimulator.scenarios)).toEqual(["check", "create", "perform", "cancel", "refund", "timeout"]);
    for (const s of Object.values(paymeSimulator.scenarios)) expect(s.description).toMatch(/^[^\n]{10,120}$/);
  });
});
