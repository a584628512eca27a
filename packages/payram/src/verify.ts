import { constantTimeEqual, hmacSha256 } from "@payhooks/core";
import type { VerifyInput, VerifyResult } from "@payhooks/core";

export const PAYRAM_SIGNATURE_HEADER = "x-payram-signature";
export const PAYRAM_API_KEY_HEADER = "api-key";

const SIGNATURE = /^sha256=([0-9a-fA-F]{64})$/;

/**
 * Payram authenticates a webhook in one of two generations (docs/protocols/payram.md#authentication):
 * - current: `X-Payram-Signature: sha256=<hex HMAC-SHA256(raw body, project API key)>`;
 * - legacy:  `API-Key: <project API key>`.
 * When the signature header is present it alone decides (a request cannot fall back to the
 * weaker key check by sending a bad signature). Every compare is constant-time; any of the
 * configured secrets (current first, then rotated-out ones) may match.
 */
export function verifyPayramRequest(input: VerifyInput): VerifyResult {
  if (!(input.rawBody instanceof Uint8Array)) throw new TypeError("rawBody must be bytes");
  if (input.secrets.length === 0 || input.secrets.some((s) => s.length === 0)) {
    throw new TypeError("at least one non-empty secret is required");
  }
  const signature = input.headers[PAYRAM_SIGNATURE_HEADER];
  if (signature !== undefined) {
    const match = SIGNATURE.exec(signature.trim());
    if (!match) return { ok: false, reason: "malformed_header" };
    const received = Buffer.from(match[1]!.toLowerCase(), "hex");
    const ok = input.secrets.some((secret) => constantTimeEqual(hmacSha256(secret, input.rawBody), received));
    return ok ? { ok: true } : { ok: false, reason: "no_matching_signature" };
  }
  const apiKey = input.headers[PAYRAM_API_KEY_HEADER];
  if (apiKey === undefined || apiKey === "") return { ok: false, reason: "missing_header" };
  const ok = input.secrets.some((secret) => constantTimeEqual(secret, apiKey));
  return ok ? { ok: true } : { ok: false, reason: "no_matching_signature" };
}

/** Headers Payram itself would send for `body`: both generations, as payram-core v3.8 does. */
export function signForTest(
  body: string | Uint8Array,
  secret: string,
  mode: "signature" | "api-key" | "both" = "both",
): Record<string, string> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (mode !== "api-key") headers["x-payram-signature"] = `sha256=${hmacSha256(secret, body).toString("hex")}`;
  if (mode !== "signature") headers["api-key"] = secret;
  return headers;
}
