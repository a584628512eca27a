/**
 * The generic driver against an in-process fake: one HTTP server plays the ingress (POST /hook)
 * and the admin API (/v1/orders/:id), and a made-up provider part plays the scenarios. What the
 * real providers send is tested in their packages (simulator.test.ts) and, against real
 * processes, in simulate.int.test.ts.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { OrderInput, OrderView, SimulatedRequest, SimulatorPart } from "@payhooks/core";
import { SimulationError, formatReport, scenariosOf, simulate, type SimulateOptions } from "./simulate";

type FakeConfig = { PORT: number; ADMIN_PORT: number; ADMIN_HOST: string; ADMIN_TOKEN?: string; SECRET?: string; OTHER?: string; NUMERIC?: boolean };
const TOKEN = "fake-admin-token-0123456789";

const hook = (name: string, body: Record<string, unknown>, extra: Partial<SimulatedRequest> = {}): SimulatedRequest => ({
  name,
  path: "/hook",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
  summary: `${name} summary`,
  expected: "200 ok",
  accept: (status) => status === 200,
  hint: (status) => (status === 401 ? "check SECRET" : undefined),
  ...extra,
});

const part: SimulatorPart<FakeConfig> = {
  order: (_config, scenario) => ({ amount: 1_000, currency: "USD", ...(scenario === "referenced" ? { references: { payram: "ref-fresh" } } : {}) }),
  orderIds: (config) => (config.NUMERIC ? "numeric" : "any"),
  missing: (config) => (config.SECRET === undefined ? { variable: "SECRET", why: "the fake signs with it" } : null),
  scenarios: {
    sync: {
      description: "one request–reply call, the order read after it",
      run: async (ctx) => {
        await ctx.send(hook("call", { orderId: ctx.order.orderId, pay: ctx.order.amount, secret: ctx.config.SECRET }));
      },
    },
    async: {
      description: "two notices, each waited for until the worker applied it",
      run: async (ctx) => {
        for (const status of ["open", "paid"]) {
          if (!(await ctx.send(hook(status, { orderId: ctx.order.orderId, status, secret: ctx.config.SECRET }, { settles: { paymentId: "p-1", providerStatus: status } }))).ok) return;
        }
        ctx.note("all sent");
      },
    },
    needs: {
      description: "a scenario that needs one more variable",
      missing: (config) => (config.OTHER === undefined ? { variable: "OTHER", why: "this scenario signs with it" } : null),
      run: async () => undefined,
    },
    referenced: { description: "an order named by the provider's reference", run: async () => undefined },
  },
};
const providers = { fake: { simulator: part } };

/** The fake ingress and admin API, with the orders it keeps and the hook bodies it received. */
let server: Server;
let base: string;
let port: number;
const orders = new Map<string, OrderView>();
const received: Array<Record<string, unknown>> = [];
/** the secret the fake ingress verifies the bodies with */
let ingressSecret = "s3cret";

const read = async (req: IncomingMessage): Promise<string> => {
  let text = "";
  for await (const chunk of req) text += String(chunk);
  return text;
};
const view = (orderId: string, input: OrderInput): OrderView => ({
  orderId,
  amount: input.amount,
  currency: input.currency,
  livemode: true,
  refundable: input.refundable ?? false,
  status: "awaiting_payment",
  paidAmount: 0,
  references: input.references ?? {},
  items: input.items ?? [],
  createdAt: "",
  updatedAt: "",
  payments: [],
});

/** false: the fake ingress accepts notices but no worker ever applies them. */
let workerRunning = true;

beforeAll(async () => {
  server = createServer((req, res) => {
    void (async () => {
      const body = await read(req);
      const json = (status: number, value: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
      if (req.url === "/hook") {
        const msg = JSON.parse(body) as Record<string, unknown>;
        received.push(msg);
        if (msg["secret"] !== ingressSecret) return json(401, { error: "no_matching_signature" });
        const order = orders.get(String(msg["orderId"]));
        if (order && typeof msg["pay"] === "number") Object.assign(order, { status: "paid", paidAmount: msg["pay"] });
        // A worker applies a notice a little later (when one runs).
        if (order && typeof msg["status"] === "string" && workerRunning) {
          setTimeout(() => {
            order.payments = [{ provider: "fake", providerPaymentId: "p-1", providerStatus: msg["status"] } as unknown as OrderView["payments"][number]];
            if (msg["status"] === "paid") Object.assign(order, { status: "paid", paidAmount: order.amount });
          }, 30);
        }
        return json(200, { ok: true });
      }
      const m = /^\/v1\/orders\/([^/]+)$/.exec(req.url ?? "");
      if (!m) return json(404, {});
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return json(401, { error: "unauthorized" });
      const orderId = decodeURIComponent(m[1]!);
      if (req.method === "PUT") {
        orders.set(orderId, view(orderId, JSON.parse(body) as OrderInput));
        return json(201, orders.get(orderId));
      }
      const order = orders.get(orderId);
      return order ? json(200, order) : json(404, { error: "not_found" });
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

beforeEach(() => {
  received.length = 0;
  ingressSecret = "s3cret";
  workerRunning = true;
});

const config = (extra: Partial<FakeConfig> = {}): FakeConfig => ({ PORT: port, ADMIN_PORT: port, ADMIN_HOST: "0.0.0.0", ADMIN_TOKEN: TOKEN, SECRET: "s3cret", ...extra });
const run = (scenario: string, extra: Partial<SimulateOptions> = {}) => simulate({ provider: "fake", scenario, providers, config: config(), ...extra });

describe("simulate (generic driver)", () => {
  it("lists the scenarios of every provider for --help", () => {
    expect(scenariosOf(providers)).toEqual({
      fake: {
        sync: "one request–reply call, the order read after it",
        async: "two notices, each waited for until the worker applied it",
        needs: "a scenario that needs one more variable",
        referenced: "an order named by the provider's reference",
      },
    });
  });

  it("refuses an unknown provider or scenario, naming the choices", async () => {
    await expect(simulate({ provider: "paypal", scenario: "x", providers, config: config() })).rejects.toThrow('unknown provider "paypal": choose one of fake');
    await expect(run("nope")).rejects.toThrow('unknown scenario "nope" for fake: choose one of sync, async, needs, referenced');
    await expect(run("toString")).rejects.toBeInstanceOf(SimulationError);
    await expect(simulate({ provider: "constructor", scenario: "x", providers, config: config() })).rejects.toBeInstanceOf(SimulationError);
  });

  it("refuses before sending anything when the part or the scenario misses a variable", async () => {
    await expect(run("sync", { config: config({ SECRET: undefined }) })).rejects.toThrow(
      "SECRET is not set: the fake signs with it. Set it to the value the ingress runs with.",
    );
    await expect(run("needs")).rejects.toThrow(/^OTHER is not set: this scenario signs with it/);
    expect(received).toEqual([]);
  });

  it("sync: creates the order with the part's figures, sends, and reads the order after the answer (ADMIN_HOST 0.0.0.0 is reached on loopback)", async () => {
    const r = await run("sync", { url: `${base}/` });
    expect(r).toMatchObject({ provider: "fake", scenario: "sync", ok: true, ingressUrl: base, order: { amount: 1_000, currency: "USD", source: "created" } });
    expect(r.order.orderId).toMatch(/^sim-fake-sync-[0-9a-f]{8}$/);
    expect(r.steps).toEqual([
      expect.objectContaining({
        name: "call",
        request: { method: "POST", url: `${base}/hook`, summary: "call summary", contentType: "application/json", body: expect.any(String) },
        status: 200,
        answer: { ok: true },
        ok: true,
        order: { status: "paid", paidAmount: 1_000 },
      }),
    ]);
    expect(r.steps[0]!.settled).toBeUndefined();
    expect(r.finalOrder).toMatchObject({ status: "paid" });
    expect(formatReport(r)).toMatch(/^fake sync: one request–reply call.*\nok$/s);
  });

  it("async: waits for the worker after each notice, and passes the scenario's notes on", async () => {
    const r = await run("async", { url: base });
    expect(r.ok).toBe(true);
    expect(r.steps.map((s) => [s.name, s.settled, s.order?.status])).toEqual([
      ["open", true, "awaiting_payment"],
      ["paid", true, "paid"],
    ]);
    expect(r.notes).toEqual(["all sent"]);
  });

  it("an answer the provider would not accept stops the scenario, with the part's hint", async () => {
    ingressSecret = "another";
    const r = await run("async", { url: base });
    expect(r.ok).toBe(false);
    expect(r.steps).toHaveLength(1);
    expect(r.notes).toEqual(['open was answered 401 {"error":"no_matching_signature"}, not 200 ok: the remaining steps were not sent. check SECRET']);
  });

  it("reports a notice no worker applied in time", async () => {
    workerRunning = false;
    const r = await run("async", { url: base, settleTimeoutMs: 50 });
    expect(r.ok).toBe(false);
    expect(r.notes[0]).toMatch(/^open: accepted, but no worker applied it to order .* within 50 ms/);
  });

  it("without ADMIN_TOKEN: assumes the part's figures and spaces the notices", async () => {
    const started = Date.now();
    const r = await run("async", { url: base, config: config({ ADMIN_TOKEN: undefined }) });
    expect(r).toMatchObject({ ok: true, finalOrder: null, order: { source: "assumed", amount: 1_000, currency: "USD" } });
    expect(r.steps.map((s) => s.settled)).toEqual([undefined, undefined]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(r.notes[0]).toMatch(/^ADMIN_TOKEN is not set: no order was created/);
  });

  it("--order: an existing order at its own figures; a missing one, a bad id, a non-numeric id where ids are numbers, or a missing reference is refused", async () => {
    orders.set("shop-1", view("shop-1", { amount: 2_500, currency: "EUR" }));
    const r = await run("sync", { url: base, orderId: "shop-1" });
    expect(r.order).toMatchObject({ orderId: "shop-1", amount: 2_500, currency: "EUR", source: "existing" });
    await expect(run("sync", { url: base, orderId: "no-such" })).rejects.toThrow("order no-such does not exist");
    await expect(run("sync", { url: base, orderId: "bad id" })).rejects.toThrow(/is not an order id/);
    await expect(run("sync", { url: base, orderId: "shop-1", config: config({ NUMERIC: true }) })).rejects.toThrow(/must be digits/);
    await expect(run("referenced", { url: base, orderId: "shop-1" })).rejects.toThrow('order shop-1 has no payram reference: create it with "references": {"payram": "<reference>"}');
  });

  it("numeric order ids: a fresh one is a number in int32 range", async () => {
    const r = await run("sync", { url: base, config: config({ NUMERIC: true }) });
    expect(r.order.orderId).toMatch(/^\d{9,10}$/);
    expect(Number(r.order.orderId)).toBeLessThanOrEqual(2_147_483_647);
  });

  it("says so when nothing answers at the URL, or the admin API refuses the token", async () => {
    await expect(run("sync", { url: "http://127.0.0.1:9", config: config({ ADMIN_TOKEN: undefined }) })).rejects.toThrow(/ingress at http:\/\/127\.0\.0\.1:9 did not answer call/);
    await expect(run("sync", { url: base, config: config({ ADMIN_TOKEN: "wrong-token-0123456789" }) })).rejects.toThrow(/refused ADMIN_TOKEN \(401\)/);
    await expect(run("sync", { url: "ftp://x" })).rejects.toThrow(/is not an http\(s\) URL/);
  });
});
