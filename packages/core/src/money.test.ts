import { MoneyError } from "./errors";
import { DEFAULT_CURRENCY_EXPONENT, currencyExponent, formatMinorUnits, toMinorUnits } from "./money";

describe("toMinorUnits", () => {
  it.each([
    ["49.99", 2, 4999],
    ["4710.00", 2, 471000],
    ["100.000000", 2, 10000], // trailing zeros below the minor unit are exact, so they are fine
    ["0", 2, 0],
    ["0.05", 2, 5],
    ["007.50", 2, 750],
    ["1500", 0, 1500],
    ["1500.0", 0, 1500],
    ["1.234", 3, 1234],
    ["0.00012345", 8, 12345],
    ["25.000000", 6, 25_000_000],
  ] as const)("reads the decimal string %j with exponent %i as %i", (text, exponent, expected) => {
    expect(toMinorUnits(text, exponent)).toBe(expected);
  });

  it.each([
    [49.99, 2, 4999],
    [4710, 2, 471000],
    [0.1, 2, 10],
    [19.9, 2, 1990], // 19.9 * 100 is 1989.9999999999998 in float arithmetic
    [1.15, 2, 115], // 1.15 * 100 is 114.99999999999999
    [0.000001, 6, 1],
  ] as const)("reads the JSON number %p with exponent %i as %i, without float arithmetic", (value, exponent, expected) => {
    expect(toMinorUnits(value, exponent)).toBe(expected);
  });

  it("trims surrounding whitespace of a string", () => {
    expect(toMinorUnits(" 12 ", 2)).toBe(1200);
  });

  it("rejects 0.1 + 0.2 as a number, which is 0.30000000000000004 and finer than a cent", () => {
    expect(() => toMinorUnits(0.1 + 0.2, 2)).toThrow(MoneyError);
    expect(() => toMinorUnits(0.1 + 0.2, 2)).toThrow(/more precision than 2 decimal places/);
  });

  it("rejects the same float trap written as a string", () => {
    expect(() => toMinorUnits("0.30000000000000004", 2)).toThrow(MoneyError);
  });

  it.each([
    ["1.005", 2],
    ["0.001", 2],
    ["1500.5", 0],
    ["0.123456789", 8],
  ] as const)("rejects %j, which has digits below the minor unit of exponent %i", (text, exponent) => {
    expect(() => toMinorUnits(text, exponent)).toThrow(MoneyError);
  });

  it("rejects 1.005 given as a number too", () => {
    expect(() => toMinorUnits(1.005, 2)).toThrow(MoneyError);
  });

  it.each([
    ["-1", "a negative string"],
    ["-0.01", "a negative fraction"],
    ["1e5", "exponent notation"],
    ["", "an empty string"],
    ["   ", "only whitespace"],
    ["12.", "a trailing dot"],
    [".5", "a leading dot"],
    ["1,50", "a decimal comma"],
    ["+1", "a plus sign"],
    ["0x10", "hex"],
    ["１２", "non-ASCII digits"],
    ["NaN", "the text NaN"],
  ] as const)("rejects %j (%s)", (text, _why) => {
    expect(() => toMinorUnits(text, 2)).toThrow(MoneyError);
  });

  it.each([
    [-1, "a negative number"],
    [-0.5, "a negative fraction"],
    [Number.NaN, "NaN"],
    [Number.POSITIVE_INFINITY, "Infinity"],
    [Number.NEGATIVE_INFINITY, "-Infinity"],
    [1e21, "a number that prints in exponent notation"],
  ] as const)("rejects the number %p (%s)", (value, _why) => {
    expect(() => toMinorUnits(value, 2)).toThrow(MoneyError);
  });

  it("accepts exactly Number.MAX_SAFE_INTEGER minor units and rejects one more", () => {
    expect(toMinorUnits("9007199254740991", 0)).toBe(Number.MAX_SAFE_INTEGER);
    expect(toMinorUnits("90071992547409.91", 2)).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => toMinorUnits("9007199254740992", 0)).toThrow(MoneyError);
    expect(() => toMinorUnits("90071992547409.92", 2)).toThrow(/too large/);
  });

  it("checks the size after shifting, so a small amount with many decimals can overflow", () => {
    expect(() => toMinorUnits("100000000", 8)).toThrow(MoneyError);
  });
});

describe("formatMinorUnits", () => {
  it.each([
    [4999, 2, "49.99"],
    [5, 2, "0.05"],
    [0, 2, "0.00"],
    [1500, 0, "1500"],
    [0, 0, "0"],
    [1234, 3, "1.234"],
    [12345, 8, "0.00012345"],
    [Number.MAX_SAFE_INTEGER, 2, "90071992547409.91"],
  ] as const)("formats %i with exponent %i as %j", (minor, exponent, expected) => {
    expect(formatMinorUnits(minor, exponent)).toBe(expected);
  });
});

describe("currencyExponent", () => {
  it.each([
    ["USD", 2],
    ["JPY", 0],
    ["jpy", 0], // looked up case-insensitively
    ["KWD", 3],
    ["BTC", 8],
    ["USDT", 6],
    ["USDC", 6],
  ] as const)("gives %s exponent %i", (currency, expected) => {
    expect(currencyExponent(currency)).toBe(expected);
  });

  it("falls back to two decimals for a currency it does not know", () => {
    expect(DEFAULT_CURRENCY_EXPONENT).toBe(2);
    expect(currencyExponent("XYZ")).toBe(2);
    expect(currencyExponent("")).toBe(2);
  });
});

describe("formatMinorUnits and toMinorUnits round-trip", () => {
  /** mulberry32: a seeded PRNG, so a failure reproduces with the same SEED. */
  function prng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
    };
  }
  const SEED = 20_240_611; // fixed so the sample is the same on every run
  const SAMPLES_PER_EXPONENT = 2_000;

  /** Integers spread over every magnitude from 1 digit to 2^53 - 1, plus the edges. */
  function sample(random: () => number): number[] {
    const values = [0, 1, 9, 10, 99, 100, 101, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER - 1];
    while (values.length < SAMPLES_PER_EXPONENT) {
      const digits = 1 + Math.floor(random() * 16);
      const n = Math.floor(random() * 10 ** digits);
      values.push(Math.min(n, Number.MAX_SAFE_INTEGER));
    }
    return values;
  }

  it.each([0, 2, 3, 6, 8])("gives back n for random minor-unit integers with exponent %i", (exponent) => {
    const values = sample(prng(SEED + exponent));
    // Collected rather than asserted one by one, so a failure prints every bad case at once.
    const failures: string[] = [];
    for (const n of values) {
      const text = formatMinorUnits(n, exponent);
      const places = text.includes(".") ? text.split(".")[1]!.length : 0;
      if (places !== exponent || toMinorUnits(text, exponent) !== n) failures.push(`${n} -> ${text}`);
    }
    expect(values).toHaveLength(SAMPLES_PER_EXPONENT);
    expect(failures).toEqual([]);
  });
});

describe("toMinorUnits: JSON numbers that print in exponent form", () => {
  it.each([
    [0.0000001, 8, 10],
    [1e-7, 7, 1],
    [1.5e-6, 8, 150],
    [1e21, 0, null],
  ])("reads %p with exponent %i", (value, exponent, expected) => {
    if (expected === null) expect(() => toMinorUnits(value, exponent)).toThrow(MoneyError);
    else expect(toMinorUnits(value, exponent)).toBe(expected);
  });

  it("refuses to format negative or fractional minor units", () => {
    expect(() => formatMinorUnits(-5, 2)).toThrow(MoneyError);
    expect(() => formatMinorUnits(1.5, 2)).toThrow(MoneyError);
  });
});
