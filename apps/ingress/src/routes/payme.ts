import type { BlockList } from "node:net";
import express, { Router, type ErrorRequestHandler, type Request, type Response } from "express";
import { constantTimeEqual, type Logger } from "@payhooks/core";
import {
  PAYME_ERRORS,
  authenticate,
  parseCall,
  parseParams,
  requestId,
  rpcError,
  rpcResponse,
  type PaymeCall,
  type PaymeKeys,
  type PaymeReply,
} from "@payhooks/payme";
import { keptHeaders, flatHeaders } from "../headers";
import { parseJsonBody } from "../json-body";
import { NO_REQUEST_METRICS, markOutcome, type RequestMetrics, type RequestOutcome } from "../metrics";
import type { PaymeKeyStore } from "../payme-keys";
import type { RpcClient } from "../rpc-client";

export type PaymeRouteDeps = {
  provider: {
    keys: PaymeKeyStore;
    rpc: RpcClient;
    /** PAYME_ALLOWED_IPS; null lets anyone call (auth still applies) */
    allowedIps: BlockList | null;
  } | null;
  bodyLimit: number;
  logger: Logger;
  now: () => number;
  /** counts and times each call; absent when the app is built bare */
  metrics?: RequestMetrics;
};

/**
 * The request outcome of an answer (every answer is HTTP 200): -32504 a refused key or address;
 * -32700/-32600/-32601/-32300 a refused payload; -32400 unavailable; anything else (a result, a
 * -31xxx business error) accepted. A worker's answer is passed as accepted whatever its code.
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

/** Payme reads every HTTP status but 200 as -32400 (payme.md §1.1): errors travel in the body. */
function send(res: Response, id: unknown, reply: PaymeReply, outcome: RequestOutcome = paymeOutcome(reply)): void {
  markOutcome(res, outcome);
  res.status(200).type("application/json; charset=utf-8").send(JSON.stringify(rpcResponse(id, reply)));
}

/** The caller's address as Express sees it under TRUST_PROXY, IPv4-mapped IPv6 unwrapped. */
function clientAddress(req: Request): { address: string; family: "ipv4" | "ipv6" } | null {
  const ip = req.ip;
  if (!ip) return null;
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (v4) return { address: v4[1]!, family: "ipv4" };
  return { address: ip, family: ip.includes(":") ? "ipv6" : "ipv4" };
}

/**
 * POST /webhooks/payme — the Merchant API endpoint (payme.md §1.5 order of checks, with the
 * optional IP allow-list right after the body is read, so its refusal echoes the id). The ingress
 * answers transport, auth and shape errors and ChangePassword itself; every other method is a
 * job the worker answers, awaited up to PAYME_RPC_TIMEOUT_MS, else -32400 (Payme retries).
 */
export function createPaymeRouter(deps: PaymeRouteDeps): Router {
  const router = Router();
  const { logger } = deps;
  const metrics = deps.metrics ?? NO_REQUEST_METRICS;

  async function changePassword(res: Response, call: PaymeCall, mode: "live" | "test", keys: PaymeKeys): Promise<void> {
    const { password } = call.params;
    if (typeof password !== "string" || password.trim() === "") {
      return send(res, call.id, rpcError(PAYME_ERRORS.ACCOUNT_INVALID, "password"));
    }
    // Same as now: TPL-PHP's "Insufficient privilege. Incorrect new password". The other mode's
    // key is refused too: live and sandbox sharing one key would make every sandbox call live
    // (authenticate() tries live first), which the config refuses for PAYME_KEY == PAYME_TEST_KEY.
    const taken = constantTimeEqual(password, keys.live) || (keys.test !== null && constantTimeEqual(password, keys.test));
    if (taken) return send(res, call.id, rpcError(PAYME_ERRORS.INSUFFICIENT_PRIVILEGE));
    try {
      await deps.provider!.keys.change(mode, password);
    } catch (err) {
      logger.warn({ err: { message: (err as Error).message } }, "payme ChangePassword: key not stored");
      return send(res, call.id, rpcError(PAYME_ERRORS.SYSTEM_ERROR));
    }
    logger.info({ mode }, "payme key changed by ChangePassword");
    send(res, call.id, { result: { success: true } });
  }

  router.all(
    "/webhooks/payme",
    metrics.track("payme"),
    (req, res, next) => (req.method === "POST" ? next() : send(res, null, rpcError(PAYME_ERRORS.NOT_POST))),
    // Payme sends `text/json`: the body is read whatever its Content-Type.
    express.raw({ type: () => true, limit: deps.bodyLimit }),
    async (req, res) => {
      // Not UTF-8 or not JSON: -32700. Valid JSON nested past MAX_JSON_DEPTH could not be queued: -32600.
      const parsedBody = parseJsonBody(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
      if (!parsedBody.ok && parsedBody.reason === "invalid_json") return send(res, null, rpcError(PAYME_ERRORS.PARSE_ERROR));
      if (!parsedBody.ok) return send(res, requestId(parsedBody.value), rpcError(PAYME_ERRORS.INVALID_REQUEST));
      const { value: body, text: rawBody } = parsedBody;
      // From here on every answer echoes the request's id.
      const id = requestId(body);
      if (!deps.provider) return send(res, id, rpcError(PAYME_ERRORS.SYSTEM_ERROR, "provider_not_configured"));
      const { keys, rpc, allowedIps } = deps.provider;
      if (allowedIps) {
        const client = clientAddress(req);
        if (!client || !allowedIps.check(client.address, client.family)) {
          logger.warn({ ip: req.ip }, "payme call from an address not in PAYME_ALLOWED_IPS");
          return send(res, id, rpcError(PAYME_ERRORS.INSUFFICIENT_PRIVILEGE));
        }
      }

      let current;
      try {
        current = await keys.current();
      } catch (err) {
        logger.warn({ err: { message: (err as Error).message } }, "payme keys unreadable; answering -32400");
        return send(res, id, rpcError(PAYME_ERRORS.SYSTEM_ERROR));
      }
      const mode = authenticate(req.headers.authorization, current);
      if (!mode) return send(res, id, rpcError(PAYME_ERRORS.INSUFFICIENT_PRIVILEGE));

      const parsed = parseCall(body);
      if (!parsed.ok) return send(res, id, parsed.reply);
      const { call } = parsed;
      if (call.method === "ChangePassword") {
        return changePassword(res, call, mode, current);
      }
      // Params of the wrong type (payme.md §1.5 step 6) are malformed JSON-RPC: answered here, never queued.
      const params = parseParams(call.method, call.params);
      if (!params.ok) return send(res, call.id, params.reply);

      const answer = await rpc.call(call.method, {
        provider: "payme",
        receivedAt: deps.now(),
        rawBody,
        payload: { method: call.method, params: call.params, id: call.id },
        headers: keptHeaders(flatHeaders(req.headers), ["content-type", "user-agent"]),
        livemode: mode === "live",
      });
      const reply = answer.ok ? (answer.value as { reply?: PaymeReply } | null)?.reply : undefined;
      if (!reply) {
        logger.warn({ method: call.method, reason: answer.ok ? "late" : answer.reason }, "payme call unanswered; -32400");
        return send(res, call.id, rpcError(PAYME_ERRORS.SYSTEM_ERROR));
      }
      send(res, call.id, reply, "accepted"); // answered by a worker
    },
  );

  // A body the parser refused (too large, bad encoding, aborted) is still answered in JSON-RPC.
  const onError: ErrorRequestHandler = (err, req, res, next) => {
    if (req.path !== "/webhooks/payme" || res.headersSent) return next(err);
    // body-parser's errors all carry a 4xx `status` (too large, unsupported or corrupt encoding, aborted):
    // the request is at fault, not the system, so not -32400 (which Payme retries).
    const status = (err as { status?: unknown }).status;
    if (typeof status === "number" && status >= 400 && status < 500) return send(res, null, rpcError(PAYME_ERRORS.INVALID_REQUEST));
    logger.error({ err: { message: (err as Error).message } }, "payme route failed; -32400");
    send(res, null, rpcError(PAYME_ERRORS.SYSTEM_ERROR));
  };
  router.use(onError);
  return router;
}
