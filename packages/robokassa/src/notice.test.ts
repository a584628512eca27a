import { firstValues, orderIdOf, readNotice, robokassaJobId, robokassaPaymentId, type RobokassaNotice } from "./notice";

/** A live ResultURL notice as RoboKassa sends it (docs/protocols/robokassa.md#fields-read); tests change one thing in it. */
const LIVE: Record<string, string> = {
  OutSum: "100.000000",
  InvId: "450009",
  SignatureValue: "4DC8D204B401AEAB0ED93283FB0BFB74",
  Fee: "0.030000",
  EMail: "buyer@example.com",
  PaymentMethod: "BankCard",
  IncCurrLabel: "BankCardPSR",
  IncSum: "100.000000",
  Shp_login: "Vasya",
  Shp_oplata: "1",
};

function notice(params: Record<string, string>, orderParam: string | null = null): RobokassaNotice {
  const result = readNotice(params, orderParam);
  if (!result.ok) throw new Error(`expected a notice, got ${result.reason}`);
  return result.notice;
}

function reason(params: Record<string, string>): string | null {
  const result = readNotice(params, null);
  return result.ok ? null : result.reason;
}

describe("firstValues", () => {
  it("keeps the first of repeated names", () => {
    expect(firstValues(new URLSearchParams("InvId=1&InvId=2&OutSum=5.00&OutSum=6.00"))).toEqual({ InvId: "1", OutSum: "5.00" });
  });

  it("keeps a[b]=1 as a flat name, not a nested object", () => {
    const values = firstValues(new URLSearchParams("a[b]=1&Shp_x[y]=2"));
    expect(values).toEqual({ "a[b]": "1", "Shp_x[y]": "2" });
    expect(values).not.toHaveProperty("a");
  });

  it("decodes + to a space and percent-escapes to UTF-8", () => {
    expect(firstValues(new URLSearchParams("Shp_name=%D0%92%D0%B0%D1%81%D1%8F+%D0%9F&Shp_note=a+b%2Bc"))).toEqual({
      Shp_name: "Вася П",
      Shp_note: "a b+c",
    });
  });

  // `key in out` also sees Object.prototype, so these names were dropped as if already seen.
  it("keeps names that Object.prototype also has (constructor, toString)", () => {
    expect(firstValues(new URLSearchParams("constructor=1&toString=2&Shp_a=3"))).toEqual({ constructor: "1", toString: "2", Shp_a: "3" });
  });

  it("keeps an empty value as an empty string", () => {
    expect(firstValues(new URLSearchParams("Shp_a=&Shp_b"))).toEqual({ Shp_a: "", Shp_b: "" });
  });
});

describe("readNotice", () => {
  it("reads a live notice", () => {
    expect(notice(LIVE)).toEqual({
      invId: "450009",
      outSum: "100.000000",
      livemode: true,
      orderId: "450009",
      shp: { Shp_login: "Vasya", Shp_oplata: "1" },
      fee: "0.030000",
      paymentMethod: "BankCard",
      incCurrLabel: "BankCardPSR",
    });
  });

  it("keeps OutSum exactly as received (it is what was signed)", () => {
    expect(notice({ ...LIVE, OutSum: "4710.00" }).outSum).toBe("4710.00");
    expect(notice({ ...LIVE, OutSum: "100" }).outSum).toBe("100");
  });

  it("collects Shp parameters of any prefix case, and only those", () => {
    const n = notice({ ...LIVE, shp_label: "wp", SHP_x: "1", Culture: "ru", crc: "abc" });
    expect(n.shp).toEqual({ Shp_login: "Vasya", Shp_oplata: "1", shp_label: "wp", SHP_x: "1" });
  });

  it("gives null for the optional fields a SuccessURL notice lacks", () => {
    const n = notice({ OutSum: "4710.00", InvId: "63", SignatureValue: "f851fc", IsTest: "1", Culture: "ru" });
    expect(n.fee).toBeNull();
    expect(n.paymentMethod).toBeNull();
    expect(n.incCurrLabel).toBeNull();
    expect(n.shp).toEqual({});
  });

  it.each(["OutSum", "InvId", "SignatureValue"])("says missing %s when it is absent", (name) => {
    const { [name]: _dropped, ...params } = LIVE;
    expect(reason(params)).toBe(`missing ${name}`);
  });

  it.each(["OutSum", "InvId", "SignatureValue"])("says missing %s when it is empty", (name) => {
    expect(reason({ ...LIVE, [name]: "" })).toBe(`missing ${name}`);
  });

  it.each(["1,00", "-5", "1e3", "1.", ".5", " 100.00", "100.00 ", "0x10", "1.123456789", "1234567890123456"])(
    "says bad OutSum for %j",
    (outSum) => {
      expect(reason({ ...LIVE, OutSum: outSum })).toBe("bad OutSum");
    },
  );

  it.each(["100.000000", "4710.00", "0.01", "5", "123456789012345.12345678"])("accepts OutSum %j", (outSum) => {
    expect(reason({ ...LIVE, OutSum: outSum })).toBeNull();
  });

  it.each(["abc", "-1", "1.0", "12a", "1 ", "12345678901234567890"])("says bad InvId for %j", (invId) => {
    expect(reason({ ...LIVE, InvId: invId })).toBe("bad InvId");
  });

  it("checks OutSum before InvId", () => {
    expect(reason({ ...LIVE, OutSum: "1,00", InvId: "x" })).toBe("bad OutSum");
  });

  it("is live unless IsTest=1", () => {
    expect(notice(LIVE).livemode).toBe(true);
    expect(notice({ ...LIVE, IsTest: "1" }).livemode).toBe(false);
    expect(notice({ ...LIVE, IsTest: "0" }).livemode).toBe(true);
  });

  describe("orderId", () => {
    it("is the InvId by default", () => {
      expect(notice(LIVE).orderId).toBe("450009");
    });

    it("comes from the Shp parameter named by orderParam, matched case-insensitively", () => {
      expect(notice({ ...LIVE, shp_ORDER_id: "ord-1001" }, "Shp_order_id").orderId).toBe("ord-1001");
      expect(notice({ ...LIVE, Shp_order_id: "ord-1002" }, "SHP_ORDER_ID").orderId).toBe("ord-1002");
    });

    it("is null when that parameter is absent or empty, never the InvId", () => {
      expect(notice(LIVE, "Shp_order_id").orderId).toBeNull();
      expect(notice({ ...LIVE, Shp_order_id: "" }, "Shp_order_id").orderId).toBeNull();
    });
  });
});

describe("orderIdOf", () => {
  it("is null for a missing or non-digit InvId without orderParam", () => {
    expect(orderIdOf({}, undefined, null)).toBeNull();
    expect(orderIdOf({}, "12a", null)).toBeNull();
    expect(orderIdOf({}, "12", null)).toBe("12");
  });

  it.each([
    ["a colon (a Redis key separator)", "ord:1"],
    ["a space", "ord 1"],
    ["a slash", "a/b"],
    ["a brace (a Cluster hash tag)", "{ord}"],
    ["129 characters", "o".repeat(129)],
    ["Cyrillic", "заказ-1"],
  ])("names no order when the Shp order parameter holds %s, whatever the InvId", (_case, value) => {
    expect(orderIdOf({ InvId: "5", Shp_order_id: value }, "5", "Shp_order_id")).toBeNull();
    expect(notice({ ...LIVE, Shp_order_id: value }, "Shp_order_id").orderId).toBeNull();
  });

  it("takes a Shp order id of the order id alphabet, up to 128 characters", () => {
    expect(orderIdOf({ Shp_order_id: "A-z_0.9~" }, "5", "Shp_order_id")).toBe("A-z_0.9~");
    expect(orderIdOf({ shp_ORDER_id: "o".repeat(128) }, "5", "Shp_order_id")).toBe("o".repeat(128));
  });
});

describe("robokassaJobId", () => {
  it("differs between live and test for the same InvId", () => {
    expect(robokassaJobId({ invId: "450009", livemode: true })).not.toBe(robokassaJobId({ invId: "450009", livemode: false }));
  });

  it("is the same on redelivery and differs between invoices", () => {
    const first = robokassaJobId(notice(LIVE));
    expect(robokassaJobId(notice({ ...LIVE, Fee: "0.040000" }))).toBe(first);
    expect(robokassaJobId(notice({ ...LIVE, InvId: "450010" }))).not.toBe(first);
  });

  it("is a BullMQ-safe id: prefixed, no ':' and not all digits (docs/protocols/robokassa.md#retries-and-idempotency)", () => {
    for (const livemode of [true, false]) {
      const id = robokassaJobId({ invId: "2147483647", livemode });
      expect(id).toMatch(/^robokassa-/);
      expect(id).not.toContain(":");
      expect(id).not.toMatch(/^\d+$/);
    }
  });

  // docs/protocols/robokassa.md#retries-and-idempotency spells the id `robokassa-{live|test}-{InvId}`.
  it("has the shape docs/protocols/robokassa.md#retries-and-idempotency gives: robokassa-{live|test}-{InvId}", () => {
    expect(robokassaJobId({ invId: "450009", livemode: true })).toBe("robokassa-live-450009");
    expect(robokassaJobId({ invId: "63", livemode: false })).toBe("robokassa-test-63");
  });
});

describe("robokassaPaymentId", () => {
  it("is the InvId for live notices and test-{InvId} in test mode", () => {
    expect(robokassaPaymentId(notice(LIVE))).toBe("450009");
    expect(robokassaPaymentId(notice({ ...LIVE, IsTest: "1" }))).toBe("test-450009");
  });
});
