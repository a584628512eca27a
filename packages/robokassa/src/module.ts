import {
  PayloadValidationError,
  jsonReply,
  keptHeaders,
  textReply,
  type IngressDecision,
  type ProviderModule,
  type WebhookReply,
  type WebhookRequest,
} from "@payhooks/core";
import { robokassaConfig, type RobokassaEnabled } from "./config";
import { decideRobokassa } from "./decide";
import { firstValues, orderIdOf, readNotice, robokassaJobId, robokassaPaymentId } from "./notice";
import { robokassaSimulator } from "./simulator";
import { verifyRobokassaSignature, type RobokassaHash } from "./verify";

type Passwords = { password1: string; password2: string };

type State = {
  live: Passwords;
  /** the test passwords; null refuses IsTest=1 notices */
  test: Passwords | null;
  algorithm: RobokassaHash;
  orderParam: string | null;
  successRedirect: string | null;
  failRedirect: string | null;
};

export const ROBOKASSA_RESULT_PATH = "/webhooks/robokassa/result";
export const ROBOKASSA_SUCCESS_PATH = "/webhooks/robokassa/success";
export const ROBOKASSA_FAIL_PATH = "/webhooks/robokassa/fail";

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

/** A short page for the payer's browser. */
function page(status: number, title: string, message: string): WebhookReply {
  return {
    status,
    contentType: "text/html; charset=utf-8",
    body: `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p></body></html>`,
  };
}

/** A 303 to the shop's page, with `order_id` added to its query (kept as is otherwise). */
function redirect(url: string, orderId: string | null): WebhookReply {
  const u = new URL(url);
  if (orderId) u.searchParams.set("order_id", orderId);
  return { status: 303, contentType: "text/plain; charset=utf-8", body: "", headers: { location: u.toString() } };
}

/**
 * The received parameters: the query string for GET, the form-urlencoded body for POST (UTF-8,
 * no nested parsing: `a[b]=1` stays the name `a[b]`). The exact text is kept for the envelope.
 */
function readParams(request: WebhookRequest): { params: Record<string, string>; raw: string } {
  const raw = request.method === "GET" || request.method === "HEAD" ? request.query : request.rawBody.toString("utf8");
  return { params: firstValues(new URLSearchParams(raw)), raw };
}

function result(request: WebhookRequest, s: State): IngressDecision {
  const { params, raw } = readParams(request);
  const read = readNotice(params, s.orderParam);
  if (!read.ok) return { kind: "reply", reply: textReply(400, read.reason) };
  const { notice } = read;
  const passwords = notice.livemode ? s.live : s.test;
  if (!passwords) return { kind: "reply", reply: textReply(400, "test notices are not accepted: no test passwords configured", "rejected_signature") };
  if (!verifyRobokassaSignature({ params, password: passwords.password2, algorithm: s.algorithm })) {
    return { kind: "reply", reply: textReply(400, "bad sign", "rejected_signature") };
  }
  return {
    kind: "enqueue",
    jobId: robokassaJobId(notice),
    jobName: "robokassa.result",
    delivery: { rawBody: raw, payload: params, headers: keptHeaders(request.headers, ["content-type", "user-agent"]), livemode: notice.livemode },
    reply: textReply(200, `OK${notice.invId}`),
  };
}

function success(request: WebhookRequest, s: State): IngressDecision {
  const { params } = readParams(request);
  const read = readNotice(params, s.orderParam);
  const passwords = params["IsTest"] === "1" ? s.test : s.live;
  if (!read.ok || !passwords || !verifyRobokassaSignature({ params, password: passwords.password1, algorithm: s.algorithm })) {
    return { kind: "reply", reply: page(400, "Payment not confirmed", "This link could not be verified. If you paid, the shop confirms the order once RoboKassa notifies it.") };
  }
  const orderId = read.notice.orderId;
  if (s.successRedirect) return { kind: "reply", reply: redirect(s.successRedirect, orderId) };
  return {
    kind: "reply",
    reply: page(200, "Thank you", `RoboKassa reports the payment for order ${orderId ?? read.notice.invId} as made. The order is confirmed as soon as RoboKassa notifies the shop.`),
  };
}

function fail(request: WebhookRequest, s: State): IngressDecision {
  const { params } = readParams(request);
  // FailURL is unsigned: the order id only travels on to the shop's page, it decides nothing.
  const orderId = orderIdOf(params, params["InvId"], s.orderParam);
  if (s.failRedirect) return { kind: "reply", reply: redirect(s.failRedirect, orderId) };
  return {
    kind: "reply",
    reply: page(200, "Payment not completed", orderId ? `The payment for order ${orderId} was not completed. No money was taken for it.` : "The payment was not completed."),
  };
}

/**
 * RoboKassa (docs/protocols/robokassa.md): ResultURL is the one authoritative notice — verified
 * with Password #2, enqueued, answered `OK{InvId}`. SuccessURL (Password #1) and FailURL
 * (unsigned) only send the payer's browser on; they never mark anything paid and are not counted
 * as provider traffic.
 */
export const robokassaModule = {
  id: "robokassa",
  config: robokassaConfig,
  ingress: {
    routes: [
      { methods: ["GET", "POST"], path: ROBOKASSA_RESULT_PATH },
      { methods: ["GET", "POST", "HEAD"], path: ROBOKASSA_SUCCESS_PATH, counted: false },
      { methods: ["GET", "POST", "HEAD"], path: ROBOKASSA_FAIL_PATH, counted: false },
    ],
    setup: ({ config: c }): State => ({
      live: { password1: c.ROBOKASSA_PASSWORD1, password2: c.ROBOKASSA_PASSWORD2 },
      test:
        c.ROBOKASSA_TEST_PASSWORD1 && c.ROBOKASSA_TEST_PASSWORD2
          ? { password1: c.ROBOKASSA_TEST_PASSWORD1, password2: c.ROBOKASSA_TEST_PASSWORD2 }
          : null,
      algorithm: c.ROBOKASSA_HASH,
      orderParam: c.ROBOKASSA_ORDER_PARAM ?? null,
      successRedirect: c.ROBOKASSA_SUCCESS_REDIRECT ?? null,
      failRedirect: c.ROBOKASSA_FAIL_REDIRECT ?? null,
    }),
    accept(request, s): IngressDecision {
      if (request.path === ROBOKASSA_SUCCESS_PATH) return success(request, s);
      if (request.path === ROBOKASSA_FAIL_PATH) return fail(request, s);
      return result(request, s);
    },
    refusals: {
      notConfigured: () => textReply(503, "provider not configured"),
      badBody: (_request, status) => textReply(status, status === 413 ? "payload too large" : "bad request"),
      methodNotAllowed: (request) => ({
        ...textReply(405, "method not allowed"),
        headers: { allow: request.path === ROBOKASSA_RESULT_PATH ? "GET, POST" : "GET, POST, HEAD" },
      }),
      // A JSON body: never anything that starts with OK, which RoboKassa would take as accepted.
      unavailable: () => jsonReply(503, { error: "unavailable" }),
    },
  },
  worker: {
    kind: "notification",
    interpret(envelope, c) {
      const read = readNotice(envelope.payload as Record<string, string>, c.ROBOKASSA_ORDER_PARAM ?? null);
      if (!read.ok) throw new PayloadValidationError(read.reason);
      const n = read.notice;
      return {
        provider: "robokassa",
        providerPaymentId: robokassaPaymentId(n),
        livemode: n.livemode,
        ...(n.orderId ? { orderId: n.orderId } : {}),
        decide: (current) => decideRobokassa(n, current, c.ROBOKASSA_CURRENCY, envelope.receivedAt),
      };
    },
  },
  sensitiveFields: ["EMail", "Email", "email"],
  secretHeaders: [],
  simulator: robokassaSimulator,
} satisfies ProviderModule<typeof robokassaConfig.schema.shape, State, RobokassaEnabled>;
