import { PayloadValidationError } from "@payhooks/core";
import { filled, oldSpec, partiallyFilled, payramFixtureBytes } from "../fixtures";
import type { PayramPayload } from "../fixtures";
import { PayramWebhookSchema, normalizePayramStatus, parsePayramNotification, payramJobId } from "./schemas";

/** The PayloadValidationError that parsing `body` throws, or a failure when it throws nothing. */
function validationError(body: unknown): PayloadValidationError {
  try {
    parsePayramNotification(body);
  } catch (err) {
    if (err instanceof PayloadValidationError) return err;
    throw err;
  }
  throw new Error(`parsePayramNotification accepted ${JSON.stringify(body)}`);
}

/** A copy of a fixture without one field. */
function without(payload: Readonly<PayramPayload>, field: keyof PayramPayload): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...payload };
  delete copy[field];
  return copy;
}

describe("parsePayramNotification", () => {
  it("reads the current spec: decimal strings, a crypto ticker, USD equivalent", () => {
    expect(parsePayramNotification(filled)).toEqual({
      referenceId: "3f6c1a52-9b7e-4d1a-8c2e-5a0f7e9d2b41",
      status: "FILLED",
      rawStatus: "FILLED",
      currency: "USDT",
      amount: 25_000_000, // USDT has 6 decimals
      filledAmount: 25_000_000,
      filledAmountUsd: 2499, // always USD cents, whatever the currency
      timestampMs: 1_718_101_234_000,
      filledRaw: "25.000000",
    });
  });

  it("reads the old spec: a JSON number amount and a fiat currency, no filled_amount", () => {
    expect(parsePayramNotification(oldSpec)).toEqual({
      referenceId: "b1d7e3a0-6c2f-4e58-9a41-0d3c5e7f9b12",
      status: "FILLED",
      rawStatus: "FILLED",
      currency: "USD",
      amount: 4999,
      filledAmount: null,
      filledAmountUsd: null,
      timestampMs: 1_717_000_000_000,
      filledRaw: null,
    });
  });

  it("reads a partial fill", () => {
    expect(parsePayramNotification(partiallyFilled)).toMatchObject({
      status: "PARTIALLY_FILLED",
      currency: "USDC",
      amount: 100_000_000,
      filledAmount: 40_500_000,
      filledAmountUsd: 4049,
      filledRaw: "40.500000",
    });
  });

  it("parses the exact fixture bytes the same way as the fixture object", () => {
    const fromBytes: unknown = JSON.parse(payramFixtureBytes("filled").toString("utf8"));
    expect(parsePayramNotification(fromBytes)).toEqual(parsePayramNotification(filled));
  });

  it.each([
    ["a number", 12.5, 1250, "12.5"],
    ["a decimal string", "12.50", 1250, "12.50"],
    ["an integer number", 12, 1200, "12"],
  ] as const)("accepts filled_amount as %s", (_case, value, minor, raw) => {
    const n = parsePayramNotification({ ...oldSpec, status: "PARTIALLY_FILLED", filled_amount: value });
    expect(n.filledAmount).toBe(minor);
    expect(n.filledRaw).toBe(raw);
  });

  it("accepts amount and filled_amount_in_usd as numbers in the current spec too", () => {
    const n = parsePayramNotification({ ...filled, amount: 25, filled_amount_in_usd: 24.99 });
    expect(n.amount).toBe(25_000_000);
    expect(n.filledAmountUsd).toBe(2499);
  });

  it("treats null amounts as absent", () => {
    const n = parsePayramNotification({ ...filled, filled_amount: null, filled_amount_in_usd: null });
    expect(n.filledAmount).toBeNull();
    expect(n.filledAmountUsd).toBeNull();
    expect(n.filledRaw).toBeNull();
  });

  it("defaults a missing currency to USD and upper-cases a given one", () => {
    expect(parsePayramNotification(without(oldSpec, "currency")).currency).toBe("USD");
    const n = parsePayramNotification({ ...filled, currency: "usdt" });
    expect(n.currency).toBe("USDT");
    expect(n.amount).toBe(25_000_000);
  });

  it("reads a timestamp sent as a string of digits", () => {
    expect(parsePayramNotification({ ...oldSpec, timestamp: "1717000000" }).timestampMs).toBe(1_717_000_000_000);
    expect(parsePayramNotification(without(oldSpec, "timestamp")).timestampMs).toBeNull();
  });

  it("maps the FAQ's CANCELED spelling to CANCELLED and keeps the raw text", () => {
    const n = parsePayramNotification({ ...oldSpec, status: "CANCELED" });
    expect(n.status).toBe("CANCELLED");
    expect(n.rawStatus).toBe("CANCELED");
  });

  it("maps an unknown status to UNDEFINED and keeps the raw text for review", () => {
    const n = parsePayramNotification({ ...oldSpec, status: "REFUND_PENDING" });
    expect(n.status).toBe("UNDEFINED");
    expect(n.rawStatus).toBe("REFUND_PENDING");
  });

  it("reads payment_state when status is missing", () => {
    const body = { ...without(partiallyFilled, "status"), payment_state: "PARTIALLY_FILLED" };
    expect(parsePayramNotification(body)).toMatchObject({ status: "PARTIALLY_FILLED", rawStatus: "PARTIALLY_FILLED" });
  });

  it("prefers status over payment_state when both are sent", () => {
    expect(parsePayramNotification({ ...filled, payment_state: "OPEN" }).status).toBe("FILLED");
  });

  it.each([
    ["reference_id is missing", without(filled, "reference_id"), /^reference_id: /],
    ["reference_id is empty", { ...filled, reference_id: "" }, /^reference_id: /],
    ["reference_id is a number", { ...filled, reference_id: 42 }, /^reference_id: /],
    ["status and payment_state are both missing", without(filled, "status"), /^status: status is required$/],
    ["currency is not a ticker", { ...filled, currency: "US DOLLAR" }, /^currency: /],
    ["amount is a boolean", { ...filled, amount: true }, /^amount: /],
    ["the body is null", null, /^body: /],
    ["the body is an array", [filled], /^body: /],
    ["the body is a string", JSON.stringify(filled), /^body: /],
  ])("throws PayloadValidationError naming the field when %s", (_case, body, message) => {
    const err = validationError(body);
    expect(err.code).toBe("payload_invalid");
    expect(err.message).toMatch(message);
  });

  it.each([
    ["amount", { ...oldSpec, amount: "12.345" }],
    ["amount", { ...oldSpec, amount: 12.345 }],
    ["amount", { ...oldSpec, amount: "-1.00" }],
    ["amount", { ...oldSpec, amount: "1e3" }],
    ["filled_amount", { ...oldSpec, filled_amount: "12.345" }],
    ["filled_amount", { ...filled, filled_amount: "25.0000001" }], // USDT has 6 decimals
    ["filled_amount_in_usd", { ...filled, filled_amount_in_usd: "24.999" }], // cents, although currency is USDT
  ])("throws PayloadValidationError naming %s for an amount it cannot represent", (field, body) => {
    expect(validationError(body).message).toMatch(new RegExp(`^${field}: `));
  });
});

describe("normalizePayramStatus", () => {
  it.each([
    ["OPEN", "OPEN"],
    ["filled", "FILLED"],
    [" Partially_Filled ", "PARTIALLY_FILLED"],
    ["OVER_FILLED", "OVER_FILLED"],
    ["CANCELLED", "CANCELLED"],
    ["canceled", "CANCELLED"],
    ["UNDEFINED", "UNDEFINED"],
    ["EXPIRED", "UNDEFINED"],
    ["", "UNDEFINED"],
  ] as const)("maps %j to %s", (raw, expected) => {
    expect(normalizePayramStatus(raw)).toBe(expected);
  });
});

describe("PayramWebhookSchema", () => {
  it("keeps fields it does not know (loose envelope)", () => {
    const parsed = PayramWebhookSchema.parse(filled);
    expect(parsed["payment_info"]).toEqual(filled.payment_info);
    expect(parsed["confirmation_required"]).toBe(20);
  });
});

describe("payramJobId", () => {
  it("is reference, status and filled amount, readable", () => {
    expect(payramJobId(parsePayramNotification(filled))).toBe("payram-3f6c1a52-9b7e-4d1a-8c2e-5a0f7e9d2b41~FILLED~25.000000");
    expect(payramJobId(parsePayramNotification(oldSpec))).toBe("payram-b1d7e3a0-6c2f-4e58-9a41-0d3c5e7f9b12~FILLED~na");
  });

  it("gives a redelivery of the same bytes the same id", () => {
    const first: unknown = JSON.parse(payramFixtureBytes("partially-filled").toString("utf8"));
    const redelivery: unknown = JSON.parse(payramFixtureBytes("partially-filled").toString("utf8"));
    expect(payramJobId(parsePayramNotification(redelivery))).toBe(payramJobId(parsePayramNotification(first)));
  });

  it("gives a redelivery with other key order, whitespace and timestamp the same id", () => {
    const { reference_id, ...rest } = partiallyFilled;
    const reordered: unknown = JSON.parse(JSON.stringify({ ...rest, timestamp: 1_718_109_999, reference_id }, null, 2));
    expect(payramJobId(parsePayramNotification(reordered))).toBe(payramJobId(parsePayramNotification(partiallyFilled)));
  });

  it("gives the FAQ spelling CANCELED the same id as CANCELLED", () => {
    const a = parsePayramNotification({ ...oldSpec, status: "CANCELED" });
    const b = parsePayramNotification({ ...oldSpec, status: "CANCELLED" });
    expect(payramJobId(a)).toBe(payramJobId(b));
  });

  it.each([
    ["a new fill", { ...partiallyFilled, filled_amount: "60.000000" }],
    ["another status", { ...partiallyFilled, status: "FILLED" }],
    ["another payment", { ...partiallyFilled, reference_id: "0e8d3c1b-2a4f-4b6d-9c8e-7f1a2b3c4d5e" }],
  ])("gives %s a new id", (_case, body) => {
    expect(payramJobId(parsePayramNotification(body))).not.toBe(payramJobId(parsePayramNotification(partiallyFilled)));
  });

  it("keeps unknown raw statuses apart and hashes ones BullMQ could not take", () => {
    const a = payramJobId(parsePayramNotification({ ...oldSpec, status: "REFUND_PENDING" }));
    const b = payramJobId(parsePayramNotification({ ...oldSpec, status: "CHARGEBACK" }));
    const spaced = payramJobId(parsePayramNotification({ ...oldSpec, status: "on hold: review" }));
    expect(a).not.toBe(b);
    expect(a).toBe("payram-b1d7e3a0-6c2f-4e58-9a41-0d3c5e7f9b12~REFUND_PENDING~na");
    expect(spaced).toMatch(/^payram-h[0-9a-f]{40}$/);
  });

  it("never contains ':' even when the reference does", () => {
    const id = payramJobId(parsePayramNotification({ ...oldSpec, reference_id: "urn:payram:123" }));
    expect(id).not.toContain(":");
    expect(id).toBe(payramJobId(parsePayramNotification({ ...oldSpec, reference_id: "urn:payram:123" })));
  });
});
