import { MAX_JSON_DEPTH, parseJsonBody, withinDepth } from "./json-body";

const bytes = (...parts: Array<string | number[]>) => Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "utf8") : Buffer.from(p))));

describe("parseJsonBody", () => {
  it("parses UTF-8 JSON and returns the exact text", () => {
    expect(parseJsonBody(bytes('{"id":"évt 💸"}'))).toEqual({ ok: true, value: { id: "évt 💸" }, text: '{"id":"évt 💸"}' });
  });

  it.each([
    ["a stray continuation byte", [0x80]],
    ["a truncated sequence", [0xe2, 0x82]],
    ["an overlong form", [0xc0, 0xaf]],
    ["an encoded surrogate", [0xed, 0xa0, 0x80]],
    ["a code point past U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
    ["0xFF", [0xff]],
  ])("refuses invalid UTF-8 inside a string (%s) instead of reading U+FFFD", (_label, bad) => {
    expect(parseJsonBody(bytes('{"id":"a', bad, 'b"}'))).toEqual({ ok: false, reason: "invalid_json" });
  });

  it("refuses what is not JSON, and a BOM as before (JSON.parse never accepted one)", () => {
    expect(parseJsonBody(bytes('{"id":'))).toEqual({ ok: false, reason: "invalid_json" });
    expect(parseJsonBody(bytes(""))).toEqual({ ok: false, reason: "invalid_json" });
    expect(parseJsonBody(bytes([0xef, 0xbb, 0xbf], "{}"))).toEqual({ ok: false, reason: "invalid_json" });
  });

  it(`accepts ${MAX_JSON_DEPTH} levels and refuses ${MAX_JSON_DEPTH + 1}, keeping the value for the id`, () => {
    const nest = (n: number) => `{"id":1,"a":${"[".repeat(n - 1)}${"]".repeat(n - 1)}}`;
    expect(parseJsonBody(bytes(nest(MAX_JSON_DEPTH))).ok).toBe(true);
    expect(parseJsonBody(bytes(nest(MAX_JSON_DEPTH + 1)))).toMatchObject({ ok: false, reason: "json_too_deep", value: { id: 1 } });
  });

  it("measures 100,000 levels without overflowing the stack", () => {
    expect(parseJsonBody(bytes("[".repeat(100_000) + "]".repeat(100_000)))).toMatchObject({ ok: false, reason: "json_too_deep" });
    expect(parseJsonBody(bytes('{"a":'.repeat(100_000) + "1" + "}".repeat(100_000)))).toMatchObject({ ok: false, reason: "json_too_deep" });
  });
});

describe("withinDepth", () => {
  it("counts arrays and objects, not scalars", () => {
    expect(withinDepth(1, 0)).toBe(true);
    expect(withinDepth("x", 0)).toBe(true);
    expect(withinDepth([], 1)).toBe(true);
    expect(withinDepth([[]], 1)).toBe(false);
    expect(withinDepth({ a: { b: [1, "x", null] } }, 3)).toBe(true);
    expect(withinDepth({ a: { b: [1, "x", null] } }, 2)).toBe(false);
  });
});
