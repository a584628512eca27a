import {
  callerAllowed,
  constantTimeEqual,
  keptHeaders,
  parseJsonBody,
  type CallResult,
  type IngressDecision,
  type PaymentDecision,
  type ProviderModule,
  type RequestOutcome,
  type WebhookReply,
  type WebhookRequest,
  type WorkerContext,
} from "@payhooks/core";
import { BlockList } from "node:net";
import { paymeConfig, type PaymeConfig, type PaymeEnabled } from "./config";
import { PAYME_ERRORS, rpcError, rpcResponse, type PaymeReply } from "./errors";
import { createPaymeKeyStore, type PaymeKeyStore } from "./keys";
import { authenticate, parseCall, requestId, type PaymeCall, type PaymeKeys } from "./rpc";
import { paymeSimulator } from "./simulator";
import {
  checkPerform,
  checkTransaction,
  decideCancel,
  decideCreate,
  decidePerform,
  decideSetFiscalData,
  orderIdOf,
  parseParams,
  statementIndex,
  statementItem,
  type PaymeContext,
  type PaymeCurrent,
  type PaymeOutcome,
} from "./transaction";
import type { Envelope, Logger } from "@payhooks/core";

export const PAYME_PATH = "/webhooks/payme";

/**
 * The request outcome of an answer (every answer is HTTP 200): -32504 a refused key or address;
 * -32700/-32600/-32601/-32300 a refused payload; -32400 unavailable; anything else (a result, a
 * -31xxx business error) accepted.
 */
export function paymeOutcome(reply: PaymeReply): RequestOutcome {
  if (!("error" in reply)) return "accepted";
  switch (reply.error.code) {
    case PAYME_ERRORS.INSUFFICIENT_PRIVILEGE:
      return "rejected_signature";
    case PAYME_ERRORS.PARSE_ERROR:
    case PAYME_ERRORS.INVALID_REQUEST:
    case PAYME_ERRORS.METHOD_NOT_FOUND:
    case PAYME_ERRORS.NOT_POST:
      return "rejected_payload";
    case PAYME_ERRORS.SYSTEM_ERROR:
      return "unavailable";
    default:
      return "accepted";
  }
}

/** Payme reads every HTTP status but 200 as -32400 (docs/protocols/payme.md#transport): errors travel in the body. */
function answer(id: unknown, reply: PaymeReply, outcome: RequestOutcome = paymeOutcome(reply)): WebhookReply {
  return { status: 200, contentType: "application/json; charset=utf-8", body: JSON.stringify(rpcResponse(id, reply)), outcome };
}

/** The id a refusal echoes: the request's, when its body is JSON. */
function idOf(rawBody: Buffer | undefined): unknown {
  if (!rawBody) return null;
  const parsed = parseJsonBody(rawBody);
  return parsed.ok || parsed.reason === "json_too_deep" ? requestId(parsed.value) : null;
}

type State = { keys: PaymeKeyStore; allowedIps: BlockList | null; logger: Logger };

const reply = (r: WebhookReply): IngressDecision => ({ kind: "reply", reply: r });

/** ChangePassword (docs/protocols/payme.md#changepassword): answered by the ingress, never queued (a password must not sit in a job). */
async function changePassword(call: PaymeCall, mode: "live" | "test", keys: PaymeKeys, s: State): Promise<IngressDecision> {
  const { password } = call.params;
  if (typeof password !== "string" || password.trim() === "") return reply(answer(call.id, rpcError(PAYME_ERRORS.ACCOUNT_INVALID, "password")));
  // Same as now: TPL-PHP's "Insufficient privilege. Incorrect new password". The other mode's
  // key is refused too: live and sandbox sharing one key would make every sandbox call live
  // (authenticate() tries live first), which the config refuses for PAYME_KEY == PAYME_TEST_KEY.
  const taken = constantTimeEqual(password, keys.live) || (keys.test !== null && constantTimeEqual(password, keys.test));
  if (taken) return reply(answer(call.id, rpcError(PAYME_ERRORS.INSUFFICIENT_PRIVILEGE)));
  try {
    await s.keys.change(mode, password);
  } catch (err) {
    s.logger.warn({ err: { message: (err as Error).message } }, "payme ChangePassword: key not stored");
    return reply(answer(call.id, rpcError(PAYME_ERRORS.SYSTEM_ERROR)));
  }
  s.logger.info({ mode }, "payme key changed by ChangePassword");
  return reply(answer(call.id, { result: { success: true } }));
}

/**
 * The Merchant API endpoint (docs/protocols/payme.md#order-of-checks, with the optional IP
 * allow-list right after the body is read, so its refusal echoes the id). The ingress answers
 * transport, auth and shape errors and ChangePassword itself; every other method is a call a
 * worker answers, awaited up to PAYME_RPC_TIMEOUT_MS, else -32400 (Payme retries).
 */
async function accept(request: WebhookRequest, s: State): Promise<IngressDecision> {
  // Not UTF-8 or not JSON: -32700. Valid JSON nested past MAX_JSON_DEPTH could not be queued: -32600.
  const parsedBody = parseJsonBody(request.rawBody);
  if (!parsedBody.ok && parsedBody.reason === "invalid_json") return reply(answer(null, rpcError(PAYME_ERRORS.PARSE_ERROR)));
  if (!parsedBody.ok) return reply(answer(requestId(parsedBody.value), rpcError(PAYME_ERRORS.INVALID_REQUEST)));
  const { value: body, text: rawBody } = parsedBody;
  // From here on every answer echoes the request's id.
  const id = requestId(body);
  if (s.allowedIps) {
    if (!callerAllowed(s.allowedIps, request.ip)) {
      s.logger.warn({ ip: request.ip }, "payme call from an address not in PAYME_ALLOWED_IPS");
      return reply(answer(id, rpcError(PAYME_ERRORS.INSUFFICIENT_PRIVILEGE)));
    }
  }
  let current: PaymeKeys;
  try {
    current = await s.keys.current();
  } catch (err) {
    s.logger.warn({ err: { message: (err as Error).message } }, "payme keys unreadable; answering -32400");
    return reply(answer(id, rpcError(PAYME_ERRORS.SYSTEM_ERROR)));
  }
  const mode = authenticate(request.headers["authorization"], current);
  if (!mode) return reply(answer(id, rpcError(PAYME_ERRORS.INSUFFICIENT_PRIVILEGE)));

  const parsed = parseCall(body);
  if (!parsed.ok) return reply(answer(id, parsed.reply));
  const { call } = parsed;
  if (call.method === "ChangePassword") return changePassword(call, mode, current, s);
  // Params of the wrong type (docs/protocols/payme.md#order-of-checks) are malformed JSON-RPC: answered here, never queued.
  const params = parseParams(call.method, call.params);
  if (!params.ok) return reply(answer(call.id, params.reply));

  return {
    kind: "call",
    jobName: call.method,
    delivery: {
      rawBody,
      payload: { method: call.method, params: call.params, id: call.id },
      headers: keptHeaders(request.headers, ["content-type", "user-agent"]),
      livemode: mode === "live",
    },
    answer(result) {
      const r = (result as { reply?: PaymeReply } | null)?.reply;
      // No worker answered in time, or it failed: -32400, which Payme retries (every method is idempotent).
      if (!r) return answer(call.id, rpcError(PAYME_ERRORS.SYSTEM_ERROR));
      return answer(call.id, r, "accepted"); // answered by a worker
    },
  };
}

/** A Payme job's return value: the ingress wraps `reply` in the JSON-RPC response. */
export type PaymeJobResult = CallResult;

/**
 * One JSON-RPC call, answered from the ledger. Transitions are decided by the pure functions of
 * transaction.ts and written through the ledger's compare-and-set, so concurrent calls on one
 * transaction or one order end in one state. `orderId` is the order the call concerns (the
 * account's for Check/Create, the stored transaction's otherwise; null when it names none).
 */
async function answerCall(envelope: Envelope, ctx: WorkerContext<PaymeConfig>): Promise<CallResult> {
  const { ledger } = ctx;
  const accountField = ctx.config.PAYME_ACCOUNT_FIELD;
  const livemode = envelope.livemode ?? true;
  const read = (r: PaymeReply, orderId: string | null = null): CallResult => ({ reply: r, outcome: "read", events: [], orderId });

  /** Runs a transition through the ledger and returns the answer of the decision that stuck. */
  async function transition(id: string, orderId: string | null, decide: (current: PaymeCurrent, c: PaymeContext) => PaymeOutcome): Promise<CallResult> {
    let r: PaymeReply | undefined;
    const { result, events } = await ctx.apply({
      provider: "payme",
      providerPaymentId: id,
      ...(orderId ? { orderId } : {}),
      livemode,
      decide: (current): PaymentDecision => {
        const outcome = decide(current, { now: ctx.clock(), livemode, accountField });
        r = outcome.reply;
        return outcome.decision;
      },
    });
    return { reply: r!, outcome: result.kind, events, orderId: result.orderId ?? orderId };
  }

  const parsed = parseCall(envelope.payload);
  if (!parsed.ok) return read(parsed.reply);
  const { method, params } = parsed.call;
  switch (method) {
    case "CheckPerformTransaction": {
      const p = parseParams(method, params);
      if (!p.ok) return read(p.reply);
      const orderId = orderIdOf(p.params, accountField);
      const order = orderId ? await ledger.getOrderRecord(orderId) : null;
      return read(checkPerform(p.params, order, { now: ctx.clock(), livemode, accountField }), orderId);
    }
    case "CreateTransaction": {
      const p = parseParams(method, params);
      if (!p.ok) return read(p.reply);
      return transition(p.params.id, orderIdOf(p.params, accountField), (c, x) => decideCreate(p.params, c, x));
    }
    case "PerformTransaction": {
      const p = parseParams(method, params);
      if (!p.ok) return read(p.reply);
      return transition(p.params.id, null, (c, x) => decidePerform(c, x));
    }
    case "CancelTransaction": {
      const p = parseParams(method, params);
      if (!p.ok) return read(p.reply);
      return transition(p.params.id, null, (c, x) => decideCancel(p.params, c, x));
    }
    case "SetFiscalData": {
      const p = parseParams(method, params);
      if (!p.ok) return read(p.reply);
      return transition(p.params.id, null, (c, x) => decideSetFiscalData(p.params, c, x));
    }
    case "CheckTransaction": {
      const p = parseParams(method, params);
      if (!p.ok) return read(p.reply);
      const payment = await ledger.getPayment("payme", p.params.id);
      return read(checkTransaction(payment, { livemode }), payment?.orderId ?? null);
    }
    case "GetStatement": {
      const p = parseParams(method, params);
      if (!p.ok) return read(p.reply);
      const { from, to } = p.params;
      const rows = from > to ? [] : await ledger.listIndexed("payme", statementIndex(livemode), from, to);
      return read({ result: { transactions: rows.filter((row) => row.facts.livemode === livemode).map(statementItem) } });
    }
    case "ChangePassword":
      // The ingress answers it and never enqueues it: a password must not sit in a job.
      return read(rpcError(PAYME_ERRORS.METHOD_NOT_FOUND, method));
    default: {
      const exhaustive: never = method;
      return exhaustive;
    }
  }
}

/** Payme's Merchant API (docs/protocols/payme.md): JSON-RPC 2.0 over one POST route, request–reply through the queue. */
export const paymeModule = {
  id: "payme",
  config: paymeConfig,
  ingress: {
    routes: [{ methods: ["POST"], path: PAYME_PATH }],
    requestReply: { timeoutMs: (c: PaymeConfig) => c.PAYME_RPC_TIMEOUT_MS },
    setup: ({ config: c, redis, prefix, logger }): State => ({
      keys: createPaymeKeyStore({
        redis,
        prefix,
        login: c.PAYME_LOGIN,
        live: c.PAYME_KEY,
        test: c.PAYME_ALLOW_TEST_KEY ? (c.PAYME_TEST_KEY ?? null) : null,
      }),
      allowedIps: c.PAYME_ALLOWED_IPS ?? null,
      logger,
    }),
    accept,
    refusals: {
      notConfigured: (request) => answer(idOf(request.rawBody), rpcError(PAYME_ERRORS.SYSTEM_ERROR, "provider_not_configured")),
      // A body the parser refused (too large, bad encoding, aborted): the request is at fault, not
      // the system, so not -32400 (which Payme retries).
      badBody: () => answer(null, rpcError(PAYME_ERRORS.INVALID_REQUEST)),
      methodNotAllowed: () => answer(null, rpcError(PAYME_ERRORS.NOT_POST)),
      unavailable: (request) => answer(idOf(request.rawBody), rpcError(PAYME_ERRORS.SYSTEM_ERROR)),
    },
  },
  worker: { kind: "request-reply", answer: answerCall },
  sensitiveFields: ["password", "phone", "card"],
  secretHeaders: ["authorization"],
  simulator: paymeSimulator,
} satisfies ProviderModule<typeof paymeConfig.schema.shape, State, PaymeEnabled>;
