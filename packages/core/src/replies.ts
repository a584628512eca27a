import type { IngressPart, RequestOutcome, WebhookReply } from "./provider-module";

/** A JSON answer. */
export function jsonReply(status: number, body: unknown, outcome?: RequestOutcome): WebhookReply {
  return { status, contentType: "application/json; charset=utf-8", body: JSON.stringify(body), ...(outcome ? { outcome } : {}) };
}

/** A plain-text answer. */
export function textReply(status: number, body: string, outcome?: RequestOutcome): WebhookReply {
  return { status, contentType: "text/plain; charset=utf-8", body, ...(outcome ? { outcome } : {}) };
}

const BAD_BODY: Readonly<Record<number, string>> = { 413: "payload_too_large", 415: "unsupported_encoding" };

/**
 * The refusals of a provider that speaks plain HTTP + JSON (Payram, Payske, Stripe): 503 while
 * it is not configured or Redis did not confirm the job (the provider retries a 5xx), 413/415/400
 * for a body that could not be read, 405 for another method.
 */
export const JSON_REFUSALS: IngressPart<unknown, unknown>["refusals"] = {
  notConfigured: () => jsonReply(503, { error: "provider_not_configured" }),
  badBody: (_request, status) => jsonReply(status, { error: BAD_BODY[status] ?? "bad_request" }),
  methodNotAllowed: () => ({ ...jsonReply(405, { error: "method_not_allowed" }), headers: { allow: "POST" } }),
  unavailable: () => jsonReply(503, { error: "unavailable" }),
};
