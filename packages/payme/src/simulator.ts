/**
 * `payhooks simulate payme <scenario>`: Payme's JSON-RPC calls (docs/protocols/payme.md), authenticated as Payme
 * authenticates them — Basic auth `Paycom:<PAYME_KEY>` — and shown with the key masked
 * (`Basic Paycom:***`). Payme is request–reply: each answer comes after the ledger changed, so no
 * step waits for a worker (no `settles`).
 */
import { randomBytes } from "node:crypto";
import type { Scenario, ScenarioContext, SimulatedRequest, SimulatorPart } from "@payhooks/core";
import type { PaymeConfig } from "./config";
import { PAYME_ERRORS } from "./errors";
import { basicAuthorization } from "./rpc";
import { PAYME_TIMEOUT_MS } from "./transaction";

/** Payme's 12 hours (docs/protocols/payme.md#12-hour-timeout), plus a minute so the worker's clock cannot round it down. */
const PAYME_STALE_MS = PAYME_TIMEOUT_MS + 60_000;
/** Payme cancel reasons (docs/protocols/payme.md#canceltransaction): 3 = error while performing, 5 = refund. */
const PAYME_REASON_CANCEL = 3;
const PAYME_REASON_REFUND = 5;
/** The default order: 50 000 UZS in tiyin. */
const DEFAULT_AMOUNT = 5_000_000;
const DEFAULT_CURRENCY = "UZS";

const PAYME_HINTS: Partial<Record<number, string>> = {
  [PAYME_ERRORS.INSUFFICIENT_PRIVILEGE]:
    "-32504: the ingress refused the credentials. Check PAYME_KEY and PAYME_LOGIN; after a ChangePassword the key in Redis replaces PAYME_KEY.",
  [PAYME_ERRORS.ACCOUNT_INVALID]: "-31050: the ingress does not know the order (create it with ADMIN_TOKEN set, or name one with --order).",
  [PAYME_ERRORS.WRONG_AMOUNT]: "-31001: the amount differs from the order's, or the order is not in UZS.",
  [PAYME_ERRORS.CANNOT_PERFORM]: "-31008: the order is not awaiting payment (already reserved, paid or cancelled): use a fresh order.",
  [PAYME_ERRORS.CANNOT_CANCEL]: "-31007: the order was not created with refundable: true, so a performed transaction cannot be cancelled.",
  [PAYME_ERRORS.SYSTEM_ERROR]: "-32400: no worker answered within PAYME_RPC_TIMEOUT_MS: is a worker running?",
};

const TIMEOUT_NOTE =
  "timeout: Payme's `time` is set 12 h back, so the worker refuses the new transaction with -31008 at once. The real expiry — a transaction created in time, " +
  "then left 12 hours until Payme's Perform or Create finds it expired (state -1, reason 4) — runs on the worker's clock: it cannot be simulated from outside " +
  "(the tests shift that clock with CLOCK_OFFSET_MS, which only NODE_ENV=test accepts).";

type PaymeAnswer = { result?: Record<string, unknown>; error?: { code: number } };

/** A Payme transaction id: 24 hex characters, like Payme's own. */
const paymeId = (): string => randomBytes(12).toString("hex");

/** The calls of one Payme transaction against the scenario's order, each true when answered as expected. */
function transaction(ctx: ScenarioContext<PaymeConfig>) {
  const { order, config } = ctx;
  const login = config.PAYME_LOGIN;
  const field = config.PAYME_ACCOUNT_FIELD;
  const authorization = basicAuthorization(login, config.PAYME_KEY ?? "");
  const account = { [field]: order.orderId };
  const id = paymeId();
  let rpcId = 1;

  const call = async (method: string, params: Record<string, unknown>, expected: string, accept: (answer: PaymeAnswer) => boolean, summary: string): Promise<boolean> => {
    const request: SimulatedRequest = {
      name: method,
      path: "/webhooks/payme",
      // Payme's own example sends `text/json` (docs/protocols/payme.md#transport).
      headers: { "content-type": "text/json; charset=UTF-8", authorization },
      body: JSON.stringify({ method, params, id: rpcId++ }),
      summary: `${summary} (Basic ${login}:***)`,
      expected,
      accept: (status, answer) => status === 200 && typeof answer === "object" && answer !== null && accept(answer as PaymeAnswer),
      hint: (_status, answer) => {
        const code = (answer as PaymeAnswer | null)?.error?.code;
        return code === undefined ? undefined : PAYME_HINTS[code];
      },
    };
    return (await ctx.send(request)).ok;
  };
  const state = (s: number) => (a: PaymeAnswer) => a.result?.["state"] === s;

  return {
    check: () =>
      call("CheckPerformTransaction", { amount: order.amount, account }, "result.allow true", (a) => a.result?.["allow"] === true, `amount ${order.amount} tiyin, ${field} ${order.orderId}`),
    create: (time: number, expected = "result.state 1", accept = state(1)) =>
      call("CreateTransaction", { id, time, amount: order.amount, account }, expected, accept, `id ${id}, time ${new Date(time).toISOString()}, amount ${order.amount} tiyin`),
    perform: () => call("PerformTransaction", { id }, "result.state 2", state(2), `id ${id}`),
    cancel: (reason: number, expectedState: number) => call("CancelTransaction", { id, reason }, `result.state ${expectedState}`, state(expectedState), `id ${id}, reason ${reason}`),
  };
}

const scenario = (description: string, run: (ctx: ScenarioContext<PaymeConfig>, tx: ReturnType<typeof transaction>) => Promise<unknown>): Scenario<PaymeConfig> => ({
  description,
  async run(ctx) {
    await run(ctx, transaction(ctx));
  },
});

/** Payme's scenarios for `payhooks simulate payme <scenario>`. */
export const paymeSimulator: SimulatorPart<PaymeConfig> = {
  order: (_config, scenarioName) => ({
    amount: DEFAULT_AMOUNT,
    currency: DEFAULT_CURRENCY,
    ...(scenarioName === "refund" ? { refundable: true } : {}),
    // A Payme fiscal item, so CheckPerformTransaction answers with the receipt detail.
    items: [{ title: "Simulated order", price: DEFAULT_AMOUNT, count: 1, code: "10899002001000000", package_code: "1501476", vat_percent: 12 }],
  }),
  missing: (config) => (config.PAYME_KEY === undefined ? { variable: "PAYME_KEY", why: "Payme calls authenticate with Basic auth Paycom:<PAYME_KEY>" } : null),
  scenarios: {
    check: scenario("CheckPerformTransaction for a fresh order: allowed, with its fiscal detail", (_ctx, tx) => tx.check()),
    create: scenario("CheckPerformTransaction + CreateTransaction: the order is reserved (state 1)", async (_ctx, tx) => {
      if (await tx.check()) await tx.create(Date.now());
    }),
    perform: scenario("check, CreateTransaction + PerformTransaction: the order is paid (state 2)", async (_ctx, tx) => {
      if ((await tx.check()) && (await tx.create(Date.now()))) await tx.perform();
    }),
    cancel: scenario("check, CreateTransaction + CancelTransaction (reason 3): the reservation is released (state -1)", async (_ctx, tx) => {
      if ((await tx.check()) && (await tx.create(Date.now()))) await tx.cancel(PAYME_REASON_CANCEL, -1);
    }),
    refund: scenario("check, Create + Perform + CancelTransaction (reason 5) on a refundable order: refunded (state -2)", async (_ctx, tx) => {
      if ((await tx.check()) && (await tx.create(Date.now())) && (await tx.perform())) await tx.cancel(PAYME_REASON_REFUND, -2);
    }),
    timeout: scenario("a CreateTransaction whose Payme time is already 12 h old: refused with -31008", async (ctx, tx) => {
      ctx.note(TIMEOUT_NOTE);
      if (await tx.check()) await tx.create(Date.now() - PAYME_STALE_MS, "error.code -31008", (a) => a.error?.code === PAYME_ERRORS.CANNOT_PERFORM);
    }),
  },
};
