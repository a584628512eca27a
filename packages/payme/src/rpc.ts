import { constantTimeEqual } from "@payhooks/core";
import { PAYME_ERRORS, rpcError, type PaymeReply } from "./errors";

/** Every method of the Merchant API (docs/protocols/payme.md#methods). ChangePassword is answered by the ingress itself. */
export const PAYME_METHODS = [
  "CheckPerformTransaction",
  "CreateTransaction",
  "PerformTransaction",
  "CancelTransaction",
  "CheckTransaction",
  "GetStatement",
  "ChangePassword",
  "SetFiscalData",
] as const;
export type PaymeMethod = (typeof PAYME_METHODS)[number];

/** The methods a worker answers, through the queue. */
export type PaymeQueuedMethod = Exclude<PaymeMethod, "ChangePassword">;

export type PaymeCall = { method: PaymeMethod; params: Record<string, unknown>; id: number | string };

/** A request id we can echo: Payme sends an integer; a string is echoed too, anything else is not an id. */
export function requestId(body: unknown): number | string | null {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return null;
  const id = (body as Record<string, unknown>)["id"];
  return typeof id === "number" || typeof id === "string" ? id : null;
}

/**
 * Step 7 of docs/protocols/payme.md#order-of-checks, after the body parsed and auth passed: the JSON-RPC shape, then the
 * method name (case-sensitive). Named params only; a `jsonrpc` member is accepted, not required.
 */
export function parseCall(body: unknown): { ok: true; call: PaymeCall } | { ok: false; reply: PaymeReply } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { ok: false, reply: rpcError(PAYME_ERRORS.INVALID_REQUEST) };
  }
  const { method, params, id } = body as Record<string, unknown>;
  if (typeof method !== "string") return { ok: false, reply: rpcError(PAYME_ERRORS.INVALID_REQUEST, "method") };
  if (typeof params !== "object" || params === null || Array.isArray(params)) {
    return { ok: false, reply: rpcError(PAYME_ERRORS.INVALID_REQUEST, "params") };
  }
  if (typeof id !== "number" && typeof id !== "string") return { ok: false, reply: rpcError(PAYME_ERRORS.INVALID_REQUEST, "id") };
  if (!(PAYME_METHODS as readonly string[]).includes(method)) {
    return { ok: false, reply: rpcError(PAYME_ERRORS.METHOD_NOT_FOUND, method) };
  }
  return { ok: true, call: { method: method as PaymeMethod, params: params as Record<string, unknown>, id } };
}

/**
 * `Authorization: Basic base64(login:key)` → the two parts, split on the first ":" only (keys
 * may contain ":"). Null for a missing header, another scheme or an undecodable credential.
 */
export function parseBasicAuth(header: string | undefined): { login: string; password: string } | null {
  if (!header) return null;
  // Canonical base64 only: Buffer.from would also accept unpadded or truncated input.
  const m = /^Basic[ ]+((?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?)[ ]*$/i.exec(header);
  if (!m) return null;
  const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return null;
  return { login: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** The header Payme sends: `Basic base64(login:key)` (for simulators and tests; the inverse of parseBasicAuth). */
export function basicAuthorization(login: string, key: string): string {
  return `Basic ${Buffer.from(`${login}:${key}`, "utf8").toString("base64")}`;
}

export type PaymeKeys = {
  login: string;
  /** the production key now in force */
  live: string;
  /** the sandbox key, only when PAYME_ALLOW_TEST_KEY=true */
  test: string | null;
};

/**
 * Which key the request authenticated with: "live", "test" (sandbox; its transactions are kept
 * apart and its events carry livemode: false) or null. Login and keys compared in constant time.
 */
export function authenticate(header: string | undefined, keys: PaymeKeys): "live" | "test" | null {
  const credential = parseBasicAuth(header);
  if (!credential) return null;
  const loginOk = constantTimeEqual(credential.login, keys.login);
  const live = constantTimeEqual(credential.password, keys.live);
  const test = keys.test !== null && constantTimeEqual(credential.password, keys.test);
  if (!loginOk) return null;
  return live ? "live" : test ? "test" : null;
}
