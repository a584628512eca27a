import { createHash } from "node:crypto";
import { constantTimeEqual } from "@payhooks/core";

/** The algorithms a RoboKassa shop can choose in its cabinet (docs/protocols/robokassa.md#authentication). MD5 is the default. */
export const ROBOKASSA_HASHES = ["md5", "ripemd160", "sha1", "sha256", "sha384", "sha512"] as const;
export type RobokassaHash = (typeof ROBOKASSA_HASHES)[number];

/** `Shp_` parameters, selected case-insensitively, in the order RoboKassa signs them. */
export function shpPairs(params: Readonly<Record<string, string>>, order: "caseless" | "ordinal" = "caseless"): Array<[string, string]> {
  const pairs = Object.entries(params).filter(([key]) => key.toLowerCase().startsWith("shp_"));
  const ordinal = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  // RoboKassa's own plugin signs in case-insensitive key order; ties broken ordinally.
  return pairs.sort(([a], [b]) => (order === "caseless" ? ordinal(a.toLowerCase(), b.toLowerCase()) || ordinal(a, b) : ordinal(a, b)));
}

/**
 * `OutSum:InvId:Password[:Shp_k=v…]` over the exact received strings: the password goes before
 * the Shp pairs, each rendered `name=value` (the URL-decoded value), all joined with ":".
 */
export function signatureBase(outSum: string, invId: string, password: string, shp: ReadonlyArray<[string, string]>): string {
  return [outSum, invId, password, ...shp.map(([k, v]) => `${k}=${v}`)].join(":");
}

export function robokassaDigest(algorithm: RobokassaHash, base: string): string {
  return createHash(algorithm).update(base, "utf8").digest("hex");
}

/**
 * Checks `SignatureValue` against the shop's password and algorithm: hex compared
 * case-insensitively in constant time. Shp pairs are tried in case-insensitive order and, when
 * that differs, in ordinal order (libraries disagree; both still need the password).
 */
export function verifyRobokassaSignature(input: {
  params: Readonly<Record<string, string>>;
  password: string;
  algorithm: RobokassaHash;
}): boolean {
  const { params, password, algorithm } = input;
  const { OutSum: outSum, InvId: invId, SignatureValue: received } = params;
  if (!outSum || !invId || !received || password === "") return false;
  const candidate = received.toLowerCase();
  const caseless = shpPairs(params, "caseless");
  const ordinal = shpPairs(params, "ordinal");
  const orders = caseless.every(([k], i) => ordinal[i]![0] === k) ? [caseless] : [caseless, ordinal];
  let matched = false;
  for (const shp of orders) {
    matched = constantTimeEqual(robokassaDigest(algorithm, signatureBase(outSum, invId, password, shp)), candidate) || matched;
  }
  return matched;
}

/** Parameters as RoboKassa would send them, with `SignatureValue` added (tests and simulators). */
export function signForTest(
  params: Readonly<Record<string, string>>,
  password: string,
  algorithm: RobokassaHash = "md5",
): Record<string, string> {
  const base = signatureBase(params["OutSum"]!, params["InvId"]!, password, shpPairs(params));
  return { ...params, SignatureValue: robokassaDigest(algorithm, base).toUpperCase() };
}
