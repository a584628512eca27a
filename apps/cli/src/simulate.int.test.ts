/**
 * `payhooks simulate`: every scenario played at real ingress and worker processes on a private
 * redis-server, every provider configured (Payske and Stripe itself with different secrets). What the simulator reports is checked against
 * the order the admin API shows afterwards.
 */
import { resolve } from "node:path";
import type { OrderView } from "@payhooks/core";
import {
  adminClient,
  removeRedisServer,
  spawnNode,
  startIngress,
  startRedisServer,
  startWorker,
  waitFor,
  type NodeProcess,
  type RedisServer,
} from "@payhooks/testing";
import { SimulationError, formatReport, scenariosOf, simulate, type SimulateOptions, type SimulationReport } from "./simulate";
// STAND-IN until the registry lands: becomes `import { PROVIDERS, loadConfig } from "@payhooks/providers";`
import { PROVIDERS, loadConfig } from "@payhooks/providers";

const ADMIN_TOKEN = "sim-admin-token-0123456789";
const SECRETS = {
  PAYME_KEY: "sim&%#?@:payme-key-0123456789", // ":" and URL-special characters must survive Basic auth
  PAYRAM_WEBHOOK_SECRET: "sim-payram-project-api-key",
  // A rotation in progress: the simulator signs with the first, the ingress accepts both.
  PAYSKE_WEBHOOK_SECRET: "whsec_simCurrentSecret0123456789abcdef,whsec_simOlderSecret9876543210",
  ROBOKASSA_PASSWORD1: "sim-rk-pass-1",
  ROBOKASSA_PASSWORD2: "sim-rk-pass-2-Пароль#2",
  ROBOKASSA_TEST_PASSWORD1: "sim-rk-test-1",
  ROBOKASSA_TEST_PASSWORD2: "sim-rk-test-2",
  ROBOKASSA_HASH: "sha256",
  STRIPE_WEBHOOK_SECRET: "whsec_simStripeLiveSecret0123456789abcd",
  CLICK_SERVICE_ID: "30551",
  CLICK_SECRET_KEY: "sim-click-secret-Xq7pLmN2vR9s&=",
};

let redis: RedisServer;
let ingress: Awaited<ReturnType<typeof startIngress>>;
let worker: NodeProcess;
/** What `payhooks simulate` loads its configuration from: the ingress's secrets, the admin token and port. */
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  redis = await startRedisServer();
  const pipelineEnv = { REDIS_URL: redis.url, QUEUE_PREFIX: "sim", ADMIN_TOKEN, ...SECRETS };
  [ingress, worker] = await Promise.all([startIngress(pipelineEnv), startWorker(pipelineEnv)]);
  env = { ...SECRETS, ADMIN_TOKEN, ADMIN_PORT: new URL(ingress.adminUrl).port };
}, 20_000);

afterAll(async () => {
  await Promise.all([ingress?.proc.stop(), worker?.stop()]);
  if (redis) await removeRedisServer(redis);
});

const getOrder = (orderId: string): Promise<OrderView> => adminClient(ingress.adminUrl, ADMIN_TOKEN).getOrder(orderId);

async function putOrder(orderId: string, body: Record<string, unknown>): Promise<void> {
  expect(await adminClient(ingress.adminUrl, ADMIN_TOKEN).putOrder(orderId, body)).toBe(201);
}

/** `payhooks simulate`, with the configuration loaded from `extra.env` (default: the ingress's). */
const run = async (provider: string, scenario: string, { env: from = env, ...extra }: Partial<SimulateOptions> & { env?: NodeJS.ProcessEnv } = {}) =>
  simulate({ provider, scenario, url: ingress.url, providers: PROVIDERS, config: loadConfig(from), ...extra });

/** The report matches the order the admin API shows, step by step and at the end. */
async function expectEnd(report: SimulationReport, status: string, paidAmount: number): Promise<OrderView> {
  if (!report.ok) throw new Error(`simulation not ok:\n${formatReport(report)}`);
  expect(report.order.source).toBe("created");
  const order = await getOrder(report.order.orderId);
  expect({ status: order.status, paidAmount: order.paidAmount }).toEqual({ status, paidAmount });
  expect(report.finalOrder).toMatchObject({ status, paidAmount });
  return order;
}

const paymeAnswers = (r: SimulationReport) => r.steps.map((s) => [s.name, s.answer as { result?: Record<string, unknown>; error?: { code: number } }] as const);

describe("Payme", () => {
  it("check: allowed, with the fiscal detail; the order stays awaiting_payment", async () => {
    const r = await run("payme", "check");
    await expectEnd(r, "awaiting_payment", 0);
    expect(r.order).toMatchObject({ amount: 5_000_000, currency: "UZS" });
    const [[name, answer]] = paymeAnswers(r) as [readonly [string, { result?: Record<string, unknown> }]];
    expect(name).toBe("CheckPerformTransaction");
    expect(answer.result).toMatchObject({ allow: true, detail: { receipt_type: 0, items: [{ price: 5_000_000, count: 1 }] } });
    expect(r.steps[0]!.request.summary).toContain("Paycom:***");
    expect(JSON.stringify(r)).not.toContain(SECRETS.PAYME_KEY);
  });

  it("create: the order is reserved, state 1", async () => {
    const r = await run("payme", "create");
    await expectEnd(r, "reserved", 0);
    expect(r.steps.map((s) => s.name)).toEqual(["CheckPerformTransaction", "CreateTransaction"]);
    expect(paymeAnswers(r)[1]![1].result).toMatchObject({ state: 1, transaction: expect.stringMatching(/^ph_[0-9a-f]{24}$/) });
  });

  it("perform: paid in full", async () => {
    const r = await run("payme", "perform");
    await expectEnd(r, "paid", 5_000_000);
    expect(r.steps.map((s) => [s.name, s.order?.status])).toEqual([
      ["CheckPerformTransaction", "awaiting_payment"],
      ["CreateTransaction", "reserved"],
      ["PerformTransaction", "paid"],
    ]);
    expect(paymeAnswers(r)[2]![1].result).toMatchObject({ state: 2 });
  });

  it("cancel: the reservation is released, state -1", async () => {
    const r = await run("payme", "cancel");
    const order = await expectEnd(r, "awaiting_payment", 0);
    expect(paymeAnswers(r)[2]).toEqual(["CancelTransaction", { jsonrpc: "2.0", id: 3, result: expect.objectContaining({ state: -1 }) }]);
    expect(order.payments).toEqual([expect.objectContaining({ provider: "payme", status: expect.any(String) })]);
  });

  it("refund: a refundable order paid, then refunded, state -2", async () => {
    const r = await run("payme", "refund");
    expect(r.order.refundable).toBe(true);
    await expectEnd(r, "refunded", 0);
    expect(r.steps.map((s) => s.order?.status)).toEqual(["awaiting_payment", "reserved", "paid", "refunded"]);
    expect(paymeAnswers(r)[3]![1].result).toMatchObject({ state: -2 });
  });

  it("timeout: a Create 12 h old is refused with -31008, and the report says why the real expiry is not simulated", async () => {
    const r = await run("payme", "timeout");
    await expectEnd(r, "awaiting_payment", 0);
    const create = r.steps[1]!;
    expect(create.name).toBe("CreateTransaction");
    expect((create.answer as { error: { code: number } }).error.code).toBe(-31008);
    const time = (JSON.parse(create.request.body) as { params: { time: number } }).params.time;
    expect(Date.now() - time).toBeGreaterThan(43_200_000);
    expect(r.notes.join("\n")).toMatch(/worker's clock.*CLOCK_OFFSET_MS/s);
  });

  it("an existing order named with --order is paid at its own amount", async () => {
    const orderId = `shop-order-${Date.now()}`;
    await putOrder(orderId, { amount: 1_234_500, currency: "UZS" });
    const r = await run("payme", "perform", { orderId });
    expect(r.ok).toBe(true);
    expect(r.order).toMatchObject({ orderId, amount: 1_234_500, source: "existing" });
    expect(await getOrder(orderId)).toMatchObject({ status: "paid", paidAmount: 1_234_500 });
  });

  it("a wrong key is reported, with a hint, and the scenario stops there", async () => {
    const r = await run("payme", "perform", { env: { ...env, PAYME_KEY: "not-the-key" } });
    expect(r.ok).toBe(false);
    expect(r.steps).toHaveLength(1);
    expect((r.steps[0]!.answer as { error: { code: number } }).error.code).toBe(-32504);
    expect(r.notes.join("\n")).toMatch(/-32504.*PAYME_KEY/);
    expect(await getOrder(r.order.orderId)).toMatchObject({ status: "awaiting_payment" });
  });
});

describe("RoboKassa", () => {
  it("result: answered OK{InvId}, the order (id = InvId) is paid", async () => {
    const r = await run("robokassa", "result");
    expect(r.order.orderId).toMatch(/^\d+$/);
    const order = await expectEnd(r, "paid", 150_000);
    expect(r.steps).toHaveLength(1);
    expect(r.steps[0]).toMatchObject({ status: 200, answer: `OK${r.order.orderId}`, settled: true });
    const form = new URLSearchParams(r.steps[0]!.request.body);
    expect(form.get("OutSum")).toBe("1500.000000");
    expect(form.get("InvId")).toBe(r.order.orderId);
    expect(form.get("SignatureValue")).toMatch(/^[0-9A-F]{64}$/); // sha256, as ROBOKASSA_HASH says
    expect(order.payments).toEqual([expect.objectContaining({ provider: "robokassa", providerPaymentId: r.order.orderId, settled: 150_000, counted: 150_000 })]);
  });

  it("test: IsTest=1 with the test password is recorded apart and moves nothing", async () => {
    const r = await run("robokassa", "test");
    const order = await expectEnd(r, "awaiting_payment", 0);
    expect(new URLSearchParams(r.steps[0]!.request.body).get("IsTest")).toBe("1");
    expect(r.steps[0]!.answer).toBe(`OK${r.order.orderId}`);
    expect(order.payments).toEqual([expect.objectContaining({ provider: "robokassa", providerPaymentId: `test-${r.order.orderId}` })]);
  });

  it("refuses a non-numeric --order: the InvId is the order id", async () => {
    await expect(run("robokassa", "result", { orderId: "order-abc" })).rejects.toThrow(/robokassa names the order by a number.*must be digits/);
  });
});

describe("Payram", () => {
  it("filled: OPEN, then FILLED: paid", async () => {
    const r = await run("payram", "filled");
    expect(r.order.references.payram).toMatch(/^[0-9a-f-]{36}$/);
    await expectEnd(r, "paid", 4_999);
    expect(r.steps.map((s) => [s.name, s.status, s.settled])).toEqual([
      ["OPEN", 200, true],
      ["FILLED", 200, true],
    ]);
    expect(JSON.parse(r.steps[1]!.request.body)).toMatchObject({ amount: "49.99", filled_amount: "49.99", currency: "USD" });
  });

  it("partial: paid by way of partially_paid", async () => {
    const r = await run("payram", "partial");
    await expectEnd(r, "paid", 4_999);
    expect(r.steps.map((s) => [s.name, s.order?.status, s.order?.paidAmount])).toEqual([
      ["OPEN", "awaiting_payment", 0],
      ["PARTIALLY_FILLED", "partially_paid", 1_999],
      ["FILLED", "paid", 4_999],
    ]);
  });

  it("overpaid: OVER_FILLED: overpaid, with what was received", async () => {
    const r = await run("payram", "overpaid");
    await expectEnd(r, "overpaid", 5_499);
    expect(JSON.parse(r.steps[1]!.request.body)).toMatchObject({ status: "OVER_FILLED", amount: "49.99", filled_amount: "54.99" });
  });

  it("a wrong secret is reported as the ingress's 401", async () => {
    const r = await run("payram", "filled", { env: { ...env, PAYRAM_WEBHOOK_SECRET: "wrong" } });
    expect(r.ok).toBe(false);
    expect(r.steps).toEqual([expect.objectContaining({ name: "OPEN", status: 401, answer: { error: "no_matching_signature" } })]);
    expect(r.notes.join("\n")).toMatch(/PAYRAM_WEBHOOK_SECRET/);
  });
});

describe("Payske", () => {
  it("succeeded: paid", async () => {
    const r = await run("payske", "succeeded");
    await expectEnd(r, "paid", 4_999);
    expect(r.steps[0]).toMatchObject({ name: "payment_intent.succeeded", answer: { received: true } });
  });

  it("refunded: paid, then refunded", async () => {
    const r = await run("payske", "refunded");
    await expectEnd(r, "refunded", 0);
    expect(r.steps.map((s) => [s.name, s.order?.status])).toEqual([
      ["payment_intent.succeeded", "paid"],
      ["charge.refunded", "refunded"],
    ]);
  });

  it("failed: recorded as failed; the order still awaits payment", async () => {
    const r = await run("payske", "failed");
    const order = await expectEnd(r, "awaiting_payment", 0);
    expect(order.payments).toEqual([expect.objectContaining({ provider: "payske", status: "failed" })]);
  });

  it("checkout: a paid Checkout Session names the order by client_reference_id", async () => {
    const r = await run("payske", "checkout");
    await expectEnd(r, "paid", 4_999);
    const session = (JSON.parse(r.steps[0]!.request.body) as { data: { object: Record<string, unknown> } }).data.object;
    expect(session).toMatchObject({ client_reference_id: r.order.orderId, payment_status: "paid", amount_total: 4_999, metadata: {} });
  });

  it("without ADMIN_TOKEN: pays an existing order at the default amount, and says it could not look", async () => {
    const orderId = `shop-order-psk-${Date.now()}`;
    await putOrder(orderId, { amount: 4_999, currency: "USD" });
    const { ADMIN_TOKEN: _token, ...noAdmin } = env;
    const r = await run("payske", "succeeded", { orderId, env: noAdmin });
    expect(r.ok).toBe(true);
    expect(r.order.source).toBe("assumed");
    expect(r.finalOrder).toBeNull();
    expect(r.notes.join("\n")).toMatch(/ADMIN_TOKEN is not set/);
    await waitFor(async () => (await getOrder(orderId)).status === "paid" || undefined, "the order paid", 5_000);
  });
});

describe("Stripe (at /webhooks/stripe, STRIPE_* variables)", () => {
  it("succeeded: paid at /webhooks/stripe, the payment recorded under provider stripe", async () => {
    const r = await run("stripe", "succeeded");
    const order = await expectEnd(r, "paid", 4_999);
    expect(r.steps[0]).toMatchObject({ name: "payment_intent.succeeded", status: 200, answer: { received: true } });
    expect(r.steps[0]!.request.url).toBe(`${ingress.url}/webhooks/stripe`);
    expect(order.payments).toEqual([expect.objectContaining({ provider: "stripe", status: "succeeded", counted: 4_999 })]);
    expect(JSON.stringify(r)).not.toContain(SECRETS.STRIPE_WEBHOOK_SECRET);
  });

  it("refunded: paid, then refunded", async () => {
    const r = await run("stripe", "refunded");
    await expectEnd(r, "refunded", 0);
    expect(r.steps.map((s) => [s.name, s.order?.status])).toEqual([
      ["payment_intent.succeeded", "paid"],
      ["charge.refunded", "refunded"],
    ]);
  });

  it("signed with a secret the ingress does not hold for Stripe is refused 400, and nothing is paid", async () => {
    // (The simulator cannot even load a configuration that gives Stripe Payske's secret: the
    // registry refuses a secret shared by two providers.)
    const r = await run("stripe", "succeeded", { env: { ...env, STRIPE_WEBHOOK_SECRET: "whsec_not_the_ingress_stripe_secret" } });
    expect(r.ok).toBe(false);
    expect(r.steps).toEqual([expect.objectContaining({ status: 400, answer: { error: "no_matching_signature" } })]);
    expect(await getOrder(r.order.orderId)).toMatchObject({ status: "awaiting_payment", payments: [] });
  });
});

/** Click's answer to each step: its `error` code. */
const clickCodes = (r: SimulationReport) => r.steps.map((s) => [s.name, (s.answer as { error: number }).error, s.order?.status] as const);

describe("Click", () => {
  it("succeeded: Prepare 0 (reserved), Complete 0 (paid), recorded under provider click", async () => {
    const r = await run("click", "succeeded");
    expect(r.order).toMatchObject({ amount: 5_000_000, currency: "UZS" });
    const order = await expectEnd(r, "paid", 5_000_000);
    expect(clickCodes(r)).toEqual([
      ["Prepare", 0, "reserved"],
      ["Complete", 0, "paid"],
    ]);
    const [prepare, complete] = r.steps.map((s) => s.answer as Record<string, unknown>);
    expect(prepare!["merchant_prepare_id"]).toEqual(expect.any(Number));
    expect(complete!["merchant_confirm_id"]).toBe(prepare!["merchant_prepare_id"]);
    expect(new URLSearchParams(r.steps[1]!.request.body).get("amount")).toBe("50000.00");
    expect(order.payments).toEqual([expect.objectContaining({ provider: "click", status: "succeeded", counted: 5_000_000 })]);
    expect(r.steps[0]!.request.summary).toContain("sign_string=***");
    expect(JSON.stringify(r)).not.toContain(SECRETS.CLICK_SECRET_KEY);
  });

  it("cancelled: Prepare 0, a cancelling Complete -9, then -9 again: the order awaits payment", async () => {
    const r = await run("click", "cancelled");
    const order = await expectEnd(r, "awaiting_payment", 0);
    expect(clickCodes(r)).toEqual([
      ["Prepare", 0, "reserved"],
      ["Complete (error=-5017)", -9, "awaiting_payment"],
      ["Complete on the cancelled attempt", -9, "awaiting_payment"],
    ]);
    expect(order.payments).toEqual([expect.objectContaining({ provider: "click", status: "cancelled" })]);
  });

  it("repeat: the repeated Prepare keeps its id, repeated and cancelling Completes answer -4: paid once", async () => {
    const r = await run("click", "repeat");
    const order = await expectEnd(r, "paid", 5_000_000);
    expect(clickCodes(r).map(([name, code]) => [name, code])).toEqual([
      ["Prepare", 0],
      ["Prepare (repeat)", 0],
      ["Complete", 0],
      ["Complete (repeat)", -4],
      ["Complete (error=-1) on the paid attempt", -4],
    ]);
    const ids = r.steps.map((s) => (s.answer as Record<string, unknown>)["merchant_prepare_id"] ?? (s.answer as Record<string, unknown>)["merchant_confirm_id"]);
    expect(new Set(ids).size).toBe(1);
    expect(r.notes).toEqual([]);
    expect(order.payments).toHaveLength(1);
  });

  it("wrong-amount: -2 keeps the attempt prepared, the right Complete pays", async () => {
    const r = await run("click", "wrong-amount");
    await expectEnd(r, "paid", 5_000_000);
    expect(clickCodes(r)).toEqual([
      ["Prepare", 0, "reserved"],
      ["Complete (1 soum short)", -2, "reserved"],
      ["Complete", 0, "paid"],
    ]);
  });

  it("bad-signature: -1 and nothing recorded", async () => {
    const r = await run("click", "bad-signature");
    const order = await expectEnd(r, "awaiting_payment", 0);
    expect(clickCodes(r)).toEqual([["Prepare (bad signature)", -1, "awaiting_payment"]]);
    expect(order.payments).toEqual([]);
  });

  it("a wrong CLICK_SECRET_KEY is reported: the Prepare answered -1, the scenario stops there", async () => {
    const r = await run("click", "succeeded", { env: { ...env, CLICK_SECRET_KEY: "not-the-key" } });
    expect(r.ok).toBe(false);
    expect(r.steps).toHaveLength(1);
    expect((r.steps[0]!.answer as { error: number }).error).toBe(-1);
    expect(await getOrder(r.order.orderId)).toMatchObject({ status: "awaiting_payment", payments: [] });
  });
});

describe("refusals", () => {
  it("names the choices for an unknown provider or scenario", async () => {
    await expect(run("paypal", "filled")).rejects.toThrow('unknown provider "paypal": choose one of payme, payram, payske, robokassa, stripe, click');
    await expect(run("payram", "refund")).rejects.toThrow('unknown scenario "refund" for payram: choose one of filled, partial, overpaid');
    await expect(run("payme", "toString")).rejects.toBeInstanceOf(SimulationError);
  });

  // The configuration is loaded as the ingress loads it, so a password goes with its pair.
  it.each([
    ["payme", "perform", "PAYME_KEY", []],
    ["payram", "filled", "PAYRAM_WEBHOOK_SECRET", []],
    ["payske", "succeeded", "PAYSKE_WEBHOOK_SECRET", []],
    ["robokassa", "result", "ROBOKASSA_PASSWORD2", ["ROBOKASSA_PASSWORD1"]],
    ["robokassa", "test", "ROBOKASSA_TEST_PASSWORD2", ["ROBOKASSA_TEST_PASSWORD1"]],
    ["stripe", "succeeded", "STRIPE_WEBHOOK_SECRET", []],
    ["click", "succeeded", "CLICK_SERVICE_ID", []],
    ["click", "succeeded", "CLICK_SECRET_KEY", []],
  ])("%s %s without %s says so (an empty value counts as unset)", async (provider, scenario, variable, pair) => {
    const unset = Object.fromEntries([variable, ...pair].map((name) => [name, ""]));
    const err = await run(provider, scenario, { env: { ...env, ...unset } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SimulationError);
    expect((err as Error).message).toMatch(new RegExp(`^${variable} is not set`));
  });

  it("refuses an --order that does not exist", async () => {
    await expect(run("payske", "succeeded", { orderId: "no-such-order" })).rejects.toThrow("order no-such-order does not exist");
  });

  it("says so when nothing listens at --url", async () => {
    await expect(run("payske", "succeeded", { url: "http://127.0.0.1:9" })).rejects.toThrow(/ingress at http:\/\/127\.0\.0\.1:9 did not answer/);
  });

  it("every scenario has a one-line description", () => {
    for (const scenarios of Object.values(scenariosOf(PROVIDERS))) {
      for (const line of Object.values(scenarios)) expect(line).toMatch(/^[^\n]{10,120}$/);
    }
  });
});

describe("as the `payhooks simulate` command", () => {
  const CLI = resolve(__dirname, "../dist/payhooks.js");

  it("plays a scenario and prints the report; exit 0", async () => {
    const proc = spawnNode(CLI, { ...(env as Record<string, string>) }, ["simulate", "payske", "succeeded", "--url", ingress.url, "--json"]);
    expect(await proc.stop("SIGCONT")).toBe(0);
    const report = JSON.parse(proc.output()) as SimulationReport;
    expect(report.ok).toBe(true);
    expect((await getOrder(report.order.orderId)).status).toBe("paid");
  });

  it("plays a Click scenario against the real processes; exit 0", async () => {
    const proc = spawnNode(CLI, { ...(env as Record<string, string>) }, ["simulate", "click", "succeeded", "--url", ingress.url, "--json"]);
    expect(await proc.stop("SIGCONT")).toBe(0);
    const report = JSON.parse(proc.output()) as SimulationReport;
    expect(report).toMatchObject({ provider: "click", scenario: "succeeded", ok: true });
    expect(await getOrder(report.order.orderId)).toMatchObject({ status: "paid", payments: [expect.objectContaining({ provider: "click" })] });
  });

  it("exits 2 with one line for an unknown scenario, naming the known ones", async () => {
    const proc = spawnNode(CLI, { ...(env as Record<string, string>) }, ["simulate", "payram", "nope", "--url", ingress.url]);
    expect(await proc.stop("SIGCONT")).toBe(2);
    expect(proc.output()).toMatch(/payhooks: .*nope/);
  });
});
