/**
 * `payhooks simulate <provider> <scenario>`: plays a provider's traffic at a running ingress, the
 * way `stripe trigger` does — correctly signed with the same secrets the ingress reads from its
 * configuration — and reports what was sent, what was answered and, when the admin API is on
 * (ADMIN_TOKEN), what became of the order.
 *
 * This is the generic driver: it knows no provider by name. Each provider module's simulator
 * part (`SimulatorPart`, packages/core/src/provider-module.ts) says which order a scenario wants,
 * which variables it cannot sign without, and builds the signed requests; the driver resolves the
 * order through the admin API, sends the requests, reads the answers, waits for the worker after
 * an asynchronous notice, and reports. No part puts a secret in a request's summary.
 */
import { randomBytes, randomInt } from "node:crypto";
import {
  ORDER_ID_PATTERN,
  PayhooksError,
  type OrderInput,
  type OrderView,
  type ProviderId,
  type Scenario,
  type ScenarioContext,
  type SimulatedOrder,
  type SimulatedRequest,
  type SimulatorPart,
} from "@payhooks/core";

export type { SimulatedOrder } from "@payhooks/core";

/** What the driver needs of each provider: its simulator part (a registry entry has more). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a registry holds parts of every configuration shape
export type SimulatedProviders = Readonly<Record<string, { simulator: SimulatorPart<any> }>>;

/** Every scenario, by provider, with the line `payhooks simulate --help` shows for it. */
export function scenariosOf(providers: SimulatedProviders): Record<string, Record<string, string>> {
  return Object.fromEntries(
    Object.entries(providers).map(([provider, { simulator }]) => [
      provider,
      Object.fromEntries(Object.entries(simulator.scenarios).map(([name, scenario]) => [name, scenario.description])),
    ]),
  );
}

/** A refusal to simulate: an unknown provider or scenario, a missing secret, an unreachable service. */
export class SimulationError extends PayhooksError {
  readonly code = "simulation_refused";
}

export type SimulateOptions = {
  /** a key of `providers` */
  provider: string;
  /** a key of that provider's `simulator.scenarios` */
  scenario: string;
  /** the providers that can be simulated, by id (the registry's PROVIDERS) */
  providers: SimulatedProviders;
  /**
   * The configuration, loaded as the services load it (the registry's loadConfig): the secrets
   * and provider settings the parts sign with, and the base fields ADMIN_TOKEN, ADMIN_HOST,
   * ADMIN_PORT and PORT.
   */
  config: unknown;
  /** the ingress's public base URL. @defaultValue `http://127.0.0.1:${PORT}` */
  url?: string;
  /** an existing order to pay instead of creating one */
  orderId?: string;
  /** one line per request, answer and order change, as they happen. @defaultValue no-op */
  log?: (line: string) => void;
  /** the admin API's base URL. @defaultValue `http://${ADMIN_HOST}:${ADMIN_PORT}` */
  adminUrl?: string;
  /** how long to wait for the worker to apply an asynchronous notice. @defaultValue 5000 */
  settleTimeoutMs?: number;
};

export type OrderState = { status: string; paidAmount: number };

export type SimulationStep = {
  /** what the provider does in this step, e.g. `CreateTransaction` or `PARTIALLY_FILLED` */
  name: string;
  request: { method: "POST" | "GET"; url: string; summary: string; contentType: string; body: string };
  /** HTTP status of the answer */
  status: number;
  /** the answer's body: parsed when it is JSON, else the text */
  answer: unknown;
  /** what the provider expects to hear, in words */
  expected: string;
  /** whether the answer is what the provider expects */
  ok: boolean;
  /**
   * For an asynchronous notice: whether the worker was seen applying it within
   * `settleTimeoutMs` (absent when the order cannot be read: no ADMIN_TOKEN, or a bad answer).
   */
  settled?: boolean;
  /** the order right after this step, when the admin API is on */
  order?: OrderState;
};

export type SimulationReport = {
  provider: string;
  scenario: string;
  description: string;
  ingressUrl: string;
  order: SimulatedOrder;
  steps: SimulationStep[];
  /** the order as the admin API shows it at the end, or null when it cannot be read */
  finalOrder: OrderView | null;
  /** what the reader should know: skipped steps, what is not simulated, hints on refusals */
  notes: string[];
  /** every step answered as the provider expects and, where it could be seen, was applied */
  ok: boolean;
};

/** Without the admin API the worker cannot be watched: async notices are spaced this far apart. */
const STEP_GAP_MS = 300;
const REQUEST_TIMEOUT_MS = 15_000;
const SETTLE_POLL_MS = 50;
/** A numeric order id (a provider that names orders by number, e.g. an int32 InvId) stays in int32 range. */
const MAX_NUMERIC_ID = 2_147_483_647;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parts of every configuration shape
type AnyPart = SimulatorPart<any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- likewise
type AnyScenario = Scenario<any>;

/** The base fields the driver itself reads from the configuration. */
type DriverSettings = { port: string; adminPort: string; adminHost: string; adminToken: string | undefined };

function driverSettings(config: unknown): DriverSettings {
  if (typeof config !== "object" || config === null) throw new SimulationError("no configuration was given to the simulator");
  const c = config as Record<string, unknown>;
  const text = (name: string): string | undefined => {
    const value = c[name];
    if (typeof value === "number") return String(value);
    return typeof value === "string" && value !== "" ? value : undefined;
  };
  return { port: text("PORT") ?? "3000", adminPort: text("ADMIN_PORT") ?? "3001", adminHost: text("ADMIN_HOST") ?? "127.0.0.1", adminToken: text("ADMIN_TOKEN") };
}

/** The provider and scenario asked for, or a SimulationError listing the choices. */
function resolveScenario(providers: SimulatedProviders, provider: string, scenario: string): { part: AnyPart; chosen: AnyScenario } {
  const part = Object.hasOwn(providers, provider) ? providers[provider]?.simulator : undefined;
  if (part === undefined) throw new SimulationError(`unknown provider "${provider}": choose one of ${Object.keys(providers).join(", ")}`);
  const chosen = Object.hasOwn(part.scenarios, scenario) ? part.scenarios[scenario] : undefined;
  if (chosen === undefined) {
    throw new SimulationError(`unknown scenario "${scenario}" for ${provider}: choose one of ${Object.keys(part.scenarios).join(", ")}`);
  }
  return { part, chosen };
}

/** Nothing is created or sent for a simulation that cannot be signed. */
function checkMissing(part: AnyPart, chosen: AnyScenario, config: unknown): void {
  const missing = part.missing(config) ?? chosen.missing?.(config) ?? null;
  if (missing) throw new SimulationError(`${missing.variable} is not set: ${missing.why}. Set it to the value the ingress runs with.`);
}

// ---------------------------------------------------------------------------------------------
// The admin API (orders)

type AdminClient = {
  base: string;
  get(orderId: string): Promise<OrderView | null>;
  put(orderId: string, input: OrderInput): Promise<OrderView>;
};

function adminBaseUrl(settings: DriverSettings): string {
  let host = settings.adminHost;
  // A wildcard bind address is reached through loopback.
  if (host === "0.0.0.0") host = "127.0.0.1";
  if (host === "::") host = "::1";
  if (host.includes(":") && !host.startsWith("[")) host = `[${host}]`;
  return `http://${host}:${settings.adminPort}`;
}

function createAdminClient(settings: DriverSettings, adminUrl: string | undefined): AdminClient | null {
  const token = settings.adminToken;
  if (!token) return null;
  const base = (adminUrl ?? adminBaseUrl(settings)).replace(/\/+$/, "");
  const request = async (method: "GET" | "PUT", orderId: string, body?: OrderInput): Promise<Response> => {
    try {
      return await fetch(`${base}/v1/orders/${encodeURIComponent(orderId)}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      throw new SimulationError(`the admin API at ${base} did not answer (${causeOf(err)}): is the ingress running with ADMIN_TOKEN, on ADMIN_PORT?`, { cause: err });
    }
  };
  const refused = async (res: Response, what: string): Promise<SimulationError> => {
    const text = await res.text();
    if (res.status === 401) return new SimulationError(`the admin API at ${base} refused ADMIN_TOKEN (401): use the ingress's token`);
    return new SimulationError(`the admin API refused to ${what}: HTTP ${res.status} ${text.slice(0, 500)}`);
  };
  return {
    base,
    async get(orderId) {
      const res = await request("GET", orderId);
      if (res.status === 404) return null;
      if (res.status !== 200) throw await refused(res, `read order ${orderId}`);
      return (await res.json()) as OrderView;
    },
    async put(orderId, input) {
      const res = await request("PUT", orderId, input);
      if (res.status !== 201 && res.status !== 200) throw await refused(res, `create order ${orderId}`);
      return (await res.json()) as OrderView;
    },
  };
}

function causeOf(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (cause && typeof cause.code === "string") return cause.code;
  if (err instanceof Error && err.name === "TimeoutError") return `no answer within ${REQUEST_TIMEOUT_MS} ms`;
  return err instanceof Error ? err.message : String(err);
}

// ---------------------------------------------------------------------------------------------
// Running steps

type Run = {
  provider: string;
  ingressUrl: string;
  order: SimulatedOrder;
  admin: AdminClient | null;
  log: (line: string) => void;
  settleTimeoutMs: number;
  steps: SimulationStep[];
  notes: string[];
  /** an asynchronous notice was accepted while the worker cannot be watched: space the next one */
  gapDue: boolean;
};

/** Sends one request, records the step, follows the order, and says whether it was answered as expected. */
async function send(run: Run, request: SimulatedRequest): Promise<{ ok: boolean; status: number; answer: unknown }> {
  if (run.gapDue) {
    run.gapDue = false;
    await new Promise((r) => setTimeout(r, STEP_GAP_MS));
  }
  const method = request.method ?? "POST";
  const url = `${run.ingressUrl}${request.path}`;
  run.log(`→ ${request.name}: ${request.summary}`);
  let res: Response;
  try {
    res = await fetch(url, { method, headers: request.headers, ...(method === "GET" ? {} : { body: request.body }), signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (err) {
    throw new SimulationError(`the ingress at ${run.ingressUrl} did not answer ${request.name} (${causeOf(err)}): is payhooks running there?`, { cause: err });
  }
  const text = await res.text();
  let answer: unknown = text;
  if ((res.headers.get("content-type") ?? "").includes("json")) {
    try {
      answer = JSON.parse(text) as unknown;
    } catch {
      // kept as text
    }
  }
  const ok = request.accept(res.status, answer);
  run.log(`← ${res.status} ${typeof answer === "string" ? answer : JSON.stringify(answer)}${ok ? "" : `  (expected ${request.expected})`}`);
  const contentType = Object.entries(request.headers).find(([name]) => name.toLowerCase() === "content-type")?.[1] ?? "";
  const step: SimulationStep = {
    name: request.name,
    request: { method, url, summary: request.summary, contentType, body: request.body },
    status: res.status,
    answer,
    expected: request.expected,
    ok,
  };
  run.steps.push(step);
  if (request.settles) await settle(run, step, request.settles);
  else await observe(run, step);
  if (!ok) stopped(run, step, request.hint?.(res.status, answer));
  return { ok, status: res.status, answer };
}

const stateOf = (order: OrderView): OrderState => ({ status: order.status, paidAmount: order.paidAmount });

/** Reads the order after a synchronous step (request–reply: the answer comes after the ledger changed). */
async function observe(run: Run, step: SimulationStep): Promise<void> {
  if (!run.admin || run.order.source === "assumed") return;
  const order = await run.admin.get(run.order.orderId);
  if (order) {
    step.order = stateOf(order);
    run.log(`  order ${order.orderId}: ${order.status}, paidAmount ${order.paidAmount}`);
  }
}

/**
 * After an asynchronous notice (queued, applied later by a worker): waits until the order shows
 * the payment in `providerStatus` (or just present), so the next notice arrives after this one
 * was applied, as a provider's would. Without the admin API it can only space the next notice.
 */
async function settle(run: Run, step: SimulationStep, payment: NonNullable<SimulatedRequest["settles"]>): Promise<void> {
  if (!step.ok) return;
  if (!run.admin || run.order.source === "assumed") {
    run.gapDue = true;
    return;
  }
  const deadline = Date.now() + run.settleTimeoutMs;
  for (;;) {
    const order = await run.admin.get(run.order.orderId);
    const seen = order?.payments.find(
      (p) =>
        p.provider === run.provider &&
        p.providerPaymentId === payment.paymentId &&
        (payment.providerStatus === undefined || p.providerStatus === payment.providerStatus),
    );
    if (order && seen) {
      // GET /v1/orders/:id reads the order, then its payments, in separate round trips: the read
      // that first shows the payment may show the order from before the same atomic write. A
      // read started after it has returned sees both.
      const after = (await run.admin.get(run.order.orderId)) ?? order;
      step.settled = true;
      step.order = stateOf(after);
      run.log(`  order ${after.orderId}: ${after.status}, paidAmount ${after.paidAmount}`);
      return;
    }
    if (Date.now() >= deadline) {
      step.settled = false;
      if (order) step.order = stateOf(order);
      run.notes.push(
        `${step.name}: accepted, but no worker applied it to order ${run.order.orderId} within ${run.settleTimeoutMs} ms (is a worker running on the same Redis and QUEUE_PREFIX?)`,
      );
      return;
    }
    await new Promise((r) => setTimeout(r, SETTLE_POLL_MS));
  }
}

function stopped(run: Run, step: SimulationStep, hint?: string): void {
  const answer = typeof step.answer === "string" ? step.answer : JSON.stringify(step.answer);
  const short = answer.length > 200 ? `${answer.slice(0, 200)}…` : answer;
  run.notes.push(`${step.name} was answered ${step.status} ${short}, not ${step.expected}: the remaining steps were not sent.${hint ? ` ${hint}` : ""}`);
}

// ---------------------------------------------------------------------------------------------
// Orders

const simOrderId = (provider: string, scenario: string): string => `sim-${provider}-${scenario}-${randomBytes(4).toString("hex")}`;

const fromView = (view: OrderView, source: SimulatedOrder["source"]): SimulatedOrder => ({
  orderId: view.orderId,
  amount: view.amount,
  currency: view.currency,
  refundable: view.refundable,
  references: view.references,
  source,
});

/**
 * The order the scenario plays against: `--order` as the admin API shows it, or a fresh one
 * created with the part's default figures; without the admin API, those figures assumed.
 */
async function resolveOrder(
  provider: string,
  scenario: string,
  part: AnyPart,
  config: unknown,
  admin: AdminClient | null,
  requested: string | undefined,
  notes: string[],
): Promise<SimulatedOrder> {
  const numericId = part.orderIds?.(config) === "numeric";
  if (requested !== undefined) {
    if (!ORDER_ID_PATTERN.test(requested)) throw new SimulationError(`--order "${requested}" is not an order id: 1-128 of A-Z a-z 0-9 . _ ~ -`);
    if (numericId && !/^\d{1,19}$/.test(requested)) {
      throw new SimulationError(`--order "${requested}": ${provider} names the order by a number in this configuration, so the order id must be digits`);
    }
  }
  const freshId = () => (numericId ? String(randomInt(100_000_000, MAX_NUMERIC_ID)) : simOrderId(provider, scenario));
  const input = part.order(config, scenario);
  if (!admin) {
    const orderId = requested ?? freshId();
    notes.push(
      requested
        ? `ADMIN_TOKEN is not set: order ${orderId} could not be read, so the default ${input.amount} ${input.currency} was assumed; the order is not shown.`
        : `ADMIN_TOKEN is not set: no order was created, so ${orderId} is unknown to payhooks (a provider that checks the order refuses it; the others record the payment without an order).`,
    );
    return { orderId, amount: input.amount, currency: input.currency, refundable: input.refundable ?? false, references: input.references ?? {}, source: "assumed" };
  }
  if (requested !== undefined) {
    const existing = await admin.get(requested);
    if (!existing) throw new SimulationError(`order ${requested} does not exist (admin API ${admin.base}): leave out --order to create one`);
    // The references the part's own order carries are how the provider names the order: an
    // existing order must have them too.
    for (const key of Object.keys(input.references ?? {}) as ProviderId[]) {
      if (!existing.references[key]) {
        throw new SimulationError(`order ${requested} has no ${key} reference: create it with "references": {"${key}": "<reference>"}, or leave out --order`);
      }
    }
    return fromView(existing, "existing");
  }
  // A fresh id: a collision with an existing order would be a 200 update, so retry on that.
  for (let attempt = 0; attempt < 5; attempt++) {
    const orderId = freshId();
    if (await admin.get(orderId)) continue;
    return fromView(await admin.put(orderId, input), "created");
  }
  throw new SimulationError("could not find a free order id after 5 tries");
}

// ---------------------------------------------------------------------------------------------

/**
 * Plays one scenario at a running ingress and reports it. Throws SimulationError before sending
 * anything for an unknown provider or scenario, a missing secret or a bad `--order`; and when
 * the ingress or admin API cannot be reached. An answer the provider would not accept is not an
 * error: it is reported (`ok: false`, a note saying why) and the scenario stops there.
 */
export async function simulate(opts: SimulateOptions): Promise<SimulationReport> {
  const { provider, scenario, config } = opts;
  const { part, chosen } = resolveScenario(opts.providers, provider, scenario);
  const settings = driverSettings(config);
  const log = opts.log ?? (() => undefined);

  // Secrets first: nothing is created or sent for a simulation that cannot be signed.
  checkMissing(part, chosen, config);

  const ingressUrl = (opts.url ?? `http://127.0.0.1:${settings.port}`).replace(/\/+$/, "");
  if (!/^https?:\/\/[^/]+/.test(ingressUrl)) throw new SimulationError(`--url "${opts.url}" is not an http(s) URL such as http://localhost:3000`);
  const admin = createAdminClient(settings, opts.adminUrl);
  const notes: string[] = [];
  const order = await resolveOrder(provider, scenario, part, config, admin, opts.orderId, notes);
  log(`${provider} ${scenario}: ${chosen.description}`);
  log(`order ${order.orderId} (${order.source}): ${order.amount} ${order.currency} minor units${order.refundable ? ", refundable" : ""}`);

  const run: Run = { provider, ingressUrl, order, admin, log, settleTimeoutMs: opts.settleTimeoutMs ?? 5_000, steps: [], notes, gapDue: false };
  const ctx: ScenarioContext<unknown> = {
    config,
    order,
    now: Date.now,
    send: (request) => send(run, request),
    note: (line) => {
      notes.push(line);
    },
  };
  await chosen.run(ctx);

  const finalOrder = admin && order.source !== "assumed" ? await admin.get(order.orderId) : null;
  if (finalOrder) log(`order ${finalOrder.orderId} is now ${finalOrder.status}, paidAmount ${finalOrder.paidAmount} ${finalOrder.currency}`);
  return {
    provider,
    scenario,
    description: chosen.description,
    ingressUrl,
    order,
    steps: run.steps,
    finalOrder,
    notes,
    ok: run.steps.length > 0 && run.steps.every((s) => s.ok && s.settled !== false),
  };
}

/** The report as lines for a terminal: steps, answers, the order's end state and the notes. */
export function formatReport(report: SimulationReport): string {
  const lines = [`${report.provider} ${report.scenario}: ${report.description}`, `order ${report.order.orderId} (${report.order.source}), ${report.order.amount} ${report.order.currency} minor units`];
  for (const [i, step] of report.steps.entries()) {
    lines.push(`${i + 1}. ${step.name}: ${step.request.summary}`);
    lines.push(`   → ${step.status} ${typeof step.answer === "string" ? step.answer : JSON.stringify(step.answer)}${step.ok ? "" : `  ✗ expected ${step.expected}`}`);
    if (step.order) lines.push(`   order: ${step.order.status}, paidAmount ${step.order.paidAmount}${step.settled === false ? " (not applied yet)" : ""}`);
  }
  if (report.finalOrder) lines.push(`final: ${report.finalOrder.status}, paidAmount ${report.finalOrder.paidAmount} ${report.finalOrder.currency}`);
  for (const note of report.notes) lines.push(`note: ${note}`);
  lines.push(report.ok ? "ok" : "NOT ok");
  return lines.join("\n");
}
