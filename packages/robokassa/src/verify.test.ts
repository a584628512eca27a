import { execFileSync } from "node:child_process";
import { Robokassa, type IRobokassaResponse } from "@dev-aces/robokassa";
import { firstValues } from "./notice";
import { ROBOKASSA_HASHES, robokassaDigest, shpPairs, signForTest, signatureBase, verifyRobokassaSignature, type RobokassaHash } from "./verify";

/** The Password #2 of RoboKassa's own example (docs/protocols/robokassa.md#authentication, #sources): Cyrillic, so the UTF-8 encoding is exercised too. */
const PASSWORD = "Пароль#2";
const OTHER_PASSWORD = "Пароль#1";
/** The base string of RoboKassa's own example, verbatim (docs/protocols/robokassa.md#authentication, #sources). */
const DOCS_BASE = "100.000000:450009:Пароль#2:Shp_login=Vasya:Shp_oplata=1";

/**
 * Hex digest from `openssl dgst`, an implementation we did not write, so a bug shared by our
 * signer and our verifier cannot make both agree. The base string goes in on stdin as UTF-8.
 */
function opensslHex(algorithm: RobokassaHash, base: string): string {
  const out = execFileSync("openssl", ["dgst", `-${algorithm}`, "-r"], { input: Buffer.from(base, "utf8"), encoding: "utf8" });
  const hex = /^([0-9a-f]+) /.exec(out)?.[1];
  if (hex === undefined) throw new Error(`unexpected openssl output: ${out}`);
  return hex;
}

/** @dev-aces/robokassa's ResultURL check (OutSum:InvId:Password2[:Shp…], localeCompare order, lower-cased compare). */
function devAcesAccepts(params: Record<string, string>, password: string, algorithm: RobokassaHash): boolean {
  const client = new Robokassa({ merchantLogin: "demo", password1: "unused-password-1", password2: password, hashAlgorithm: algorithm });
  // The library types InvId as a number; it only ever joins it into the base string, so the received text is what it hashes.
  return client.checkPayment(params as unknown as IRobokassaResponse);
}

function verify(params: Record<string, string>, password = PASSWORD, algorithm: RobokassaHash = "md5"): boolean {
  return verifyRobokassaSignature({ params, password, algorithm });
}

/** The Shp sets every algorithm is checked with. */
const SHP_SETS: Array<[string, Record<string, string>]> = [
  ["no Shp", {}],
  ["two Shp (the docs' example)", { Shp_login: "Vasya", Shp_oplata: "1" }],
  ["a Cyrillic Shp value", { Shp_city: "Москва", Shp_login: "Вася" }],
];
/** Live notices carry 6 decimals, test-mode notices 2 (docs/protocols/robokassa.md#money). */
const OUT_SUMS: Array<[string, string]> = [
  ["100.000000", "450009"],
  ["4710.00", "63"],
];

const MATRIX = ROBOKASSA_HASHES.flatMap((algorithm) =>
  SHP_SETS.flatMap(([shpLabel, shp]) => OUT_SUMS.map(([outSum, invId]) => ({ algorithm, shpLabel, shp, outSum, invId }))),
);

describe("signatureBase", () => {
  it("builds the docs' example exactly: OutSum:InvId:Password#2 then the Shp pairs", () => {
    const params = { OutSum: "100.000000", InvId: "450009", Shp_oplata: "1", Shp_login: "Vasya" };
    expect(signatureBase(params.OutSum, params.InvId, PASSWORD, shpPairs(params))).toBe(DOCS_BASE);
  });

  it("is just OutSum:InvId:Password without Shp parameters", () => {
    expect(signatureBase("4710.00", "63", PASSWORD, [])).toBe("4710.00:63:Пароль#2");
  });
});

describe("robokassaDigest", () => {
  it.each(ROBOKASSA_HASHES)("hashes the docs' base string with %s exactly as openssl does", (algorithm) => {
    expect(robokassaDigest(algorithm, DOCS_BASE)).toBe(opensslHex(algorithm, DOCS_BASE));
  });

  it("gives 40 hex characters for both sha1 and ripemd160, but different ones", () => {
    const sha1 = robokassaDigest("sha1", DOCS_BASE);
    const ripemd160 = robokassaDigest("ripemd160", DOCS_BASE);
    expect(sha1).toMatch(/^[0-9a-f]{40}$/);
    expect(ripemd160).toMatch(/^[0-9a-f]{40}$/);
    expect(sha1).not.toBe(ripemd160);
  });
});

describe.each(MATRIX)("$algorithm, $shpLabel, OutSum $outSum", ({ algorithm, shp, outSum, invId }) => {
  const params = { OutSum: outSum, InvId: invId, ...shp };
  const signed = signForTest(params, PASSWORD, algorithm);
  const signature = signed["SignatureValue"]!;

  it("signs with openssl's digest of the base string", () => {
    const base = signatureBase(outSum, invId, PASSWORD, shpPairs(params));
    expect(signature.toLowerCase()).toBe(opensslHex(algorithm, base));
  });

  it("is accepted by verifyRobokassaSignature", () => {
    expect(verify(signed, PASSWORD, algorithm)).toBe(true);
  });

  it("is accepted by @dev-aces/robokassa's checkPayment", () => {
    expect(devAcesAccepts(signed, PASSWORD, algorithm)).toBe(true);
  });

  it("is accepted with the digest in upper and in lower case", () => {
    expect(verify({ ...signed, SignatureValue: signature.toUpperCase() }, PASSWORD, algorithm)).toBe(true);
    expect(verify({ ...signed, SignatureValue: signature.toLowerCase() }, PASSWORD, algorithm)).toBe(true);
  });

  it("is refused with another password", () => {
    expect(verify(signed, OTHER_PASSWORD, algorithm)).toBe(false);
  });
});

describe("verifyRobokassaSignature", () => {
  const LIVE = { OutSum: "100.000000", InvId: "450009", Shp_login: "Vasya", Shp_oplata: "1" };

  it("accepts the docs' example signed by openssl (not by our signer)", () => {
    for (const algorithm of ROBOKASSA_HASHES) {
      expect(verify({ ...LIVE, SignatureValue: opensslHex(algorithm, DOCS_BASE) }, PASSWORD, algorithm)).toBe(true);
    }
  });

  it("accepts the docs' example in upper-case hex, as the docs print it", () => {
    expect(verify({ ...LIVE, SignatureValue: opensslHex("md5", DOCS_BASE).toUpperCase() })).toBe(true);
  });

  it("accepts a signature from a mixed-case digest", () => {
    const hex = opensslHex("sha256", DOCS_BASE);
    const mixed = [...hex].map((c, i) => (i % 2 ? c.toUpperCase() : c)).join("");
    expect(verify({ ...LIVE, SignatureValue: mixed }, PASSWORD, "sha256")).toBe(true);
  });

  it("refuses OutSum re-formatted after signing (100.000000 signed, 100.00 received)", () => {
    const signed = signForTest(LIVE, PASSWORD);
    expect(verify(signed)).toBe(true);
    expect(verify({ ...signed, OutSum: "100.00" })).toBe(false);
    expect(verify({ ...signed, OutSum: "100" })).toBe(false);
  });

  it("refuses a changed InvId", () => {
    expect(verify({ ...signForTest(LIVE, PASSWORD), InvId: "450010" })).toBe(false);
  });

  it("refuses a changed Shp value", () => {
    expect(verify({ ...signForTest(LIVE, PASSWORD), Shp_oplata: "2" })).toBe(false);
  });

  it("refuses an added or a dropped Shp parameter", () => {
    const signed = signForTest(LIVE, PASSWORD);
    expect(verify({ ...signed, Shp_extra: "1" })).toBe(false);
    const { Shp_oplata: _dropped, ...withoutOne } = signed;
    expect(verify(withoutOne)).toBe(false);
  });

  it("refuses the wrong password", () => {
    expect(verify(signForTest(LIVE, PASSWORD), OTHER_PASSWORD)).toBe(false);
  });

  it("refuses the wrong algorithm even at the same digest length (sha1 vs ripemd160)", () => {
    const sha1 = signForTest(LIVE, PASSWORD, "sha1");
    const ripemd160 = signForTest(LIVE, PASSWORD, "ripemd160");
    expect(sha1["SignatureValue"]).toHaveLength(40);
    expect(ripemd160["SignatureValue"]).toHaveLength(40);
    expect(verify(sha1, PASSWORD, "sha1")).toBe(true);
    expect(verify(sha1, PASSWORD, "ripemd160")).toBe(false);
    expect(verify(ripemd160, PASSWORD, "ripemd160")).toBe(true);
    expect(verify(ripemd160, PASSWORD, "sha1")).toBe(false);
  });

  it("refuses md5 signatures when the shop uses sha256, and the reverse", () => {
    expect(verify(signForTest(LIVE, PASSWORD, "md5"), PASSWORD, "sha256")).toBe(false);
    expect(verify(signForTest(LIVE, PASSWORD, "sha256"), PASSWORD, "md5")).toBe(false);
  });

  it("never verifies with an empty password, even over a base string signed with one", () => {
    const signed = signForTest(LIVE, "");
    expect(signed["SignatureValue"]!.toLowerCase()).toBe(opensslHex("md5", "100.000000:450009::Shp_login=Vasya:Shp_oplata=1"));
    expect(verify(signed, "")).toBe(false);
  });

  it("is false without a SignatureValue, or with an empty one", () => {
    const { SignatureValue: _sig, ...unsigned } = signForTest(LIVE, PASSWORD);
    expect(verify(unsigned)).toBe(false);
    expect(verify({ ...unsigned, SignatureValue: "" })).toBe(false);
  });

  it("is false without OutSum or InvId", () => {
    const signed = signForTest(LIVE, PASSWORD);
    const { OutSum: _o, ...noOutSum } = signed;
    const { InvId: _i, ...noInvId } = signed;
    expect(verify(noOutSum)).toBe(false);
    expect(verify(noInvId)).toBe(false);
  });

  it("refuses a non-hex or truncated SignatureValue", () => {
    const signature = signForTest(LIVE, PASSWORD)["SignatureValue"]!;
    expect(verify({ ...LIVE, SignatureValue: signature.slice(0, -1) })).toBe(false);
    expect(verify({ ...LIVE, SignatureValue: `${signature}0` })).toBe(false);
    expect(verify({ ...LIVE, SignatureValue: `${signature.slice(0, -1)}G` })).toBe(false);
  });

  it("does not sign Fee, EMail, IsTest, Culture, PaymentMethod, IncCurrLabel, IncSum or the legacy out_summ/inv_id/crc", () => {
    const extras = {
      Fee: "0.030000",
      EMail: "buyer@example.com",
      IsTest: "1",
      Culture: "ru",
      PaymentMethod: "BankCard",
      IncCurrLabel: "BankCardPSR",
      IncSum: "100.000000",
      out_summ: "100.000000",
      inv_id: "450009",
      crc: "0123456789ABCDEF0123456789ABCDEF",
    };
    const params = { ...LIVE, ...extras, SignatureValue: opensslHex("md5", DOCS_BASE) };
    expect(verify(params)).toBe(true);
    expect(devAcesAccepts(params, PASSWORD, "md5")).toBe(true);
    // Changing an unsigned field changes nothing; it was never part of the base string.
    expect(verify({ ...params, Fee: "99.000000", EMail: "other@example.com", crc: "x" })).toBe(true);
  });

  it("signs URL-decoded values: a percent-encoded Cyrillic Shp value from the query string", () => {
    const query =
      "OutSum=100.000000&InvId=450009&Shp_city=%D0%9C%D0%BE%D1%81%D0%BA%D0%B2%D0%B0&Shp_name=%D0%92%D0%B0%D1%81%D1%8F+%D0%9F";
    const params = firstValues(new URLSearchParams(query));
    const signature = opensslHex("sha256", "100.000000:450009:Пароль#2:Shp_city=Москва:Shp_name=Вася П");
    expect(verify({ ...params, SignatureValue: signature }, PASSWORD, "sha256")).toBe(true);
    expect(devAcesAccepts({ ...params, SignatureValue: signature }, PASSWORD, "sha256")).toBe(true);
  });
});

describe("Shp selection and order (docs/protocols/robokassa.md#authentication)", () => {
  /** The official WordPress plugin's four parameters and its fixed signing order. */
  const WORDPRESS = {
    OutSum: "4710.00",
    InvId: "63",
    Shp_result_url: "https://shop.example/wc-api/robokassa",
    shp_label: "official_wordpress",
    Shp_order_id: "1001",
    Shp_merchant_id: "demo-shop",
  };
  const WORDPRESS_BASE =
    "4710.00:63:Пароль#2:shp_label=official_wordpress:Shp_merchant_id=demo-shop:Shp_order_id=1001:Shp_result_url=https://shop.example/wc-api/robokassa";

  it("selects shp_, Shp_ and SHP_ names case-insensitively, and nothing else", () => {
    const pairs = shpPairs({ ...WORDPRESS, SHP_x: "1", Fee: "0.03", Shpx: "no", xShp_y: "no", shp: "no" });
    expect(pairs.map(([k]) => k)).toEqual(["shp_label", "Shp_merchant_id", "Shp_order_id", "Shp_result_url", "SHP_x"]);
  });

  it("orders by the lower-cased key, as the WordPress plugin signs", () => {
    const pairs = shpPairs(WORDPRESS);
    expect(signatureBase(WORDPRESS.OutSum, WORDPRESS.InvId, PASSWORD, pairs)).toBe(WORDPRESS_BASE);
  });

  it("orders ordinally in ordinal mode: upper-case prefixes first", () => {
    const pairs = shpPairs({ ...WORDPRESS, SHP_x: "1" }, "ordinal");
    expect(pairs.map(([k]) => k)).toEqual(["SHP_x", "Shp_merchant_id", "Shp_order_id", "Shp_result_url", "shp_label"]);
  });

  it("breaks ties between names differing only in case ordinally", () => {
    expect(shpPairs({ shp_a: "2", Shp_a: "1", SHP_A: "0" }).map(([k]) => k)).toEqual(["SHP_A", "Shp_a", "shp_a"]);
  });

  it.each(ROBOKASSA_HASHES)("verifies the WordPress plugin's order, signed by openssl (%s)", (algorithm) => {
    const params = { ...WORDPRESS, SignatureValue: opensslHex(algorithm, WORDPRESS_BASE) };
    expect(verify(params, PASSWORD, algorithm)).toBe(true);
  });

  it("signs in the WordPress plugin's order", () => {
    expect(signForTest(WORDPRESS, PASSWORD)["SignatureValue"]!.toLowerCase()).toBe(opensslHex("md5", WORDPRESS_BASE));
  });

  it("verifies with a SHP_ name placed by its lower-cased key", () => {
    const base = `${WORDPRESS_BASE}:SHP_x=1`;
    expect(verify({ ...WORDPRESS, SHP_x: "1", SignatureValue: opensslHex("sha512", base) }, PASSWORD, "sha512")).toBe(true);
  });

  it("falls back to ordinal order (sdk-php, aiorobokassa)", () => {
    const ordinalBase =
      "4710.00:63:Пароль#2:SHP_x=1:Shp_merchant_id=demo-shop:Shp_order_id=1001:Shp_result_url=https://shop.example/wc-api/robokassa:shp_label=official_wordpress";
    expect(verify({ ...WORDPRESS, SHP_x: "1", SignatureValue: opensslHex("md5", ordinalBase) })).toBe(true);
  });

  it("refuses any other order", () => {
    const reversed =
      "4710.00:63:Пароль#2:Shp_result_url=https://shop.example/wc-api/robokassa:Shp_order_id=1001:Shp_merchant_id=demo-shop:shp_label=official_wordpress";
    expect(verify({ ...WORDPRESS, SignatureValue: opensslHex("md5", reversed) })).toBe(false);
  });

  it("refuses the password after the Shp pairs", () => {
    const passwordLast =
      "4710.00:63:shp_label=official_wordpress:Shp_merchant_id=demo-shop:Shp_order_id=1001:Shp_result_url=https://shop.example/wc-api/robokassa:Пароль#2";
    expect(verify({ ...WORDPRESS, SignatureValue: opensslHex("md5", passwordLast) })).toBe(false);
  });

  it("agrees with @dev-aces/robokassa on mixed prefixes", () => {
    const signed = signForTest(WORDPRESS, PASSWORD, "sha384");
    expect(devAcesAccepts(signed, PASSWORD, "sha384")).toBe(true);
  });
});
