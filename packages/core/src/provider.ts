/** Every provider payhooks speaks. Adding one here makes every `satisfies Record<ProviderId, …>` fail until it is wired. */
export const PROVIDER_IDS = ["payme", "payram", "payske", "robokassa", "click"] as const;
export type ProviderId = (typeof PROVIDER_IDS)[number];

/** What a verifier sees: the exact bytes and lower-cased headers. Providers never read a clock of their own. */
export type VerifyInput = {
  rawBody: Uint8Array;
  headers: Readonly<Record<string, string | undefined>>;
  secrets: readonly [string, ...string[]];
  /** ms since epoch, injected by the caller */
  now: number;
};

export type VerifyFailure =
  | "missing_header"
  | "malformed_header"
  | "no_v1_signature"
  | "timestamp_out_of_tolerance"
  | "no_matching_signature";

export type VerifyResult = { ok: true; timestampSec?: number } | { ok: false; reason: VerifyFailure };
