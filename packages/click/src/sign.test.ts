import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { clickSign, signString, verifyClickSignature, type SignedFields } from "./sign";

/** md5 of `text` as `openssl md5` computes it from the exact bytes on its stdin. */
function opensslMd5(text: string): string {
  const out = execFileSync("openssl", ["md5"], { input: Buffer.from(text, "utf8") }).toString("utf8");
  const m = /([0-9a-f]{32})\s*$/.exec(out.trim());
  if (!m) throw new Error(`unexpected openssl output: ${out}`);
  return m[1]!;
}

// The vectors of docs/protocols/click.md#authentication, verbatim.
const K1: SignedFields = { click_trans_id: "2245678901", service_id: "12345", merchant_trans_id: "ord-1001", amount: "50000", action: "0", sign_time: "2024-03-02 07:50:19" };
const K2: SignedFields = { ...K1, merchant_prepare_id: "17", action: "1", sign_time: "2024-03-02 07:50:41" };
const K3: SignedFields = { click_trans_id: "98765", service_id: "30911", merchant_trans_id: "A-77.3", amount: "1000.50", action: "0", sign_time: "2025-01-09 00:00:05" };
const K4: SignedFields = { ...K3, merchant_prepare_id: "4096", action: "1", sign_time: "2025-01-09 00:00:09" };
const K5: SignedFields = { ...K3, amount: "1000.5" };
const K6: SignedFields = { click_trans_id: "18409", service_id: "12345", merchant_trans_id: "123", amount: "500", action: "0", sign_time: "2024-03-02 07:50:19" };

const VECTORS: Array<[string, SignedFields, string, string, string]> = [
  ["K1", K1, "Xq7pLmN2vR9s", "224567890112345Xq7pLmN2vR9sord-10015000002024-03-02 07:50:19", "3a15acab864e05d1c7b1395930c7e040"],
  ["K2", K2, "Xq7pLmN2vR9s", "224567890112345Xq7pLmN2vR9sord-1001175000012024-03-02 07:50:41", "621d5501e75e84ccaf6a5d92d6c6243e"],
  ["K3", K3, "k3Y#pq&Z", "9876530911k3Y#pq&ZA-77.31000.5002025-01-09 00:00:05", "c42ab65ed8e7f9b1da9eb02cf748632f"],
  ["K4", K4, "k3Y#pq&Z", "9876530911k3Y#pq&ZA-77.340961000.5012025-01-09 00:00:09", "4159b1a2dd8f5290b8f71ce5c9905c1c"],
  ["K5", K5, "k3Y#pq&Z", "9876530911k3Y#pq&ZA-77.31000.502025-01-09 00:00:05", "e8646b3775635963279951dfe66fcb64"],
  ["K6", K6, "secret_key", "1840912345secret_key12350002024-03-02 07:50:19", "600f0d107407282c36b46d887b2b33eb"],
];

describe("sign_string (docs/protocols/click.md#authentication)", () => {
  test.each(VECTORS)("%s: the sign string and its digest", (_id, fields, secret, text, md5) => {
    expect(signString(fields, secret)).toBe(text);
    expect(clickSign(fields, secret)).toBe(md5);
    expect(verifyClickSignature(fields, md5, secret)).toBe(true);
  });

  test.each(VECTORS)("%s: cross-checked with openssl md5", (_id, fields, secret) => {
    expect(clickSign(fields, secret)).toBe(opensslMd5(signString(fields, secret)));
  });

  test("non-ASCII fields hash their UTF-8 bytes, as openssl sees them", () => {
    const fields: SignedFields = { ...K1, merchant_trans_id: "заказ-№1 ünï", sign_time: "2024-03-02 07:50:19" };
    const secret = "ключ+/=&";
    expect(clickSign(fields, secret)).toBe(opensslMd5(signString(fields, secret)));
  });

  test("K3 and K5: the same money in two spellings gives two digests", () => {
    expect(clickSign(K3, "k3Y#pq&Z")).not.toBe(clickSign(K5, "k3Y#pq&Z"));
    expect(verifyClickSignature(K5, "c42ab65ed8e7f9b1da9eb02cf748632f", "k3Y#pq&Z")).toBe(false);
  });

  test("Prepare does not hash a merchant_prepare_id sent with it; Complete does", () => {
    expect(clickSign({ ...K1, merchant_prepare_id: "0" }, "Xq7pLmN2vR9s")).toBe("3a15acab864e05d1c7b1395930c7e040");
    expect(clickSign({ ...K1, merchant_prepare_id: "99" }, "Xq7pLmN2vR9s")).toBe("3a15acab864e05d1c7b1395930c7e040");
    expect(clickSign({ ...K2, merchant_prepare_id: "18" }, "Xq7pLmN2vR9s")).not.toBe("621d5501e75e84ccaf6a5d92d6c6243e");
  });

  test("the Prepare formula on a Complete does not verify (the common bug)", () => {
    const prepareFormula = createHash("md5").update("224567890112345Xq7pLmN2vR9sord-1001" + "50000" + "1" + "2024-03-02 07:50:41").digest("hex");
    expect(verifyClickSignature(K2, prepareFormula, "Xq7pLmN2vR9s")).toBe(false);
  });

  test("upper-case hex is accepted; wrong length, base64, SHA-1, a wrong key or an empty key are not", () => {
    const md5 = "3a15acab864e05d1c7b1395930c7e040";
    expect(verifyClickSignature(K1, md5.toUpperCase(), "Xq7pLmN2vR9s")).toBe(true);
    expect(verifyClickSignature(K1, md5.slice(0, 31), "Xq7pLmN2vR9s")).toBe(false);
    expect(verifyClickSignature(K1, `${md5}0`, "Xq7pLmN2vR9s")).toBe(false);
    expect(verifyClickSignature(K1, ` ${md5}`, "Xq7pLmN2vR9s")).toBe(false);
    expect(verifyClickSignature(K1, Buffer.from(md5, "hex").toString("base64"), "Xq7pLmN2vR9s")).toBe(false);
    expect(verifyClickSignature(K1, createHash("sha1").update(signString(K1, "Xq7pLmN2vR9s")).digest("hex"), "Xq7pLmN2vR9s")).toBe(false);
    expect(verifyClickSignature(K1, md5, "Xq7pLmN2vR9t")).toBe(false);
    expect(verifyClickSignature(K1, "0".repeat(32), "Xq7pLmN2vR9s")).toBe(false);
    expect(verifyClickSignature({ ...K1 }, clickSign(K1, ""), "")).toBe(false);
  });

  test("the comparison goes through the core's constant-time equality", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const core = require("@payhooks/core") as typeof import("@payhooks/core");
    const spy = jest.spyOn(core, "constantTimeEqual");
    verifyClickSignature(K1, "3a15acab864e05d1c7b1395930c7e040", "Xq7pLmN2vR9s");
    expect(spy).toHaveBeenCalledWith("3a15acab864e05d1c7b1395930c7e040", "3a15acab864e05d1c7b1395930c7e040");
  });
});
