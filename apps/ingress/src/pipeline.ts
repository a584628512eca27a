import express, { Router, type ErrorRequestHandler, type Request, type RequestHandler, type Response } from "express";
import type { Queue } from "bullmq";
import {
  JOB_OPTIONS,
  flatHeaders,
  type Envelope,
  type Logger,
  type ProviderModule,
  type WebhookReply,
  type WebhookRequest,
} from "@payhooks/core";
import { EnqueueUnavailableError, enqueue } from "./enqueue";
import { NO_REQUEST_METRICS, markOutcome, type RequestMetrics } from "./metrics";
import type { RpcClient } from "./rpc-client";

/** One provider as the ingress serves it. */
export type ProviderRuntime = {
  module: ProviderModule;
  /** what the module's `setup` built from the configuration; null while the provider is not configured */
  state: unknown;
  configured: boolean;
  /** the provider's queue on the producer connection */
  queue: Queue;
  /** request–reply providers only: enqueues a call and awaits the worker's answer */
  rpc: RpcClient | null;
};

export type PipelineDeps = {
  logger: Logger;
  bodyLimit: number;
  /** upper bound on one enqueue before the provider gets its dialect's "unavailable" */
  enqueueTimeoutMs: number;
  now: () => number;
  metrics?: RequestMetrics;
};

const RAW_BODY = "payhooksRawBody";
/** `res.locals` key naming the route a request matched, so the error handler answers in its dialect. */
const ROUTE = "payhooksRoute";

/** The caller's address as Express sees it under TRUST_PROXY, IPv4-mapped IPv6 unwrapped. */
function clientAddress(req: Request): string | null {
  const ip = req.ip;
  if (!ip) return null;
  return /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1] ?? ip;
}

function requestOf(req: Request, path: string, now: number): WebhookRequest {
  const url = req.originalUrl;
  const q = url.indexOf("?");
  return {
    method: req.method,
    path,
    query: q >= 0 ? url.slice(q + 1) : "",
    rawBody: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
    headers: flatHeaders(req.headers),
    ip: clientAddress(req),
    now,
  };
}

/** Sends a reply; its outcome, when it names one, is what the request is counted as. */
function send(res: Response, reply: WebhookReply): void {
  if (reply.outcome) markOutcome(res, reply.outcome);
  if (reply.headers) res.set(reply.headers);
  res.status(reply.status).type(reply.contentType).send(reply.body);
}

/**
 * The one pipeline every provider's routes run: route → raw body (limited) → the module's
 * `accept` (authenticate, parse) → enqueue, or a call awaited through the request–reply lane →
 * the module's reply in its own dialect. Everything a provider's protocol says lives in its
 * module; what every provider shares — body limits, the 503 of an unconfigured provider, Redis
 * trouble, duplicate deliveries, metrics — lives here once.
 */
export function createProviderRouter(provider: ProviderRuntime, deps: PipelineDeps): Router {
  const router = Router();
  const { module } = provider;
  const { refusals } = module.ingress;
  const metrics = deps.metrics ?? NO_REQUEST_METRICS;
  const paths = new Set(module.ingress.routes.map((r) => r.path));

  for (const route of module.ingress.routes) {
    const methods = new Set<string>(route.methods);
    const handlers: RequestHandler[] = [
      (_req, res, next) => {
        res.locals[ROUTE] = route.path;
        next();
      },
    ];
    if (route.counted !== false) handlers.push(metrics.track(module.id));
    handlers.push((req, res, next) => (methods.has(req.method) ? next() : send(res, refusals.methodNotAllowed(requestOf(req, route.path, deps.now())))));
    // Every body is read as bytes, whatever its Content-Type (Payme sends text/json): the
    // module authenticates the exact bytes.
    handlers.push(express.raw({ type: () => true, limit: deps.bodyLimit }));
    handlers.push(async (req, res) => {
      const request = requestOf(req, route.path, deps.now());
      res.locals[RAW_BODY] = request.rawBody;
      if (!provider.configured) return send(res, refusals.notConfigured(request));
      const decision = await module.ingress.accept(request, provider.state);
      switch (decision.kind) {
        case "reply":
          return send(res, decision.reply);
        case "enqueue": {
          const envelope: Envelope = { provider: module.id, deliveryId: decision.jobId, receivedAt: request.now, ...decision.delivery };
          let job;
          try {
            job = await enqueue(provider.queue, decision.jobName, envelope, { ...JOB_OPTIONS.provider, jobId: decision.jobId }, deps.enqueueTimeoutMs);
          } catch (err) {
            if (!(err instanceof EnqueueUnavailableError)) throw err;
            deps.logger.warn({ provider: module.id, err: { message: err.message, cause: String(err.cause) } }, "enqueue failed; answering unavailable");
            return send(res, { outcome: "unavailable", ...refusals.unavailable(request) });
          }
          metrics.enqueued(res, provider.queue, job); // accepted, or duplicate when the id was taken
          return send(res, decision.reply);
        }
        case "call": {
          const rpc = provider.rpc;
          if (!rpc) throw new Error(`${module.id} answered a call but declares no requestReply`);
          const answer = await rpc.call(decision.jobName, { provider: module.id, receivedAt: request.now, ...decision.delivery });
          const late = answer.ok && (answer.value as { late?: unknown } | null)?.late === true;
          if (!answer.ok || late) {
            deps.logger.warn({ provider: module.id, method: decision.jobName, reason: answer.ok ? "late" : answer.reason }, "call unanswered");
          }
          return send(res, decision.answer(answer.ok && !late ? answer.value : null));
        }
        default: {
          const exhaustive: never = decision;
          return exhaustive;
        }
      }
    });
    router.all(route.path, ...handlers);
  }

  // A body the parser refused (too large, bad encoding, aborted) and any failure past it are
  // answered in the provider's dialect too.
  const onError: ErrorRequestHandler = (err, req, res, next) => {
    // Express matches routes case-insensitively and with a trailing slash: the route this
    // request matched is the one its first handler named.
    const path = res.locals[ROUTE] as string | undefined;
    if (path === undefined || !paths.has(path) || res.headersSent) return next(err);
    const request = requestOf(req, path, deps.now());
    const status = (err as { status?: unknown }).status;
    // body-parser's errors all carry a 4xx `status`: the request is at fault, not the system.
    if (typeof status === "number" && status >= 400 && status < 500) {
      return send(res, { outcome: "rejected_payload", ...refusals.badBody(request, status) });
    }
    deps.logger.error({ provider: module.id, err }, "webhook route failed; answering unavailable");
    send(res, { outcome: "unavailable", ...refusals.unavailable({ ...request, rawBody: (res.locals[RAW_BODY] as Buffer | undefined) ?? request.rawBody }) });
  };
  router.use(onError);
  return router;
}
