import { createHash } from "node:crypto";
import { constantTimeEqual } from "@payhooks/core";

/** The signed fields of a request, each exactly as received (docs/protocols/click.md#authentication). */
export type SignedFields = {
  click_trans_id: string;
  service_id: string;
  merchant_trans_id: string;
  /** Complete only: Prepare does not sign it, even when Click sends it */
  merchant_prepare_id?: string;
  amount: string;
  action: string;
  sign_time: string;
};

/**
 * The text Click hashes: plain concatenation, the secret key third, and on Complete
 * (`action` "1") `merchant_prepare_id` right after `merchant_trans_id`. `error`, `error_note`
 * and `click_paydoc_id` are not signed.
 */
export function signString(fields: SignedFields, secretKey: string): string {
  const complete = fields.action === "1";
  return (
    fields.click_trans_id +
    fields.service_id +
    secretKey +
    fields.merchant_trans_id +
    (complete ? (fields.merchant_prepare_id ?? "") : "") +
    fields.amount +
    fields.action +
    fields.sign_time
  );
}

/** md5 hex (lower-case) of the sign string's UTF-8 bytes: what Click sends as `sign_string`. */
export function clickSign(fields: SignedFields, secretKey: string): string {
  return createHash("md5").update(signString(fields, secretKey), "utf8").digest("hex");
}

const MD5_HEX = /^[0-9a-f]{32}$/;

/**
 * Whether `received` is the request's signature: 32 hex digits, either case, compared in
 * constant time with the digest of the received fields. Anything else (wrong length, base64,
 * SHA-1) is no signature.
 */
export function verifyClickSignature(fields: SignedFields, received: string, secretKey: string): boolean {
  const candidate = received.toLowerCase();
  if (!MD5_HEX.test(candidate) || secretKey === "") return false;
  return constantTimeEqual(clickSign(fields, secretKey), candidate);
}
