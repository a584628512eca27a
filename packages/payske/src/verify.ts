import { constantTimeEqual, hmacSha256, type VerifyFailure } from "@payhooks/core";

export const PAYSKE_SIGNATURE_HEADER = "payske-signature";

/** Stripe's default, which Payske copies (docs/protocols/payske.md#authentication). */
export const DEFAULT_TOLERANCE_SECONDS = 300;

export type PayskeVerifyInput = {
  rawBody: Uint8Array;
  /** the Payske-Signature header as received */
  header: string | undefined;
  /** every secret in force (more than one while a secret is rotated); empty ones never match */
  secrets: readonly string[];
  /** ms since epoch, injected */
  now: number;
  /** seconds a timestamp may lie in the past; 0 turns the check off (as stripe-node 23 does) */
  toleranceSeconds: number;
};

export type PayskeVerifyResult = { ok: true; timestamp: number } | { ok: false; reason: VerifyFailure };

/**
 * `t=<unix>,v1=<hex>[,v1=…][,v0=…]`, parsed as stripe-node parses it: items split on ",",
 * names not trimmed, the value after the first "=". Only v1 counts, so a header cannot be
 * downgraded to another scheme.
 */
export function parseSignatureHeader(header: string): { timestamp: number; v1: string[] } | null {
  let timestamp = Number.NaN;
  const v1: string[] = [];
  for (const item of header.split(",")) {
    const eq = item.indexOf("=");
    if (eq < 0) continue;
    const name = item.slice(0, eq);
    const value = item.slice(eq + 1);
    if (name === "t") timestamp = /^\d{1,12}$/.test(value) ? Number(value) : Number.NaN;
    else if (name === "v1") v1.push(value);
  }
  return Number.isNaN(timestamp) ? null : { timestamp, v1 };
}

/** Lower-case hex HMAC-SHA256 of `{t}.{rawBody}` keyed with the whole secret string (`whsec_` included). */
export function payskeSignature(secret: string, timestamp: number, rawBody: Uint8Array | string): string {
  const body = typeof rawBody === "string" ? Buffer.from(rawBody, "utf8") : Buffer.from(rawBody);
  return hmacSha256(secret, Buffer.concat([Buffer.from(`${timestamp}.`, "utf8"), body])).toString("hex");
}

/**
 * Verifies a Payske delivery over the exact bytes received (docs/protocols/payske.md#authentication): any v1 may
 * match any secret, compared in constant time (case-sensitive, like stripe-node); then the
 * timestamp must be no older than the tolerance. A future timestamp passes, as in Stripe.
 */
export function verifyPayskeSignature(input: PayskeVerifyInput): PayskeVerifyResult {
  if (input.header === undefined || input.header === "") return { ok: false, reason: "missing_header" };
  const parsed = parseSignatureHeader(input.header);
  if (!parsed) return { ok: false, reason: "malformed_header" };
  if (parsed.v1.length === 0) return { ok: false, reason: "no_v1_signature" };
  const secrets = input.secrets.filter((s) => s.length > 0);
  let matched = false;
  for (const secret of secrets) {
    const expected = payskeSignature(secret, parsed.timestamp, input.rawBody);
    // Every pair is compared, so the time taken does not say which one matched.
    for (const candidate of parsed.v1) matched = constantTimeEqual(expected, candidate) || matched;
  }
  if (!matched) return { ok: false, reason: "no_matching_signature" };
  const ageSeconds = Math.floor(input.now / 1000) - parsed.timestamp;
  if (input.toleranceSeconds > 0 && ageSeconds > input.toleranceSeconds) {
    return { ok: false, reason: "timestamp_out_of_tolerance" };
  }
  return { ok: true, timestamp: parsed.timestamp };
}

/** A Payske-Signature header for tests and simulators: `t=…,v1=…` with one v1 per secret. */
export function signForTest(rawBody: string, secrets: string | readonly string[], timestampSeconds: number): string {
  const list = typeof secrets === "string" ? [secrets] : secrets;
  return [`t=${timestampSeconds}`, ...list.map((s) => `v1=${payskeSignature(s, timestampSeconds, rawBody)}`)].join(",");
}
