import { soumToTiyin } from "./money";
import { callOf, checkSyntax, parseClickBody, parseForm, parseJsonObject, truncate, type ClickFields } from "./request";

const body = (text: string) => parseClickBody(Buffer.from(text, "utf8"));

describe("form bodies (docs/protocols/click.md#transport)", () => {
  test("+ is a space, %XX are UTF-8 bytes, values verbatim (no trimming, no case folding)", () => {
    expect(parseForm("sign_time=2024-03-02+07%3A50%3A19&merchant_trans_id=%D0%B7%D0%B0%D0%BA%D0%B0%D0%B7&note=%20Ab%20")).toEqual({
      ok: true,
      fields: { sign_time: "2024-03-02 07:50:19", merchant_trans_id: "заказ", note: " Ab " },
    });
  });
  test("raw UTF-8 in the body is read as is; %2B is a plus", () => {
    expect(body("a=ünï&b=1%2B1")).toEqual({ ok: true, fields: { a: "ünï", b: "1+1" } });
  });
  test("a key twice is refused, even with the same value", () => {
    expect(parseForm("amount=500&amount=500").ok).toBe(false);
    expect(parseForm("a%6Dount=500&amount=500").ok).toBe(false); // the same key, spelled encoded
  });
  test("empty segments are skipped; a key without = is an empty value", () => {
    expect(parseForm("&a=1&&b&")).toEqual({ ok: true, fields: { a: "1", b: "" } });
    expect(parseForm("")).toEqual({ ok: true, fields: {} });
  });
  test("a malformed escape or bytes that are no UTF-8 are unreadable", () => {
    expect(parseForm("a=%zz").ok).toBe(false);
    expect(parseForm("a=%4").ok).toBe(false);
    expect(parseForm("a=%ff%fe").ok).toBe(false);
    expect(parseClickBody(Uint8Array.from([0x61, 0x3d, 0xff])).ok).toBe(false);
  });
  test("unknown keys are kept (and ignored later)", () => {
    expect(parseForm("new_click_field=x")).toEqual({ ok: true, fields: { new_click_field: "x" } });
  });
});

describe("JSON bodies (docs/protocols/click.md#transport)", () => {
  test("a flat object of strings and integers reads like the form", () => {
    expect(body(' {"click_trans_id": 2245678901, "amount": "1000.50", "error": -5017, "error_note": "x"}')).toEqual({
      ok: true,
      fields: { click_trans_id: "2245678901", amount: "1000.50", error: "-5017", error_note: "x" },
    });
  });
  test.each([
    ["an array", "[1]"],
    ["a nested object", '{"a": {"b": "1"}}'],
    ["a boolean", '{"a": true}'],
    ["null", '{"a": null}'],
    ["a fraction", '{"amount": 1000.50}'],
    ["an integer written with a point", '{"amount": 1000.0}'],
    ["an exponent", '{"amount": 5e4}'],
    ["minus zero", '{"error": -0}'],
    ["an integer past 2^53", '{"click_trans_id": 12345678901234567890}'],
    ["Advanced Shop (attempt_trans_id)", '{"attempt_trans_id": "1", "click_paydoc_id": "2"}'],
    ["broken JSON", '{"a": '],
  ])("%s → unreadable", (_what, text) => {
    expect(body(text).ok).toBe(false);
  });
  test("numbers inside strings are not judged as numbers", () => {
    expect(parseJsonObject('{"note": "1.5e3 \\" 2.0", "n": 7}')).toEqual({ ok: true, fields: { note: '1.5e3 " 2.0', n: "7" } });
  });
});

const PREPARE: ClickFields = {
  click_trans_id: "2245678901",
  service_id: "12345",
  click_paydoc_id: "3345678901",
  merchant_trans_id: "ord-1001",
  amount: "50000",
  action: "0",
  error: "0",
  error_note: "Success",
  sign_time: "2024-03-02 07:50:19",
  sign_string: "3a15acab864e05d1c7b1395930c7e040",
};
const COMPLETE: ClickFields = { ...PREPARE, action: "1", merchant_prepare_id: "17" };

describe("syntax rules (docs/protocols/click.md#fields-read), all -8", () => {
  test("a well-formed Prepare and Complete pass", () => {
    expect(checkSyntax(PREPARE).ok).toBe(true);
    expect(checkSyntax(COMPLETE).ok).toBe(true);
  });
  test.each(["click_trans_id", "service_id", "click_paydoc_id", "merchant_trans_id", "amount", "action", "error", "sign_time", "sign_string"])(
    "%s missing or empty → -8",
    (name) => {
      const { [name]: _gone, ...missing } = PREPARE;
      for (const fields of [missing, { ...PREPARE, [name]: "" }]) {
        const r = checkSyntax(fields);
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.reply.error).toBe(-8);
      }
    },
  );
  test("merchant_prepare_id is required on Complete only, and digits there", () => {
    const { merchant_prepare_id: _gone, ...complete } = COMPLETE;
    expect(checkSyntax(complete).ok).toBe(false);
    expect(checkSyntax({ ...COMPLETE, merchant_prepare_id: "17a" }).ok).toBe(false);
    expect(checkSyntax({ ...PREPARE, merchant_prepare_id: "" }).ok).toBe(true);
    expect(checkSyntax({ ...PREPARE, merchant_prepare_id: "junk" }).ok).toBe(true);
  });
  test.each([
    ["click_trans_id", "12a"],
    ["click_trans_id", "1".repeat(21)],
    ["click_trans_id", "-1"],
    ["service_id", " 12345"],
    ["click_paydoc_id", "１２"],
    ["error", "1"],
    ["error", "+0"],
    ["error", "-1234567890"],
    ["error", "-1.0"],
  ])("%s=%j → -8", (name, value) => {
    expect(checkSyntax({ ...PREPARE, [name]: value }).ok).toBe(false);
  });
  test("20-digit ids, error -0 and -5017, a missing error_note pass", () => {
    const { error_note: _gone, ...noNote } = PREPARE;
    expect(checkSyntax({ ...PREPARE, click_trans_id: "9".repeat(20), error: "-5017" }).ok).toBe(true);
    expect(checkSyntax({ ...PREPARE, error: "-0" }).ok).toBe(true);
    expect(checkSyntax(noNote).ok).toBe(true);
    expect(callOf(noNote, 0).error_note).toBe("");
  });
  test("action and amount only have to be present here", () => {
    expect(checkSyntax({ ...PREPARE, action: "7" }).ok).toBe(true);
    expect(checkSyntax({ ...PREPARE, amount: "5e4" }).ok).toBe(true);
  });
  test("a -8 echoes the fields that are well-formed themselves", () => {
    const r = checkSyntax({ ...PREPARE, amount: "" });
    expect(!r.ok && r.reply).toEqual({ click_trans_id: "2245678901", merchant_trans_id: "ord-1001", error: -8, error_note: "Error in request from click" });
    const r2 = checkSyntax({ ...PREPARE, click_trans_id: "x" });
    expect(!r2.ok && r2.reply).toEqual({ merchant_trans_id: "ord-1001", error: -8, error_note: "Error in request from click" });
  });
  test("error_note is kept to 256 characters, never half a surrogate pair", () => {
    expect(callOf({ ...PREPARE, error_note: "x".repeat(300) }, 0).error_note).toHaveLength(256);
    expect(truncate("😀".repeat(3), 2)).toBe("😀😀");
    expect(callOf(COMPLETE, 1, undefined)).toMatchObject({ action: 1, merchant_prepare_id: "17", error: 0 });
    expect(callOf({ ...PREPARE, error: "-0" }, 0, 5)).toMatchObject({ error: 0, merchant_prepare_id: null, proposed_prepare_id: 5 });
  });
});

describe("amounts (docs/protocols/click.md#money): soum text → tiyin, exactly", () => {
  test.each([
    ["50000", 5_000_000],
    ["50000.0", 5_000_000],
    ["50000.00", 5_000_000],
    ["50000.5", 5_000_050],
    ["50000.000", 5_000_000],
    ["0.1", 10],
    ["1000.50", 100_050],
    ["0", 0],
    ["007", 700],
    ["90071992547409.91", 9_007_199_254_740_991],
  ])("%s → %d", (text, tiyin) => {
    expect(soumToTiyin(text)).toBe(tiyin);
  });
  test.each(["-50000", "+50000", "5e4", "50 000", "50,000", "0x10", ".5", "50000.", "abc", "50000.001", " 500", "500 ", "90071992547409.92", "", "٥٠٠"])(
    "%j is unusable (-2)",
    (text) => {
      expect(soumToTiyin(text)).toBeNull();
    },
  );
});
