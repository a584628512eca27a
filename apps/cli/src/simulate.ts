/**
 * `payhooks simulate <provider> <scenario>`: plays a provider's traffic at a running ingress, the
 * way `stripe trigger` does — correctly signed with the same secrets the ingress reads from the
 * environment — and reports what was sent, what was answered and, when the admin API is on
 * (ADMIN_TOKEN), what became of the order.
 *
 * Signing goes through each provider package's own `signForTest`; Payme is plain Basic auth.
 * Nothing here logs a secret: Basic credentials are shown as `Paycom:***`, and Payram is signed
 * with `X-Payram-Signature` only (never the legacy `API-Key` header, which is the key itself).
 */
import { randomBytes, randomInt, randomUUID } from "node:crypto";
import {
  ORDER_ID_PATTERN,
  PROVIDER_IDS,
  PayhooksError,
  currencyExponent,
  formatMinorUnits,
  type OrderInput,
  type OrderView,
  type ProviderId,
} from "@payhooks/core";
import { PAYME_ERRORS, PAYME_TIMEOUT_MS, basicAuthorization } from "@payhooks/payme";
import { signForTest as signPayram } from "@payhooks/payram";
import { signForTest as signPayske } from "@payhooks/payske";
import { ROBOKASSA_HASHES, signForTest as signRobokassa, type RobokassaHash } from "@payhooks/robokassa";

/** Every scenario, by provider, with the line `payhooks simulate --help` shows for it. */
export const SCENARIOS = {
  payme: {
    check: "CheckPerformTransaction for a fresh order: allowed, with its fiscal detail",
    create: "CheckPerformTransaction + CreateTransaction: the order is reserved (state 1)",
    perform: "check, CreateTransaction + PerformTransaction: the order is paid (state 2)",
    cancel: "check, CreateTransaction + CancelTransaction (reason 3): the reservation is released (state -1)",
    refund: "check, Create + Perform + CancelTransaction (reason 5) on a refundable order: refunded (state -2)",
    timeout: "a CreateTransaction whose Payme time is already 12 h old: refused with -31008",
  },
  robokassa: {
    result: "a ResultURL notice (POST) paying the order in full: answered OK{InvId}, order paid",
    test: "a ResultURL notice with IsTest=1, signed with the test Password #2: recorded, order unchanged",
  },
  payram: {
    filled: "OPEN, then FILLED for the full amount: order paid",
    partial: "OPEN, PARTIALLY_FILLED, then FILLED: order partially_paid, then paid",
    overpaid: "OPEN, then OVER_FILLED with more than requested: order overpaid",
  },
  payske: {
    succeeded: "payment_intent.succeeded for the order: paid",
    refunded: "payment_intent.succeeded, then charge.refunded in full: refunded",
    failed: "payment_intent.payment_failed (card declined): order stays awaiting_payment",
    checkout: "checkout.session.completed, paid, naming the order by client_reference_id: paid",
  },
} as const satisfies Partial<Record<ProviderId, Record<string, string>>>;

export type SimulatedProvider = keyof typeof SCENARIOS;

/** A refusal to simulate: an unknown provider or scenario, a missing secret, an unreachable service. */
export class SimulationError extends PayhooksError {
  readonly code = "simulation_refused";
}

export type SimulateOptions = {
  /** `payme`, `robokassa`, `payram` or `payske` */
  provider: string;
  /** a key of `SCENARIOS[provider]` */
  scenario: string;
  /** the ingress's public base URL. @defaultValue `http://127.0.0.1:${PORT ?? 3000}` */
  url?: string;
  /** an existing order to pay instead of creating one */
  orderId?: string;
  /** where the secrets, ADMIN_TOKEN, ADMIN_HOST/ADMIN_PORT and provider settings are read */
  env: NodeJS.ProcessEnv;
  /** one line per request, answer and order change, as they happen. @defaultValue no-op */
  log?: (line: string) => void;
  /** the admin API's base URL. @defaultValue `http://${ADMIN_HOST}:${ADMIN_PORT}` */
  adminUrl?: string;
  /** how long to wait for the worker to apply an asynchronous notice. @defaultValue 5000 */
  settleTimeoutMs?: number;
};

/** The order the traffic is for, and where its figures came from. */
export type SimulatedOrder = {
  orderId: string;
  /** integer minor units of `currency` */
  amount: number;
  currency: string;
  refundable: boolean;
  references: Partial<Record<ProviderId, string>>;
  /**
   * `created` through the admin API, `existing` as read from it, or `assumed` when the admin API
   * is off (no ADMIN_TOKEN) and the scenario's default figures were used.
   */
  source: "created" | "existing" | "assumed";
};

export type OrderState = { status: string; paidAmount: number };

export type SimulationStep = {
  /** what the provider does in this step, e.g. `CreateTransaction` or `PARTIALLY_FILLED` */
  name: string;
  request: { method: "POST"; url: string; summary: string; contentType: string; body: string };
  /** HTTP status of the answer */
  status: number;
  /** the answer's body: parsed when it is JSON, else the text */
  answer: unknown;
  /** what the provider expects to hear, in words */
  expected: string;
  /** whether the answer is what the provider expects */
  ok: boolean;
  /**
   * For an asynchronous provider: whether the worker was seen applying the notice within
   * `settleTimeoutMs` (absent when the order cannot be read: no ADMIN_TOKEN, or a bad answer).
   */
  settled?: boolean;
  /** the order right after this step, when the admin API is on */
  order?: OrderState;
};

export type SimulationReport = {
  provider: SimulatedProvider;
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

/** Payme's 12 hours (payme.md §3.2), plus a minute so the worker's clock cannot round it down. */
const PAYME_STALE_MS = PAYME_TIMEOUT_MS + 60_000;
/** Payme cancel reasons (payme.md §3.4): 3 = error while performing, 5 = refund. */
const PAYME_REASON_CANCEL = 3;
const PAYME_REASON_REFUND = 5;
/** Without the admin API the worker cannot be watched: async notices are spaced this far apart. */
const STEP_GAP_MS = 300;
const REQUEST_TIMEOUT_MS = 15_000;
const SETTLE_POLL_MS = 50;
/** RoboKassa's InvId is an int32 in the shop cabinet; a simulated one stays in its range. */
const MAX_INV_ID = 2_147_483_647;

/** The default order per provider: realistic amounts in each provider's own currency. */
const DEFAULT_ORDERS = {
  /** 50 000 UZS in tiyin */
  payme: { amount: 5_000_000, currency: "UZS" },
  /** 1 500 RUB in kopecks: OutSum 1500.000000 */
  robokassa: { amount: 150_000, currency: "RUB" },
  /** 49.99 USD in cents */
  payram: { amount: 4_999, currency: "USD" },
  /** 49.99 USD in cents */
  payske: { amount: 4_999, currency: "USD" },
} as const satisfies Record<SimulatedProvider, { amount: number; currency: string }>;

type Env = NodeJS.ProcessEnv;
/** An empty variable counts as unset, as in the ingress's config. */
const read = (env: Env, name: string): string | undefined => (env[name] === undefined || env[name] === "" ? undefined : env[name]);

function required(env: Env, name: string, why: string): string {
  const value = read(env, name);
  if (value === undefined) throw new SimulationError(`${name} is not set: ${why}. Set it to the value the ingress runs with.`);
  return value;
}

/** The provider and scenario asked for, or a SimulationError listing the choices. */
function resolveScenario(provider: string, scenario: string): { provider: SimulatedProvider; description: string } {
  if (!(PROVIDER_IDS as readonly string[]).includes(provider)) {
    throw new SimulationError(`unknown provider "${provider}": choose one of ${PROVIDER_IDS.join(", ")}`);
  }
  const p = provider as SimulatedProvider;
  const scenarios: Record<string, string> = SCENARIOS[p];
  const description = Object.hasOwn(scenarios, scenario) ? scenarios[scenario] : undefined;
  if (description === undefined) {
    throw new SimulationError(`unknown scenario "${scenario}" for ${provider}: choose one of ${Object.keys(scenarios).join(", ")}`);
  }
  return { provider: p, description };
}

// ---------------------------------------------------------------------------------------------
// The admin API (orders)

type AdminClient = {
  base: string;
  get(orderId: string): Promise<OrderView | null>;
  put(orderId: string, input: OrderInput): Promise<OrderView>;
};

function adminBaseUrl(env: Env): string {
  let host = read(env, "ADMIN_HOST") ?? "127.0.0.1";
  // A wildcard bind address is reached through loopback.
  if (host === "0.0.0.0") host = "127.0.0.1";
  if (host === "::") host = "::1";
  if (host.includes(":") && !host.startsWith("[")) host = `[${host}]`;
  return `http://${host}:${read(env, "ADMIN_PORT") ?? "3001"}`;
}

function createAdminClient(env: Env, adminUrl: string | undefined): AdminClient | null {
  const token = read(env, "ADMIN_TOKEN");
  if (!token) return null;
  const base = (adminUrl ?? adminBaseUrl(env)).replace(/\/+$/, "");
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
// Ids and amounts that look like the provider's own

const ALPHANUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/** A Stripe-style object id: `pi_3` + 24 alphanumerics. */
const stripeId = (prefix: string): string => prefix + [...randomBytes(24)].map((b) => ALPHANUM[b % ALPHANUM.length]).join("");
/** A Payme transaction id: 24 hex characters, like Payme's own. */
const paymeId = (): string => randomBytes(12).toString("hex");
const simOrderId = (provider: string, scenario: string): string => `sim-${provider}-${scenario}-${randomBytes(4).toString("hex")}`;

/** Minor units as the provider writes them: "49.99" (Payram), "1500.000000" (RoboKassa, 6 places). */
function decimal(minor: number, currency: string, places?: number): string {
  const text = formatMinorUnits(minor, currencyExponent(currency));
  if (places === undefined) return text;
  const [whole, fraction = ""] = text.split(".");
  return `${whole}.${fraction.padEnd(places, "0")}`;
}

// ---------------------------------------------------------------------------------------------
// Running steps

type Run = {
  provider: SimulatedProvider;
  ingressUrl: string;
  order: SimulatedOrder;
  admin: AdminClient | null;
  log: (line: string) => void;
  settleTimeoutMs: number;
  steps: SimulationStep[];
  notes: string[];
};

type StepRequest = {
  name: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  summary: string;
  expected: string;
  accept: (status: number, answer: unknown) => boolean;
};

async function send(run: Run, step: StepRequest): Promise<SimulationStep> {
  const url = `${run.ingressUrl}${step.path}`;
  run.log(`→ ${step.name}: ${step.summary}`);
  let res: Response;
  try {
    res = await fetch(url, { method: "POST", headers: step.headers, body: step.body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (err) {
    throw new SimulationError(`the ingress at ${run.ingressUrl} did not answer ${step.name} (${causeOf(err)}): is payhooks running there?`, { cause: err });
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
  const ok = step.accept(res.status, answer);
  run.log(`← ${res.status} ${typeof answer === "string" ? answer : JSON.stringify(answer)}${ok ? "" : `  (expected ${step.expected})`}`);
  const result: SimulationStep = {
    name: step.name,
    request: { method: "POST", url, summary: step.summary, contentType: step.headers["content-type"] ?? "", body: step.body },
    status: res.status,
    answer,
    expected: step.expected,
    ok,
  };
  run.steps.push(result);
  return result;
}

const stateOf = (order: OrderView): OrderState => ({ status: order.status, paidAmount: order.paidAmount });

/** Reads the order after a synchronous step (Payme: the answer comes after the ledger changed). */
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
 * the payment in `status` (or just present), so the next notice arrives after this one was
 * applied, as a provider's would. Without the admin API it can only wait a little.
 */
async function settle(run: Run, step: SimulationStep, payment: { id: string; status?: string }, last: boolean): Promise<void> {
  if (!step.ok) return;
  if (!run.admin || run.order.source === "assumed") {
    if (!last) await new Promise((r) => setTimeout(r, STEP_GAP_MS));
    return;
  }
  const deadline = Date.now() + run.settleTimeoutMs;
  for (;;) {
    const order = await run.admin.get(run.order.orderId);
    const seen = order?.payments.find(
      (p) => p.provider === run.provider && p.providerPaymentId === payment.id && (payment.status === undefined || p.providerStatus === payment.status),
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
// Payme (request–reply JSON-RPC, payme.md; Basic auth `Paycom:<KEY>`)

type PaymeSecrets = { login: string; key: string; accountField: string };

function paymeSecrets(env: Env): PaymeSecrets {
  return {
    key: required(env, "PAYME_KEY", "Payme calls authenticate with Basic auth Paycom:<PAYME_KEY>"),
    login: read(env, "PAYME_LOGIN") ?? "Paycom",
    accountField: read(env, "PAYME_ACCOUNT_FIELD") ?? "order_id",
  };
}

const PAYME_HINTS: Partial<Record<number, string>> = {
  [PAYME_ERRORS.INSUFFICIENT_PRIVILEGE]:
    "-32504: the ingress refused the credentials. Check PAYME_KEY and PAYME_LOGIN; after a ChangePassword the key in Redis replaces PAYME_KEY.",
  [PAYME_ERRORS.ACCOUNT_INVALID]: "-31050: the ingress does not know the order (create it with ADMIN_TOKEN set, or name one with --order).",
  [PAYME_ERRORS.WRONG_AMOUNT]: "-31001: the amount differs from the order's, or the order is not in UZS.",
  [PAYME_ERRORS.CANNOT_PERFORM]: "-31008: the order is not awaiting payment (already reserved, paid or cancelled): use a fresh order.",
  [PAYME_ERRORS.CANNOT_CANCEL]: "-31007: the order was not created with refundable: true, so a performed transaction cannot be cancelled.",
  [PAYME_ERRORS.SYSTEM_ERROR]: "-32400: no worker answered within PAYME_RPC_TIMEOUT_MS: is a worker running?",
};

async function runPayme(run: Run, scenario: keyof (typeof SCENARIOS)["payme"], secrets: PaymeSecrets): Promise<void> {
  const { order } = run;
  const authorization = basicAuthorization(secrets.login, secrets.key);
  const account = { [secrets.accountField]: order.orderId };
  const id = paymeId();
  let rpcId = 1;

  /** One JSON-RPC call; true when it was answered as expected. */
  const call = async (method: string, params: Record<string, unknown>, expected: string, accept: (answer: PaymeAnswer) => boolean, summary: string): Promise<boolean> => {
    const body = JSON.stringify({ method, params, id: rpcId++ });
    const step = await send(run, {
      name: method,
      path: "/webhooks/payme",
      // Payme's own example sends `text/json` (payme.md §1.1).
      headers: { "content-type": "text/json; charset=UTF-8", authorization },
      body,
      summary: `${summary} (Basic ${secrets.login}:***)`,
      expected,
      accept: (status, answer) => status === 200 && typeof answer === "object" && answer !== null && accept(answer as PaymeAnswer),
    });
    await observe(run, step);
    if (!step.ok) {
      const code = (step.answer as PaymeAnswer | null)?.error?.code;
      stopped(run, step, code === undefined ? undefined : PAYME_HINTS[code]);
    }
    return step.ok;
  };
  const state = (s: number) => (a: PaymeAnswer) => a.result?.["state"] === s;

  const check = () =>
    call("CheckPerformTransaction", { amount: order.amount, account }, "result.allow true", (a) => a.result?.["allow"] === true, `amount ${order.amount} tiyin, ${secrets.accountField} ${order.orderId}`);
  const create = (time: number, expected = "result.state 1", accept = state(1)) =>
    call("CreateTransaction", { id, time, amount: order.amount, account }, expected, accept, `id ${id}, time ${new Date(time).toISOString()}, amount ${order.amount} tiyin`);
  const perform = () => call("PerformTransaction", { id }, "result.state 2", state(2), `id ${id}`);
  const cancel = (reason: number, expectedState: number) => call("CancelTransaction", { id, reason }, `result.state ${expectedState}`, state(expectedState), `id ${id}, reason ${reason}`);

  switch (scenario) {
    case "check":
      await check();
      return;
    case "create":
      if (await check()) await create(Date.now());
      return;
    case "perform":
      if ((await check()) && (await create(Date.now()))) await perform();
      return;
    case "cancel":
      if ((await check()) && (await create(Date.now()))) await cancel(PAYME_REASON_CANCEL, -1);
      return;
    case "refund":
      if ((await check()) && (await create(Date.now())) && (await perform())) await cancel(PAYME_REASON_REFUND, -2);
      return;
    case "timeout":
      run.notes.push(
        "timeout: Payme's `time` is set 12 h back, so the worker refuses the new transaction with -31008 at once. The real expiry — a transaction created in time, " +
          "then left 12 hours until Payme's Perform or Create finds it expired (state -1, reason 4) — runs on the worker's clock: it cannot be simulated from outside " +
          "(the tests shift that clock with CLOCK_OFFSET_MS, which only NODE_ENV=test accepts).",
      );
      if (await check()) await create(Date.now() - PAYME_STALE_MS, "error.code -31008", (a) => a.error?.code === PAYME_ERRORS.CANNOT_PERFORM);
      return;
    default: {
      const exhaustive: never = scenario;
      return exhaustive;
    }
  }
}

type PaymeAnswer = { result?: Record<string, unknown>; error?: { code: number } };

// ---------------------------------------------------------------------------------------------
// RoboKassa (ResultURL, providers.md §1: `OutSum:InvId:Password#2[:Shp_…]`)

type RobokassaSecrets = { password2: string; algorithm: RobokassaHash; orderParam: string | null; currency: string };

function robokassaSecrets(env: Env, scenario: keyof (typeof SCENARIOS)["robokassa"]): RobokassaSecrets {
  const password2 =
    scenario === "test"
      ? required(env, "ROBOKASSA_TEST_PASSWORD2", "an IsTest=1 notice is signed with the test Password #2")
      : required(env, "ROBOKASSA_PASSWORD2", "a ResultURL notice is signed with Password #2");
  const hash = read(env, "ROBOKASSA_HASH") ?? "md5";
  if (!(ROBOKASSA_HASHES as readonly string[]).includes(hash)) {
    throw new SimulationError(`ROBOKASSA_HASH "${hash}" is not one of ${ROBOKASSA_HASHES.join(", ")}`);
  }
  return { password2, algorithm: hash as RobokassaHash, orderParam: read(env, "ROBOKASSA_ORDER_PARAM") ?? null, currency: read(env, "ROBOKASSA_CURRENCY") ?? "RUB" };
}

async function runRobokassa(run: Run, scenario: keyof (typeof SCENARIOS)["robokassa"], secrets: RobokassaSecrets, invId: string): Promise<void> {
  const { order } = run;
  const outSum = decimal(order.amount, order.currency, 6);
  // RoboKassa's commission, as it reports it in Fee (3.9 %, a typical card rate).
  const fee = decimal(Math.round(order.amount * 0.039), order.currency, 6);
  const params: Record<string, string> = {
    OutSum: outSum,
    InvId: invId,
    Fee: fee,
    EMail: "buyer@example.com",
    PaymentMethod: "BankCard",
    IncCurrLabel: "BankCardPSR",
    ...(scenario === "test" ? { IsTest: "1" } : {}),
    ...(secrets.orderParam ? { [secrets.orderParam]: order.orderId } : {}),
  };
  const signed = signRobokassa(params, secrets.password2, secrets.algorithm);
  const step = await send(run, {
    name: scenario === "test" ? "ResultURL (IsTest=1)" : "ResultURL",
    path: "/webhooks/robokassa/result",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(signed).toString(),
    summary: `InvId ${invId}, OutSum ${outSum} ${secrets.currency}${secrets.orderParam ? `, ${secrets.orderParam} ${order.orderId}` : ""}, ${secrets.algorithm} with ${scenario === "test" ? "test " : ""}Password #2`,
    expected: `200 OK${invId}`,
    accept: (status, answer) => status === 200 && answer === `OK${invId}`,
  });
  if (!step.ok) {
    const hint =
      step.answer === "bad sign"
        ? `The signature was refused: check ROBOKASSA_${scenario === "test" ? "TEST_" : ""}PASSWORD2, ROBOKASSA_HASH and ROBOKASSA_ORDER_PARAM against the ingress's.`
        : step.status === 503
          ? "503: RoboKassa is not configured on the ingress (ROBOKASSA_PASSWORD1 and 2), or Redis did not confirm the job."
          : undefined;
    return stopped(run, step, hint);
  }
  if (scenario === "test") run.notes.push("test: IsTest=1 notices are recorded (payment test-{InvId}, livemode false) but never move an order: it stays as it was.");
  if (order.currency !== secrets.currency) run.notes.push(`the order is in ${order.currency}, the shop in ${secrets.currency} (ROBOKASSA_CURRENCY): expect payment.amount_mismatch.`);
  await settle(run, step, { id: scenario === "test" ? `test-${invId}` : invId }, true);
}

// ---------------------------------------------------------------------------------------------
// Payram (X-Payram-Signature: sha256=<HMAC of the raw body>, providers.md §2)

async function runPayram(run: Run, scenario: keyof (typeof SCENARIOS)["payram"], secret: string): Promise<void> {
  const { order } = run;
  const reference = order.references.payram!;
  const requested = order.amount;
  const fills: Array<[status: string, filled: number]> =
    scenario === "filled"
      ? [["OPEN", 0], ["FILLED", requested]]
      : scenario === "partial"
        ? [["OPEN", 0], ["PARTIALLY_FILLED", Math.max(1, Math.floor(requested * 0.4))], ["FILLED", requested]]
        : [["OPEN", 0], ["OVER_FILLED", requested + Math.max(1, Math.ceil(requested * 0.1))]];
  for (const [index, [status, filled]] of fills.entries()) {
    const body = JSON.stringify({
      reference_id: reference,
      invoice_id: `INV-${order.orderId}`,
      customer_id: "cust_sim_0001",
      customer_email: "buyer@example.com",
      status,
      amount: decimal(requested, order.currency),
      filled_amount: decimal(filled, order.currency),
      ...(order.currency === "USD" ? { filled_amount_in_usd: decimal(filled, "USD") } : {}),
      currency: order.currency,
      timestamp: Math.floor(Date.now() / 1000),
    });
    const step = await send(run, {
      name: status,
      path: "/webhooks/payram",
      headers: signPayram(body, secret, "signature"),
      body,
      summary: `reference_id ${reference}, amount ${decimal(requested, order.currency)} ${order.currency}, filled_amount ${decimal(filled, order.currency)}`,
      expected: "200 Webhook received successfully",
      accept: (code) => code === 200,
    });
    if (!step.ok) {
      return stopped(run, step, step.status === 401 ? "401: the signature was refused; check PAYRAM_WEBHOOK_SECRET against the ingress's." : undefined);
    }
    await settle(run, step, { id: reference, status }, index === fills.length - 1);
  }
}

// ---------------------------------------------------------------------------------------------
// Payske (Stripe-style events; Payske-Signature: t=…,v1=…, providers.md §3)

type PayskeSecrets = { secret: string; orderKey: string };

function payskeSecrets(env: Env): PayskeSecrets {
  const list = required(env, "PAYSKE_WEBHOOK_SECRET", "Payske deliveries are signed with the endpoint secret");
  const secret = list.split(",").map((s) => s.trim()).find((s) => s !== "");
  if (!secret) throw new SimulationError("PAYSKE_WEBHOOK_SECRET holds no secret (check the commas)");
  return { secret, orderKey: read(env, "PAYSKE_ORDER_METADATA_KEY") ?? "order_id" };
}

async function runPayske(run: Run, scenario: keyof (typeof SCENARIOS)["payske"], secrets: PayskeSecrets): Promise<void> {
  const { order } = run;
  const currency = order.currency.toLowerCase();
  const pi = stripeId("pi_3");
  const charge = stripeId("ch_3");
  const metadata = { [secrets.orderKey]: order.orderId };
  const createdAt = Math.floor(Date.now() / 1000);
  const paymentIntent = {
    id: pi,
    object: "payment_intent",
    amount: order.amount,
    amount_received: order.amount,
    currency,
    status: "succeeded",
    latest_charge: charge,
    payment_method_types: ["card"],
    description: `Order ${order.orderId}`,
    metadata,
    created: createdAt,
    livemode: true,
  };
  const event = (type: string, object: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    id: stripeId("evt_1"),
    object: "event",
    api_version: "2024-06-20",
    created: Math.floor(Date.now() / 1000),
    data: { object, ...extra },
    livemode: true,
    pending_webhooks: 1,
    request: { id: stripeId("req_"), idempotency_key: randomUUID() },
    type,
  });

  const events: Array<{ body: ReturnType<typeof event>; summary: string; payment: string; status: string }> = [];
  const paid = (what: string) => `${what} ${order.amount} ${currency}, metadata.${secrets.orderKey} ${order.orderId}`;
  switch (scenario) {
    case "succeeded":
    case "refunded":
      events.push({ body: event("payment_intent.succeeded", paymentIntent), summary: `${pi}, ${paid("amount_received")}`, payment: pi, status: "succeeded" });
      if (scenario === "refunded") {
        const refunded = {
          id: charge,
          object: "charge",
          amount: order.amount,
          amount_captured: order.amount,
          amount_refunded: order.amount,
          captured: true,
          refunded: true,
          currency,
          payment_intent: pi,
          status: "succeeded",
          metadata,
          created: createdAt,
          livemode: true,
        };
        events.push({
          body: event("charge.refunded", refunded, { previous_attributes: { amount_refunded: 0, refunded: false } }),
          summary: `${charge} of ${pi}, amount_refunded ${order.amount} of ${order.amount} ${currency}`,
          payment: pi,
          status: "refunded",
        });
      }
      break;
    case "failed":
      events.push({
        body: event("payment_intent.payment_failed", {
          ...paymentIntent,
          amount_received: 0,
          status: "requires_payment_method",
          latest_charge: null,
          last_payment_error: { type: "card_error", code: "card_declined", decline_code: "insufficient_funds", message: "Your card has insufficient funds." },
        }),
        summary: `${pi}, ${paid("amount")}, card_declined / insufficient_funds`,
        payment: pi,
        status: "failed",
      });
      break;
    case "checkout": {
      const session = {
        id: stripeId("cs_live_a1"),
        object: "checkout.session",
        mode: "payment",
        status: "complete",
        payment_status: "paid",
        amount_subtotal: order.amount,
        amount_total: order.amount,
        currency,
        client_reference_id: order.orderId,
        customer_details: { email: "buyer@example.com" },
        payment_intent: pi,
        // The order travels in client_reference_id only: that is the path this scenario exercises.
        metadata: {},
        created: createdAt,
        livemode: true,
      };
      events.push({
        body: event("checkout.session.completed", session),
        summary: `${session.id} (payment_intent ${pi}), amount_total ${order.amount} ${currency}, client_reference_id ${order.orderId}`,
        payment: pi,
        status: "succeeded",
      });
      break;
    }
    default: {
      const exhaustive: never = scenario;
      return exhaustive;
    }
  }

  for (const [index, e] of events.entries()) {
    const body = JSON.stringify(e.body);
    const step = await send(run, {
      name: e.body.type,
      path: "/webhooks/payske",
      headers: { "content-type": "application/json; charset=utf-8", "payske-signature": signPayske(body, secrets.secret, Math.floor(Date.now() / 1000)) },
      body,
      summary: `${e.body.id}: ${e.summary}`,
      expected: '200 {"received":true}',
      accept: (status, answer) => status === 200 && (answer as { received?: unknown } | null)?.received === true,
    });
    if (!step.ok) {
      return stopped(run, step, step.status === 400 ? "400: the ingress refused the delivery; check PAYSKE_WEBHOOK_SECRET (and the clocks, for timestamp_out_of_tolerance)." : undefined);
    }
    await settle(run, step, { id: e.payment, status: e.status }, index === events.length - 1);
  }
}

// ---------------------------------------------------------------------------------------------
// Orders

/** The order the scenario wants when it creates one. */
function orderInput(provider: SimulatedProvider, scenario: string, env: Env): OrderInput {
  switch (provider) {
    case "payme": {
      const { amount, currency } = DEFAULT_ORDERS.payme;
      return {
        amount,
        currency,
        ...(scenario === "refund" ? { refundable: true } : {}),
        // A Payme fiscal item, so CheckPerformTransaction answers with the receipt detail.
        items: [{ title: "Simulated order", price: amount, count: 1, code: "10899002001000000", package_code: "1501476", vat_percent: 12 }],
      };
    }
    case "robokassa":
      return { amount: DEFAULT_ORDERS.robokassa.amount, currency: read(env, "ROBOKASSA_CURRENCY") ?? DEFAULT_ORDERS.robokassa.currency };
    case "payram":
      return { ...DEFAULT_ORDERS.payram, references: { payram: randomUUID() } };
    case "payske":
      return { ...DEFAULT_ORDERS.payske };
    default: {
      const exhaustive: never = provider;
      return exhaustive;
    }
  }
}

const fromView = (view: OrderView, source: SimulatedOrder["source"]): SimulatedOrder => ({
  orderId: view.orderId,
  amount: view.amount,
  currency: view.currency,
  refundable: view.refundable,
  references: view.references,
  source,
});

async function resolveOrder(
  provider: SimulatedProvider,
  scenario: string,
  env: Env,
  admin: AdminClient | null,
  requested: string | undefined,
  numericId: boolean,
  notes: string[],
): Promise<SimulatedOrder> {
  if (requested !== undefined) {
    if (!ORDER_ID_PATTERN.test(requested)) throw new SimulationError(`--order "${requested}" is not an order id: 1-128 of A-Z a-z 0-9 . _ ~ -`);
    if (numericId && !/^\d{1,19}$/.test(requested)) {
      throw new SimulationError(`--order "${requested}": RoboKassa names the order by its numeric InvId (unless ROBOKASSA_ORDER_PARAM is set), so the order id must be digits`);
    }
  }
  const input = orderInput(provider, scenario, env);
  if (!admin) {
    const orderId = requested ?? (numericId ? String(randomInt(100_000_000, MAX_INV_ID)) : simOrderId(provider, scenario));
    notes.push(
      requested
        ? `ADMIN_TOKEN is not set: order ${orderId} could not be read, so the default ${input.amount} ${input.currency} was assumed; the order is not shown.`
        : `ADMIN_TOKEN is not set: no order was created, so ${orderId} is unknown to payhooks (Payme answers -31050; the others record the payment without an order).`,
    );
    if (provider === "payram") notes.push(`Payram: reference_id ${input.references?.payram} is new, so the payment cannot be matched to an order.`);
    return { orderId, amount: input.amount, currency: input.currency, refundable: input.refundable ?? false, references: input.references ?? {}, source: "assumed" };
  }
  if (requested !== undefined) {
    const existing = await admin.get(requested);
    if (!existing) throw new SimulationError(`order ${requested} does not exist (admin API ${admin.base}): leave out --order to create one`);
    if (provider === "payram" && !existing.references.payram) {
      throw new SimulationError(`order ${requested} has no Payram reference: create it with "references": {"payram": "<reference_id>"}, or leave out --order`);
    }
    return fromView(existing, "existing");
  }
  // A fresh id: a collision with an existing order would be a 200 update, so retry on that.
  for (let attempt = 0; attempt < 5; attempt++) {
    const orderId = numericId ? String(randomInt(100_000_000, MAX_INV_ID)) : simOrderId(provider, scenario);
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
  const { provider, description } = resolveScenario(opts.provider, opts.scenario);
  const env = opts.env;
  const log = opts.log ?? (() => undefined);
  const scenario = opts.scenario;

  // Secrets first: nothing is created or sent for a simulation that cannot be signed.
  const secrets =
    provider === "payme"
      ? { provider, s: paymeSecrets(env) }
      : provider === "robokassa"
        ? { provider, s: robokassaSecrets(env, scenario as keyof (typeof SCENARIOS)["robokassa"]) }
        : provider === "payram"
          ? { provider, s: required(env, "PAYRAM_WEBHOOK_SECRET", "Payram webhooks are signed with the project API key") }
          : { provider, s: payskeSecrets(env) };

  const ingressUrl = (opts.url ?? `http://127.0.0.1:${read(env, "PORT") ?? "3000"}`).replace(/\/+$/, "");
  if (!/^https?:\/\/[^/]+/.test(ingressUrl)) throw new SimulationError(`--url "${opts.url}" is not an http(s) URL such as http://localhost:3000`);
  const admin = createAdminClient(env, opts.adminUrl);
  const notes: string[] = [];
  const orderParam = secrets.provider === "robokassa" ? secrets.s.orderParam : null;
  const numericId = provider === "robokassa" && orderParam === null;
  const order = await resolveOrder(provider, scenario, env, admin, opts.orderId, numericId, notes);
  log(`${provider} ${scenario}: ${description}`);
  log(`order ${order.orderId} (${order.source}): ${order.amount} ${order.currency} minor units${order.refundable ? ", refundable" : ""}`);

  const run: Run = { provider, ingressUrl, order, admin, log, settleTimeoutMs: opts.settleTimeoutMs ?? 5_000, steps: [], notes };
  switch (secrets.provider) {
    case "payme":
      await runPayme(run, scenario as keyof (typeof SCENARIOS)["payme"], secrets.s);
      break;
    case "robokassa": {
      const invId = numericId ? order.orderId : String(randomInt(100_000_000, MAX_INV_ID));
      await runRobokassa(run, scenario as keyof (typeof SCENARIOS)["robokassa"], secrets.s, invId);
      break;
    }
    case "payram":
      await runPayram(run, scenario as keyof (typeof SCENARIOS)["payram"], secrets.s);
      break;
    case "payske":
      await runPayske(run, scenario as keyof (typeof SCENARIOS)["payske"], secrets.s);
      break;
    default: {
      const exhaustive: never = secrets;
      return exhaustive;
    }
  }

  const finalOrder = admin && order.source !== "assumed" ? await admin.get(order.orderId) : null;
  if (finalOrder) log(`order ${finalOrder.orderId} is now ${finalOrder.status}, paidAmount ${finalOrder.paidAmount} ${finalOrder.currency}`);
  return {
    provider,
    scenario,
    description,
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
