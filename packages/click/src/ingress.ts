import type { BlockList } from "node:net";
import { callerAllowed, type IngressDecision, type IngressPart, type Logger, type RedisConnection, type RequestOutcome, type WebhookReply, type WebhookRequest } from "@payhooks/core";
import { CLICK_ERRORS, clickReply, serializeReply, type ClickReply, type Echo } from "./codes";
import type { ClickConfig, ClickEnabled } from "./config";
import { callOf, checkSyntax, echoOf, parseClickBody } from "./request";
import { verifyClickSignature } from "./sign";

export const CLICK_ROUTES = {
  prepare: "/webhooks/click/prepare",
  complete: "/webhooks/click/complete",
  /** one URL for both: `action` decides */
  either: "/webhooks/click",
} as const;

/** The actions a route takes (docs/protocols/click.md#transport). */
function routeActions(path: string): readonly string[] {
  if (path === CLICK_ROUTES.prepare) return ["0"];
  if (path === CLICK_ROUTES.complete) return ["1"];
  return ["0", "1"];
}

export type ClickIngressState = {
  config: ClickEnabled;
  redis: Pick<RedisConnection, "incr">;
  /** the Redis key `merchant_prepare_id`s are allocated from (INCR) */
  prepareSeqKey: string;
  allowedIps: BlockList | null;
  logger: Logger;
};

const JSON_TYPE = "application/json; charset=utf-8";

/** Every Click answer: HTTP 200 and Click's JSON (docs/protocols/click.md#answers). */
export function jsonReply(reply: ClickReply, outcome: RequestOutcome, status = 200): WebhookReply {
  return { status, contentType: JSON_TYPE, body: serializeReply(reply), outcome };
}

/** The request outcome an ingress refusal counts as. */
function outcomeOf(code: number): RequestOutcome {
  if (code === CLICK_ERRORS.SIGN_CHECK_FAILED) return "rejected_signature";
  if (code === CLICK_ERRORS.BAD_REQUEST || code === CLICK_ERRORS.ACTION_NOT_FOUND) return "rejected_payload";
  if (code === CLICK_ERRORS.FAILED_TO_UPDATE) return "unavailable";
  return "accepted";
}

const refuse = (code: Parameters<typeof clickReply>[0], echo: Echo = {}): IngressDecision => ({
  kind: "reply",
  reply: jsonReply(clickReply(code, echo), outcomeOf(code)),
});

/**
 * The reply a worker's return value comes to: its `reply` (a CallResult, possibly still JSON
 * text), else -7 — no answer in time, Redis refused the job, the worker failed it, or it was
 * picked up too late (docs/protocols/click.md#worker-timeout).
 */
export function answerOf(result: unknown, echo: Echo): WebhookReply {
  let value = result;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value) as unknown;
    } catch {
      value = null;
    }
  }
  const reply = (value as { reply?: unknown } | null)?.reply;
  if (isClickReply(reply)) return jsonReply(reply, "accepted");
  return jsonReply(clickReply(CLICK_ERRORS.FAILED_TO_UPDATE, echo), "unavailable");
}

const CODES: ReadonlySet<number> = new Set(Object.values(CLICK_ERRORS));

function isClickReply(value: unknown): value is ClickReply {
  if (typeof value !== "object" || value === null) return false;
  const r = value as Record<string, unknown>;
  return typeof r["error"] === "number" && CODES.has(r["error"]) && typeof r["error_note"] === "string";
}

/**
 * The ingress's steps (docs/protocols/click.md#order-of-checks): the body, the
 * syntax (-8), the action (-3), the signature (-1), the service (-8), a failed Prepare (-9);
 * then a request–reply call the worker answers from the ledger. A Prepare reserves a
 * `merchant_prepare_id` here (INCR; a repeat or refusal leaves a gap, never a reuse).
 */
export async function acceptClick(request: WebhookRequest, state: ClickIngressState): Promise<IngressDecision> {
  const { config } = state;
  if (state.allowedIps) {
    if (!callerAllowed(state.allowedIps, request.ip)) {
      state.logger.warn({ ip: request.ip }, "click call from an address not in CLICK_ALLOWED_IPS");
      return refuse(CLICK_ERRORS.SIGN_CHECK_FAILED);
    }
  }
  const body = parseClickBody(request.rawBody);
  if (!body.ok) return refuse(CLICK_ERRORS.BAD_REQUEST);
  const syntax = checkSyntax(body.fields);
  if (!syntax.ok) return { kind: "reply", reply: jsonReply(syntax.reply, "rejected_payload") };
  const fields = syntax.fields;
  const echo = echoOf(fields);
  const action = fields["action"]!;
  if (!routeActions(request.path).includes(action)) return refuse(CLICK_ERRORS.ACTION_NOT_FOUND, echo);
  const signed = {
    click_trans_id: fields["click_trans_id"]!,
    service_id: fields["service_id"]!,
    merchant_trans_id: fields["merchant_trans_id"]!,
    merchant_prepare_id: fields["merchant_prepare_id"] ?? "",
    amount: fields["amount"]!,
    action,
    sign_time: fields["sign_time"]!,
  };
  if (!verifyClickSignature(signed, fields["sign_string"]!, config.CLICK_SECRET_KEY)) return refuse(CLICK_ERRORS.SIGN_CHECK_FAILED, echo);
  // Genuine, but not for this service.
  if (BigInt(fields["service_id"]!) !== BigInt(config.CLICK_SERVICE_ID)) {
    return refuse(CLICK_ERRORS.BAD_REQUEST, echo);
  }
  const prepare = action === "0";
  // Click announces a failed attempt: nothing to record.
  if (prepare && Number(fields["error"]) < 0) return refuse(CLICK_ERRORS.TRANSACTION_CANCELLED, echo);
  let proposed: number | undefined;
  if (prepare) {
    try {
      proposed = await state.redis.incr(state.prepareSeqKey);
    } catch (err) {
      state.logger.warn({ err: { message: (err as Error).message } }, "click: no merchant_prepare_id (Redis); answering -7");
      return refuse(CLICK_ERRORS.FAILED_TO_UPDATE, echo);
    }
  }
  const call = callOf(fields, prepare ? 0 : 1, proposed);
  const contentType = request.headers["content-type"];
  const userAgent = request.headers["user-agent"];
  return {
    kind: "call",
    jobName: prepare ? "click.prepare" : "click.complete",
    delivery: {
      rawBody: request.rawBody.toString("utf8"),
      payload: call,
      headers: { ...(contentType !== undefined ? { "content-type": contentType } : {}), ...(userAgent !== undefined ? { "user-agent": userAgent } : {}) },
      livemode: true,
    },
    answer: (result) => (result === null ? jsonReply(clickReply(CLICK_ERRORS.FAILED_TO_UPDATE, echo), "unavailable") : answerOf(result, echo)),
  };
}

const BAD_REQUEST_BODY = serializeReply(clickReply(CLICK_ERRORS.BAD_REQUEST));

export const clickIngress: IngressPart<ClickConfig, ClickIngressState, ClickEnabled> = {
  routes: [
    { methods: ["POST"], path: CLICK_ROUTES.prepare },
    { methods: ["POST"], path: CLICK_ROUTES.complete },
    { methods: ["POST"], path: CLICK_ROUTES.either },
  ],
  requestReply: { timeoutMs: (c) => c.CLICK_RPC_TIMEOUT_MS },
  setup: (ctx) => ({
    config: ctx.config,
    redis: ctx.redis,
    prepareSeqKey: `${ctx.prefix}:click:prepare-seq`,
    allowedIps: ctx.config.CLICK_ALLOWED_IPS ?? null,
    logger: ctx.logger,
  }),
  accept: acceptClick,
  refusals: {
    notConfigured: () => ({ status: 503, contentType: JSON_TYPE, body: JSON.stringify({ error: "provider_not_configured" }), outcome: "unavailable" }),
    // Too large (413), a bad encoding (415), aborted (400): the pipeline's status, Click's -8.
    badBody: (_request, status) => ({ status, contentType: JSON_TYPE, body: BAD_REQUEST_BODY, outcome: "rejected_payload" }),
    methodNotAllowed: () => ({ status: 405, contentType: JSON_TYPE, body: BAD_REQUEST_BODY, headers: { Allow: "POST" }, outcome: "rejected_payload" }),
    unavailable: () => jsonReply(clickReply(CLICK_ERRORS.FAILED_TO_UPDATE), "unavailable"),
  },
};
