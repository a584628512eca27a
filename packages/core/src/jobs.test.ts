import { jobIdFor } from "./jobs";

const HASHED = /^payram-h[0-9a-f]{40}$/;

describe("jobIdFor", () => {
  it("joins plain parts readably behind the provider prefix", () => {
    expect(jobIdFor("payram", ["3f6c1a52-9b7e-4d1a", "FILLED", "49.99"])).toBe("payram-3f6c1a52-9b7e-4d1a~FILLED~49.99");
    expect(jobIdFor("payram", ["ref_1"])).toBe("payram-ref_1");
  });

  it.each([
    ["a colon", ["ref:1", "FILLED"]],
    ["a space", ["ref 1", "FILLED"]],
    ["the ~ separator", ["a~b"]],
    ["a slash", ["a/b"]],
    ["non-ASCII", ["réf"]],
    ["an empty part", ["ref", ""]],
    ["more than 100 characters", ["x".repeat(101)]],
  ])("hashes the parts when one has %s", (_case, parts) => {
    expect(jobIdFor("payram", parts)).toMatch(HASHED);
  });

  it("keeps a 100-character part readable", () => {
    expect(jobIdFor("payram", ["x".repeat(100)])).toBe(`payram-${"x".repeat(100)}`);
  });

  it("is deterministic", () => {
    const parts = ["ref:with colon", "PARTIALLY_FILLED", "12.5"];
    expect(jobIdFor("payram", parts)).toBe(jobIdFor("payram", [...parts]));
    expect(jobIdFor("payram", ["a", "b"])).toBe(jobIdFor("payram", ["a", "b"]));
  });

  // BullMQ refuses custom ids with ":" and ids that look like integers (STYLE.md rule 9).
  it.each([
    [["12345"]],
    [["0"]],
    [["1", "2"]],
    [["12:34"]],
    [["::"]],
    [["a:b", "c:d"]],
    [["9".repeat(200)]],
  ])("never gives an id with ':' or only digits for %j", (parts) => {
    const id = jobIdFor("payram", parts);
    expect(id).not.toContain(":");
    expect(id).not.toMatch(/^\d+$/);
    expect(id.startsWith("payram-")).toBe(true);
  });

  it.each([
    [["a-b", "c"], ["a", "b-c"]],
    [["a.b", "c"], ["a", "b.c"]],
    [["a_b", "c"], ["a", "b_c"]],
    [["ab"], ["a", "b"]],
    [["a~b"], ["a", "b"]],
    [["a b", "c"], ["a", "b c"]],
    [["a:b", "c"], ["a", "b:c"]],
    [["a:", "b"], ["a", ":b"]],
    [["ref", ""], ["ref"]],
    [[""], []],
  ])("gives %j and %j different ids", (left, right) => {
    expect(jobIdFor("payram", left)).not.toBe(jobIdFor("payram", right));
  });

  /** Every way to cut `text` into consecutive non-empty parts: 2^(length-1) part lists. */
  function splits(text: string): string[][] {
    const all: string[][] = [];
    for (let mask = 0; mask < 1 << (text.length - 1); mask++) {
      const parts: string[] = [];
      let current = text[0]!;
      for (let i = 1; i < text.length; i++) {
        if (mask & (1 << (i - 1))) {
          parts.push(current);
          current = "";
        }
        current += text[i];
      }
      parts.push(current);
      all.push(parts);
    }
    return all;
  }

  it.each([
    ["a-b.c_d", "readable"],
    ["a-b:c d", "hashed"],
  ])("gives a different id to each of the 64 splits of %j (%s ids)", (text, kind) => {
    const ids = splits(text).map((parts) => jobIdFor("payram", parts));
    expect(new Set(ids).size).toBe(64);
    expect(ids.every((id) => HASHED.test(id))).toBe(kind === "hashed");
  });
});

describe("jobIdFor: hashed parts", () => {
  it("does not collide when a part contains the old NUL separator", () => {
    expect(jobIdFor("payram", ["a:", "b"])).not.toBe(jobIdFor("payram", ["a:\u0000b"]));
  });
});
