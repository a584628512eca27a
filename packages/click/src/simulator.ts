import { randomInt } from "node:crypto";
import { formatMinorUnits, type Scenario, type ScenarioContext, type SimulatedRequest, type SimulatorPart } from "@payhooks/core";
import { CLICK_ERRORS, CLICK_ERROR_NOTES, type ClickErrorCode } from "./codes";
import type { ClickConfig } from "./config";
import { CLICK_ROUTES } from "./ingress";
import { clickSign } from "./sign";

/** What one simulated request carries besides the signed fields. */
type ClickStep = {
  action: 0 | 1;
  clickTransId: string;
  amount: string;
  merchantPrepareId?: string;
  error?: number;
  errorNote?: string;
  /** a wrong secret: the signature cannot verify */
  badSignature?: boolean;
};

/** `sign_time` as Click writes it: `YYYY-MM-DD HH:mm:ss`, Tashkent time (UTC+5) as its examples look. */
export function clickSignTime(ms: number): string {
  return new Date(ms + 5 * 3_600_000).toISOString().slice(0, 19).replace("T", " ");
}

/** A random Click-like id: 10 digits, no leading zero. */
const clickId = (): string => String(randomInt(1_000_000_000, 9_999_999_999));

/**
 * A signed form body as Click sends it (fields in Click's order). Used by the simulator and
 * the tests; `secretKey` is the service's CLICK_SECRET_KEY.
 */
export function clickFormBody(
  fields: {
    click_trans_id: string;
    service_id: string;
    click_paydoc_id: string;
    merchant_trans_id: string;
    merchant_prepare_id?: string;
    amount: string;
    action: "0" | "1";
    error: string;
    error_note: string;
    sign_time: string;
  },
  secretKey: string,
): string {
  const sign_string = clickSign(fields, secretKey);
  const ordered: Array<[string, string]> = [
    ["click_trans_id", fields.click_trans_id],
    ["service_id", fields.service_id],
    ["click_paydoc_id", fields.click_paydoc_id],
    ["merchant_trans_id", fields.merchant_trans_id],
    ...(fields.merchant_prepare_id !== undefined ? ([["merchant_prepare_id", fields.merchant_prepare_id]] as Array<[string, string]>) : []),
    ["amount", fields.amount],
    ["action", fields.action],
    ["error", fields.error],
    ["error_note", fields.error_note],
    ["sign_time", fields.sign_time],
    ["sign_string", sign_string],
  ];
  return new URLSearchParams(ordered).toString();
}

/** The `error` (and, when present, `merchant_prepare_id`) of a Click answer; null when it is none. */
export function readAnswer(body: string): { error: number; prepareId: number | null } | null {
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    if (typeof parsed["error"] !== "number") return null;
    const id = parsed["merchant_prepare_id"] ?? parsed["merchant_confirm_id"];
    return { error: parsed["error"], prepareId: typeof id === "number" ? id : null };
  } catch {
    return null;
  }
}

function request(ctx: ScenarioContext<ClickConfig>, step: ClickStep, expect: ClickErrorCode, name: string): SimulatedRequest {
  const secret = step.badSignature ? `${ctx.config.CLICK_SECRET_KEY}-wrong` : ctx.config.CLICK_SECRET_KEY!;
  const error = String(step.error ?? 0);
  const body = clickFormBody(
    {
      click_trans_id: step.clickTransId,
      service_id: ctx.config.CLICK_SERVICE_ID!,
      click_paydoc_id: clickId(),
      merchant_trans_id: ctx.order.orderId,
      ...(step.action === 1 ? { merchant_prepare_id: step.merchantPrepareId ?? "0" } : {}),
      amount: step.amount,
      action: step.action === 0 ? "0" : "1",
      error,
      error_note: step.errorNote ?? (step.error ? "Insufficient funds" : "Success"),
      sign_time: clickSignTime(ctx.now()),
    },
    secret,
  );
  const what = step.action === 0 ? "Prepare" : "Complete";
  return {
    name,
    method: "POST",
    path: step.action === 0 ? CLICK_ROUTES.prepare : CLICK_ROUTES.complete,
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body,
    summary:
      `POST ${step.action === 0 ? CLICK_ROUTES.prepare : CLICK_ROUTES.complete} ${what} click_trans_id=${step.clickTransId} ` +
      `merchant_trans_id=${ctx.order.orderId}${step.merchantPrepareId ? ` merchant_prepare_id=${step.merchantPrepareId}` : ""} ` +
      `amount=${step.amount} error=${error} sign_string=***${step.badSignature ? " (signed with a wrong key)" : ""}`,
    expected: `error ${expect} (${CLICK_ERROR_NOTES[expect]})`,
    accept: (status, answer) => status === 200 && readAnswer(asText(answer))?.error === expect,
  };
}

/** An answer as the simulator hands it (parsed JSON, or text) back to text. */
const asText = (answer: unknown): string => (typeof answer === "string" ? answer : JSON.stringify(answer));

/** Sends one step; the answer, or null when it was not the expected one (the report shows it). */
async function send(ctx: ScenarioContext<ClickConfig>, step: ClickStep, expect: ClickErrorCode, name: string) {
  const r = request(ctx, step, expect, name);
  const sent = await ctx.send(r);
  return sent.ok ? readAnswer(asText(sent.answer)) : null;
}

/** The order's amount as Click sends it: soum with two decimals (tiyin shifted as text). */
const soum = (ctx: ScenarioContext<ClickConfig>): string => formatMinorUnits(ctx.order.amount, 2);

/** Prepare, then the merchant_prepare_id it returned (null when refused). */
async function prepare(ctx: ScenarioContext<ClickConfig>, clickTransId: string): Promise<string | null> {
  const answer = await send(ctx, { action: 0, clickTransId, amount: soum(ctx) }, CLICK_ERRORS.SUCCESS, "Prepare");
  if (!answer || answer.prepareId === null) {
    ctx.note("Prepare was refused: the order must be an unpaid UZS order (a fresh one per scenario).");
    return null;
  }
  return String(answer.prepareId);
}

const scenarios: Record<string, Scenario<ClickConfig>> = {
  succeeded: {
    description: "Prepare (0), then Complete with error=0 (0): the order is paid",
    async run(ctx) {
      const id = clickId();
      const prepareId = await prepare(ctx, id);
      if (!prepareId) return;
      await send(ctx, { action: 1, clickTransId: id, amount: soum(ctx), merchantPrepareId: prepareId }, CLICK_ERRORS.SUCCESS, "Complete");
    },
  },
  cancelled: {
    description: "Prepare (0), then Complete with error=-5017, Click could not debit the payer (-9): the order awaits payment again",
    async run(ctx) {
      const id = clickId();
      const prepareId = await prepare(ctx, id);
      if (!prepareId) return;
      await send(
        ctx,
        { action: 1, clickTransId: id, amount: soum(ctx), merchantPrepareId: prepareId, error: -5017, errorNote: "Insufficient funds" },
        CLICK_ERRORS.TRANSACTION_CANCELLED,
        "Complete (error=-5017)",
      );
      await send(ctx, { action: 1, clickTransId: id, amount: soum(ctx), merchantPrepareId: prepareId }, CLICK_ERRORS.TRANSACTION_CANCELLED, "Complete on the cancelled attempt");
    },
  },
  "bad-signature": {
    description: "A Prepare signed with the wrong secret key: refused with -1, nothing recorded",
    async run(ctx) {
      await send(ctx, { action: 0, clickTransId: clickId(), amount: soum(ctx), badSignature: true }, CLICK_ERRORS.SIGN_CHECK_FAILED, "Prepare (bad signature)");
    },
  },
  repeat: {
    description: "Prepare twice (0, same merchant_prepare_id), Complete (0), Complete again (-4), a cancelling Complete (-4): paid once",
    async run(ctx) {
      const id = clickId();
      const prepareId = await prepare(ctx, id);
      if (!prepareId) return;
      const again = await send(ctx, { action: 0, clickTransId: id, amount: soum(ctx) }, CLICK_ERRORS.SUCCESS, "Prepare (repeat)");
      if (again && String(again.prepareId) !== prepareId) ctx.note(`the repeated Prepare returned merchant_prepare_id ${again.prepareId}, not ${prepareId}`);
      const complete: ClickStep = { action: 1, clickTransId: id, amount: soum(ctx), merchantPrepareId: prepareId };
      if (!(await send(ctx, complete, CLICK_ERRORS.SUCCESS, "Complete"))) return;
      await send(ctx, complete, CLICK_ERRORS.ALREADY_PAID, "Complete (repeat)");
      await send(ctx, { ...complete, error: -1, errorNote: "Cancelled" }, CLICK_ERRORS.ALREADY_PAID, "Complete (error=-1) on the paid attempt");
    },
  },
  "wrong-amount": {
    description: "Prepare (0), Complete one soum short (-2, still prepared), then the right Complete (0)",
    async run(ctx) {
      const id = clickId();
      const prepareId = await prepare(ctx, id);
      if (!prepareId) return;
      const short = formatMinorUnits(Math.max(0, ctx.order.amount - 100), 2);
      await send(ctx, { action: 1, clickTransId: id, amount: short, merchantPrepareId: prepareId }, CLICK_ERRORS.INCORRECT_AMOUNT, "Complete (1 soum short)");
      await send(ctx, { action: 1, clickTransId: id, amount: soum(ctx), merchantPrepareId: prepareId }, CLICK_ERRORS.SUCCESS, "Complete");
    },
  },
};

export const clickSimulator: SimulatorPart<ClickConfig> = {
  // 50 000 soum in tiyin.
  order: () => ({ amount: 5_000_000, currency: "UZS" }),
  missing: (c) =>
    c.CLICK_SERVICE_ID === undefined
      ? { variable: "CLICK_SERVICE_ID", why: "every Click request names the service" }
      : c.CLICK_SECRET_KEY === undefined
        ? { variable: "CLICK_SECRET_KEY", why: "Click signs every request with the service's secret key" }
        : null,
  scenarios,
};
