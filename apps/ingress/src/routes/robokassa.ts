import express, { Router, type Request, type RequestHandler, type Response } from "express";
import type { Queue } from "bullmq";
import { JOB_OPTIONS, type Envelope } from "@payhooks/core";
import {
  firstValues,
  orderIdOf,
  readNotice,
  robokassaJobId,
  verifyRobokassaSignature,
  type RobokassaHash,
} from "@payhooks/robokassa";
import { enqueue } from "../enqueue";
import { flatHeaders, keptHeaders } from "../headers";
import { NO_REQUEST_METRICS, type RequestMetrics } from "../metrics";

type Passwords = { password1: string; password2: string };

export type RobokassaRouteDeps = {
  provider: {
    live: Passwords;
    /** ROBOKASSA_TEST_PASSWORD1/2; null refuses IsTest=1 notices */
    test: Passwords | null;
    algorithm: RobokassaHash;
    orderParam: string | null;
    successRedirect: string | null;
    failRedirect: string | null;
    queue: Queue;
  } | null;
  bodyLimit: number;
  enqueueTimeoutMs: number;
  now: () => number;
  /** counts and times each ResultURL request (Success/Fail are the payer's browser, not counted); absent when the app is built bare */
  metrics?: RequestMetrics;
};

const text = (res: Response, status: number, body: string) => void res.status(status).type("text/plain; charset=utf-8").send(body);

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

function page(res: Response, status: number, title: string, message: string): void {
  res
    .status(status)
    .type("text/html; charset=utf-8")
    .send(`<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p></body></html>`);
}

/** `url` with `order_id` added to its query (kept as is otherwise). */
function withOrder(url: string, orderId: string | null): string {
  const u = new URL(url);
  if (orderId) u.searchParams.set("order_id", orderId);
  return u.toString();
}

/**
 * The received parameters: the query string for GET, the form-urlencoded body for POST (UTF-8,
 * no nested parsing: `a[b]=1` stays the name `a[b]`). The exact text is kept for the envelope.
 */
function readParams(req: Request): { params: Record<string, string>; raw: string } {
  if (req.method === "GET" || req.method === "HEAD") {
    const raw = req.originalUrl.includes("?") ? req.originalUrl.slice(req.originalUrl.indexOf("?") + 1) : "";
    return { params: firstValues(new URLSearchParams(raw)), raw };
  }
  const raw = Buffer.isBuffer(req.body) ? req.body.toString("utf8") : "";
  return { params: firstValues(new URLSearchParams(raw)), raw };
}

/**
 * RoboKassa (providers.md §1): ResultURL is the one authoritative notice — verified with
 * Password #2, enqueued, answered `OK{InvId}`. SuccessURL (Password #1) and FailURL (unsigned)
 * only send the payer's browser on; they never mark anything paid.
 */
export function createRobokassaRouter(deps: RobokassaRouteDeps): Router {
  const router = Router();
  const metrics = deps.metrics ?? NO_REQUEST_METRICS;
  const configured: RequestHandler = (_req, res, next) => (deps.provider ? next() : text(res, 503, "provider not configured"));
  const body = express.raw({ type: () => true, limit: deps.bodyLimit });

  router.all("/webhooks/robokassa/result", metrics.track("robokassa"), configured, body, async (req, res) => {
    if (req.method !== "GET" && req.method !== "POST") return text(res, 405, "method not allowed");
    const provider = deps.provider!;
    const { params, raw } = readParams(req);
    const read = readNotice(params, provider.orderParam);
    if (!read.ok) return text(res, 400, read.reason);
    const { notice } = read;
    const passwords = notice.livemode ? provider.live : provider.test;
    if (!passwords) {
      metrics.mark(res, "rejected_signature"); // no password to check it with
      return text(res, 400, "test notices are not accepted: no test passwords configured");
    }
    if (!verifyRobokassaSignature({ params, password: passwords.password2, algorithm: provider.algorithm })) {
      metrics.mark(res, "rejected_signature");
      return text(res, 400, "bad sign");
    }
    const jobId = robokassaJobId(notice);
    const envelope: Envelope = {
      provider: "robokassa",
      deliveryId: jobId,
      receivedAt: deps.now(),
      rawBody: raw,
      payload: params,
      headers: keptHeaders(flatHeaders(req.headers), ["content-type", "user-agent"]),
      livemode: notice.livemode,
    };
    // EnqueueUnavailableError → 503 with a JSON body: never anything that starts with OK.
    const job = await enqueue(provider.queue, "robokassa.result", envelope, { ...JOB_OPTIONS.provider, jobId }, deps.enqueueTimeoutMs);
    metrics.enqueued(res, provider.queue, job);
    text(res, 200, `OK${notice.invId}`);
  });

  router.all("/webhooks/robokassa/success", configured, body, (req, res) => {
    const provider = deps.provider!;
    const { params } = readParams(req);
    const read = readNotice(params, provider.orderParam);
    const passwords = params["IsTest"] === "1" ? provider.test : provider.live;
    if (!read.ok || !passwords || !verifyRobokassaSignature({ params, password: passwords.password1, algorithm: provider.algorithm })) {
      return page(res, 400, "Payment not confirmed", "This link could not be verified. If you paid, the shop confirms the order once RoboKassa notifies it.");
    }
    const orderId = read.notice.orderId;
    if (provider.successRedirect) return void res.redirect(303, withOrder(provider.successRedirect, orderId));
    page(res, 200, "Thank you", `RoboKassa reports the payment for order ${orderId ?? read.notice.invId} as made. The order is confirmed as soon as RoboKassa notifies the shop.`);
  });

  router.all("/webhooks/robokassa/fail", configured, body, (req, res) => {
    const provider = deps.provider!;
    const { params } = readParams(req);
    // FailURL is unsigned: the order id only travels on to the shop's page, it decides nothing.
    const orderId = orderIdOf(params, params["InvId"], provider.orderParam);
    if (provider.failRedirect) return void res.redirect(303, withOrder(provider.failRedirect, orderId));
    page(res, 200, "Payment not completed", orderId ? `The payment for order ${orderId} was not completed. No money was taken for it.` : "The payment was not completed.");
  });

  return router;
}
