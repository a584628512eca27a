/**
 * Every provider payhooks speaks, by the id its queue, its ledger records and its events carry.
 * Adding one here makes the registry (`@payhooks/providers`, `satisfies Record<ProviderId,
 * ProviderModule>`) fail to compile until its module is listed there.
 */
export const PROVIDER_IDS = ["payme", "payram", "payske", "robokassa", "stripe", "click"] as const;
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
