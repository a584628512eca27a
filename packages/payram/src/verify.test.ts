import { execFileSync } from "node:child_process";
import type { VerifyInput } from "@payhooks/core";
import { PAYRAM_FIXTURE_NAMES, payramFixtureBytes, payramFixturePath } from "../fixtures";
import { PAYRAM_API_KEY_HEADER, PAYRAM_SIGNATURE_HEADER, signForTest, verifyPayramRequest } from "./verify";

/** Fixed clock: Payram signs no timestamp, but VerifyInput requires one (STYLE.md rule 1). */
const NOW_MS = 1_700_000_000_000;
const API_KEY = "pk_live_3c9f1e0a7b5d4c2e8f6a1b3d5e7f9a0c";
const ROTATED_OUT_KEY = "pk_live_old_0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const OTHER_KEY = "pk_live_someone_else_00000000000000";
const BODY = payramFixtureBytes("filled");

/**
 * HMAC-SHA256 hex from openssl, an implementation we did not write, so a bug shared by our
 * signer and our verifier cannot make both agree. Reads a file, or stdin when given bytes.
 */
function opensslHmacHex(key: string, source: { file: string } | { bytes: Uint8Array }): string {
  const args = ["dgst", "-sha256", "-hmac", key, "-r"];
  const out =
    "file" in source
      ? execFileSync("openssl", [...args, source.file], { encoding: "utf8" })
      : execFileSync("openssl", args, { input: source.bytes, encoding: "utf8" });
  const hex = /^([0-9a-f]{64}) /.exec(out)?.[1];
  if (hex === undefined) throw new Error(`unexpected openssl output: ${out}`);
  return hex;
}

/** A request that verifies; negative tests change exactly one thing in it. */
function validInput(overrides: Partial<VerifyInput> = {}): VerifyInput {
  return {
    rawBody: BODY,
    headers: signForTest(BODY, API_KEY, "signature"),
    secrets: [API_KEY],
    now: NOW_MS,
    ...overrides,
  };
}

describe("signForTest", () => {
  it.each(PAYRAM_FIXTURE_NAMES)("signs fixture %s exactly as openssl does", (name) => {
    const headers = signForTest(payramFixtureBytes(name), API_KEY, "signature");
    expect(headers[PAYRAM_SIGNATURE_HEADER]).toBe(`sha256=${opensslHmacHex(API_KEY, { file: payramFixturePath(name) })}`);
  });

  it("signs the UTF-8 bytes of a string body, matching openssl over the same bytes", () => {
    const body = '{"reference_id":"r-1","status":"FILLED","customer_id":"Zoë Ł 東京"}';
    const expected = opensslHmacHex(API_KEY, { bytes: Buffer.from(body, "utf8") });
    expect(signForTest(body, API_KEY, "signature")[PAYRAM_SIGNATURE_HEADER]).toBe(`sha256=${expected}`);
  });

  it("sends both generations of headers by default, as payram-core v3.8 does", () => {
    const headers = signForTest(BODY, API_KEY);
    expect(headers[PAYRAM_SIGNATURE_HEADER]).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(headers[PAYRAM_API_KEY_HEADER]).toBe(API_KEY);
    expect(headers["content-type"]).toBe("application/json");
  });

  it("sends only the API-Key header in legacy mode", () => {
    const headers = signForTest(BODY, API_KEY, "api-key");
    expect(headers).not.toHaveProperty(PAYRAM_SIGNATURE_HEADER);
    expect(headers[PAYRAM_API_KEY_HEADER]).toBe(API_KEY);
  });
});

describe("verifyPayramRequest", () => {
  it("accepts a valid X-Payram-Signature", () => {
    expect(verifyPayramRequest(validInput())).toEqual({ ok: true });
  });

  it("accepts a signature computed by openssl, not by our signer", () => {
    const hex = opensslHmacHex(API_KEY, { file: payramFixturePath("filled") });
    expect(verifyPayramRequest(validInput({ headers: { [PAYRAM_SIGNATURE_HEADER]: `sha256=${hex}` } }))).toEqual({ ok: true });
  });

  it.each(PAYRAM_FIXTURE_NAMES)("accepts every fixture (%s) signed with both headers", (name) => {
    const body = payramFixtureBytes(name);
    expect(verifyPayramRequest(validInput({ rawBody: body, headers: signForTest(body, API_KEY) }))).toEqual({ ok: true });
  });

  it("accepts upper-case hex", () => {
    const hex = opensslHmacHex(API_KEY, { file: payramFixturePath("filled") }).toUpperCase();
    expect(verifyPayramRequest(validInput({ headers: { [PAYRAM_SIGNATURE_HEADER]: `sha256=${hex}` } }))).toEqual({ ok: true });
  });

  it("accepts a plain Uint8Array body as well as a Buffer", () => {
    const bytes = new Uint8Array(BODY);
    expect(Buffer.isBuffer(bytes)).toBe(false);
    expect(verifyPayramRequest(validInput({ rawBody: bytes }))).toEqual({ ok: true });
  });

  it("accepts the legacy API-Key header alone when it equals the key", () => {
    expect(verifyPayramRequest(validInput({ headers: signForTest(BODY, API_KEY, "api-key") }))).toEqual({ ok: true });
  });

  it("rejects a signature made with another key", () => {
    const headers = signForTest(BODY, OTHER_KEY, "signature");
    expect(verifyPayramRequest(validInput({ headers }))).toEqual({ ok: false, reason: "no_matching_signature" });
  });

  it("rejects a legacy API-Key that is not the key", () => {
    const headers = { [PAYRAM_API_KEY_HEADER]: OTHER_KEY };
    expect(verifyPayramRequest(validInput({ headers }))).toEqual({ ok: false, reason: "no_matching_signature" });
  });

  it("rejects a legacy API-Key that is only a prefix of the key", () => {
    const headers = { [PAYRAM_API_KEY_HEADER]: API_KEY.slice(0, -1) };
    expect(verifyPayramRequest(validInput({ headers }))).toEqual({ ok: false, reason: "no_matching_signature" });
  });

  it.each([
    ["no headers at all", {}],
    ["only content-type", { "content-type": "application/json" }],
    ["an empty API-Key", { [PAYRAM_API_KEY_HEADER]: "" }],
    ["an undefined signature header", { [PAYRAM_SIGNATURE_HEADER]: undefined }],
  ])("answers missing_header for %s", (_case, headers) => {
    expect(verifyPayramRequest(validInput({ headers }))).toEqual({ ok: false, reason: "missing_header" });
  });

  it.each([
    ["bare hex without sha256=", (hex: string) => hex],
    ["another algorithm", (hex: string) => `sha1=${hex}`],
    ["one hex digit short", (hex: string) => `sha256=${hex.slice(1)}`],
    ["one hex digit too many", (hex: string) => `sha256=${hex}0`],
    ["a non-hex digit", (hex: string) => `sha256=${hex.slice(1)}g`],
    ["two signatures", (hex: string) => `sha256=${hex},sha256=${hex}`],
    ["an empty value", () => ""],
    ["only the prefix", () => "sha256="],
  ])("answers malformed_header for %s", (_case, mangle) => {
    const hex = opensslHmacHex(API_KEY, { file: payramFixturePath("filled") });
    const headers = { [PAYRAM_SIGNATURE_HEADER]: mangle(hex) };
    expect(verifyPayramRequest(validInput({ headers }))).toEqual({ ok: false, reason: "malformed_header" });
  });

  it.each([0, 1, Math.floor(BODY.length / 2), BODY.length - 1])(
    "answers no_matching_signature when byte %i of the body changed",
    (index) => {
      const tampered = Buffer.from(BODY);
      tampered[index] = tampered[index]! ^ 0x01;
      expect(tampered.equals(BODY)).toBe(false);
      expect(verifyPayramRequest(validInput({ rawBody: tampered }))).toEqual({ ok: false, reason: "no_matching_signature" });
    },
  );

  it("answers no_matching_signature for a body with one extra trailing newline", () => {
    const rawBody = Buffer.concat([BODY, Buffer.from("\n")]);
    expect(verifyPayramRequest(validInput({ rawBody }))).toEqual({ ok: false, reason: "no_matching_signature" });
  });

  it("lets a valid signature win over a wrong API-Key header", () => {
    const headers = { ...signForTest(BODY, API_KEY, "signature"), [PAYRAM_API_KEY_HEADER]: OTHER_KEY };
    expect(verifyPayramRequest(validInput({ headers }))).toEqual({ ok: true });
  });

  it("does not fall back to a correct API-Key when the signature is wrong", () => {
    const headers = { ...signForTest(BODY, OTHER_KEY, "signature"), [PAYRAM_API_KEY_HEADER]: API_KEY };
    expect(verifyPayramRequest(validInput({ headers }))).toEqual({ ok: false, reason: "no_matching_signature" });
  });

  it("does not fall back to a correct API-Key when the signature is malformed", () => {
    const headers = { [PAYRAM_SIGNATURE_HEADER]: "sha256=nothex", [PAYRAM_API_KEY_HEADER]: API_KEY };
    expect(verifyPayramRequest(validInput({ headers }))).toEqual({ ok: false, reason: "malformed_header" });
  });

  describe("with a rotated key (current first, then rotated-out)", () => {
    const secrets = [API_KEY, ROTATED_OUT_KEY] as const;

    it.each([
      ["the current key", API_KEY],
      ["the rotated-out key", ROTATED_OUT_KEY],
    ])("accepts a signature made with %s", (_case, key) => {
      expect(verifyPayramRequest(validInput({ secrets, headers: signForTest(BODY, key, "signature") }))).toEqual({ ok: true });
    });

    it.each([
      ["the current key", API_KEY],
      ["the rotated-out key", ROTATED_OUT_KEY],
    ])("accepts an API-Key equal to %s", (_case, key) => {
      expect(verifyPayramRequest(validInput({ secrets, headers: signForTest(BODY, key, "api-key") }))).toEqual({ ok: true });
    });

    it("rejects a key that is neither", () => {
      const headers = signForTest(BODY, OTHER_KEY, "signature");
      expect(verifyPayramRequest(validInput({ secrets, headers }))).toEqual({ ok: false, reason: "no_matching_signature" });
    });
  });

  describe("programmer errors throw TypeError", () => {
    it("throws for an empty list of secrets", () => {
      const secrets = [] as unknown as VerifyInput["secrets"];
      expect(() => verifyPayramRequest(validInput({ secrets }))).toThrow(TypeError);
    });

    it.each([
      ["the only secret", [""]],
      ["a rotated-out secret", [API_KEY, ""]],
    ])("throws when %s is an empty string", (_case, secrets) => {
      expect(() => verifyPayramRequest(validInput({ secrets: secrets as unknown as VerifyInput["secrets"] }))).toThrow(
        TypeError,
      );
    });

    it("throws even when the request carries no headers, before looking at them", () => {
      const secrets = [""] as unknown as VerifyInput["secrets"];
      expect(() => verifyPayramRequest(validInput({ secrets, headers: {} }))).toThrow(TypeError);
    });

    it.each([
      ["a string", BODY.toString("utf8")],
      ["a parsed object", JSON.parse(BODY.toString("utf8")) as unknown],
      ["an ArrayBuffer", new ArrayBuffer(8)],
      ["undefined", undefined],
    ])("throws for a body that is %s", (_case, body) => {
      expect(() => verifyPayramRequest(validInput({ rawBody: body as Uint8Array }))).toThrow(TypeError);
    });
  });
});
