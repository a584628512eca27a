/**
 * What the dashboard shows of a job: the formatter bull-board applies to `data`, `returnValue`
 * and `progress`, run over envelopes shaped exactly as each provider route builds them.
 * (dashboard.int.test.ts checks the same through the real bull-board API and the admin auth.)
 */
import type { Envelope, PaymentEvent } from "@payhooks/core";
import { maskJobField } from "./dashboard";

// Fixed clock: ms since epoch, 2023-11-14T22:13:20Z.
const NOW_MS = 1_700_000_000_000;
const HEADERS = { "content-type": "application/json", "user-agent": "test-agent/1.0" };

function envelope(provider: Envelope["provider"], rawBody: string, payload: unknown, over: Partial<Envelope> = {}): Envelope {
  return { provider, deliveryId: `${provider}-delivery`, receivedAt: NOW_MS, rawBody, payload, headers: HEADERS, ...over };
}

/** The JSON an operator would see, for "never shows X" checks over every nested field. */
const shown = (value: unknown) => JSON.stringify(maskJobField(value));

function expectHidden(value: unknown, secrets: readonly string[]): void {
  const text = shown(value);
  for (const secret of secrets) expect(text).not.toContain(secret);
}

describe("maskJobField", () => {
  it("replaces a card number inside text (an error message) where it stands, spaced or dashed; other digit runs stay", () => {
    expect(maskJobField("quarantined: got 4111111111111111 for amount")).toBe("quarantined: got [redacted] for amount");
    expect(maskJobField("card 4111 1111 1111 1111 declined")).toBe("card [redacted] declined");
    expect(maskJobField("card 4111-1111-1111-1111.")).toBe("card [redacted].");
    // Run together with an expiry, a CVV or a quantity: the run holding it goes.
    expect(maskJobField("card 4111111111111111 12/27")).toBe("card [redacted]/27");
    expect(maskJobField("card 4111 1111 1111 1111 123")).toBe("card [redacted]");
    expect(maskJobField("qty 1 4111111111111111")).toBe("qty [redacted]");
    expect(maskJobField("4111-1111-1111-1111-5 x")).toBe("[redacted] x");
    // No Luhn-valid 13–19 digits anywhere in the run: not a card number.
    expect(maskJobField("order 4111111111111112 failed")).toBe("order 4111111111111112 failed");
    expect(maskJobField("amount 1000 of 2000 at 12:00")).toBe("amount 1000 of 2000 at 12:00");
    expect(maskJobField({ failedReason: "paid with 5555 5555 5555 4444" })).toEqual({ failedReason: "paid with [redacted]" });
  });

  it("Payme CreateTransaction: rawBody reduced to its length, params.account and an authorization header redacted", () => {
    const body = {
      id: 2,
      method: "CreateTransaction",
      params: { id: "5305e3bab097f420a62ced0b", time: NOW_MS, amount: 500000, account: { order_id: "order-2002", phone: "998901234567" } },
    };
    const rawBody = JSON.stringify(body);
    const env = envelope("payme", rawBody, body, {
      // Jobs keep no auth header today; if one ever slipped in it must still not be shown.
      headers: { ...HEADERS, authorization: "Basic UGF5Y29tOmRldi1wYXltZS1rZXk=" },
      livemode: true,
      replyBy: NOW_MS + 5_000,
    });
    expect(maskJobField(env)).toEqual({
      provider: "payme",
      deliveryId: "payme-delivery",
      receivedAt: NOW_MS,
      rawBody: `[redacted: ${Buffer.byteLength(rawBody)} bytes]`,
      payload: {
        id: 2,
        method: "CreateTransaction",
        params: { id: "5305e3bab097f420a62ced0b", time: NOW_MS, amount: 500000, account: "[redacted]" },
      },
      headers: { "content-type": "application/json", "user-agent": "test-agent/1.0", authorization: "[redacted]" },
      livemode: true,
      replyBy: NOW_MS + 5_000,
    });
    expectHidden(env, ["998901234567", "UGF5Y29tOmRldi1wYXltZS1rZXk="]);
  });

  it("Payme ChangePassword: params.password redacted", () => {
    const body = { id: 9, method: "ChangePassword", params: { password: "new-cashbox-key-QWERTY" } };
    const env = envelope("payme", JSON.stringify(body), body);
    expect((maskJobField(env) as Envelope).payload).toEqual({ id: 9, method: "ChangePassword", params: { password: "[redacted]" } });
    expectHidden(env, ["new-cashbox-key-QWERTY"]);
  });

  it("Payme return value: GetStatement rows keep amounts and states, not the account", () => {
    const returnValue = {
      reply: {
        result: {
          transactions: [
            {
              id: "5305e3bab097f420a62ced0b",
              time: NOW_MS,
              amount: 500000,
              account: { order_id: "order-2002", phone: "998901234567" },
              create_time: NOW_MS,
              perform_time: NOW_MS + 1,
              cancel_time: 0,
              transaction: "ph_0123456789abcdef01234567",
              state: 2,
              reason: null,
            },
          ],
        },
      },
      outcome: "read",
      events: [],
    };
    expect(maskJobField(returnValue)).toEqual({
      ...returnValue,
      reply: { result: { transactions: [{ ...returnValue.reply.result.transactions[0], account: "[redacted]" }] } },
    });
  });

  it("Payram: customer e-mail and wallet addresses redacted, the payment fields kept", () => {
    const payload = {
      reference_id: "3f6c1a52-9b7e-4d1a-8c2e-5a0f7e9d2b41",
      invoice_id: "INV-2024-06-0042",
      customer_id: "cust_8841",
      customer_email: "buyer@example.com",
      status: "FILLED",
      amount: "25.00",
      filled_amount: "25.000000",
      currency: "USDT",
      timestamp: 1718101234,
      payment_info: [
        {
          source_address: "TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE",
          transaction_hash: "9f3b1c7d2e4a6b8c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c",
          destination_address: "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf",
          block_number: 62251877,
        },
      ],
    };
    const env = envelope("payram", JSON.stringify(payload), payload);
    expect((maskJobField(env) as Envelope).payload).toEqual({
      ...payload,
      customer_email: "[redacted]",
      payment_info: [{ ...payload.payment_info[0], source_address: "[redacted]", destination_address: "[redacted]" }],
    });
    expectHidden(env, ["buyer@example.com", "TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE"]);
  });

  it("Payske payment_intent.succeeded: receipt_email, client_secret and shipping redacted", () => {
    const payload = {
      id: "evt_1QdemoA",
      object: "event",
      type: "payment_intent.succeeded",
      created: 1_700_000_000,
      livemode: true,
      data: {
        object: {
          id: "pi_3QdemoB",
          object: "payment_intent",
          amount: 4999,
          amount_received: 4999,
          currency: "usd",
          client_secret: "pi_3QdemoB_secret_Zx81kLmnOpq",
          receipt_email: "jane.doe@example.org",
          shipping: { name: "Jane Doe", phone: "+15555550123", address: { line1: "1 Main St", city: "Springfield", postal_code: "12345" } },
          metadata: { order_id: "order-3003" },
        },
      },
    };
    const masked = maskJobField(envelope("payske", JSON.stringify(payload), payload)) as Envelope;
    expect(masked.payload).toEqual({
      ...payload,
      data: { object: { ...payload.data.object, client_secret: "[redacted]", receipt_email: "[redacted]", shipping: "[redacted]" } },
    });
  });

  it("Payske charge.refunded: billing_details and the card redacted, amounts kept", () => {
    const charge = {
      id: "ch_3QdemoC",
      object: "charge",
      amount: 4999,
      amount_refunded: 4999,
      currency: "usd",
      payment_intent: "pi_3QdemoB",
      receipt_email: "jane.doe@example.org",
      billing_details: { email: "jane.doe@example.org", name: "Jane Doe", phone: "+15555550123", address: { country: "US", postal_code: "12345" } },
      payment_method_details: { type: "card", card: { brand: "visa", last4: "4242", exp_month: 12, exp_year: 2030, fingerprint: "Xt5EWLLDS7FJjR1c" } },
      metadata: { order_id: "order-3003" },
    };
    const payload = { id: "evt_1QdemoD", object: "event", type: "charge.refunded", created: 1_700_000_100, livemode: true, data: { object: charge } };
    const env = envelope("payske", JSON.stringify(payload), payload);
    expect((maskJobField(env) as Envelope).payload).toEqual({
      ...payload,
      data: {
        object: {
          ...charge,
          receipt_email: "[redacted]",
          billing_details: "[redacted]",
          payment_method_details: { type: "card", card: "[redacted]" },
        },
      },
    });
    expectHidden(env, ["jane.doe@example.org", "Jane Doe", "+15555550123", "4242", "Xt5EWLLDS7FJjR1c"]);
  });

  it("Payske checkout.session.completed: customer_details and customer_email redacted", () => {
    const session = {
      id: "cs_test_a1",
      object: "checkout.session",
      amount_total: 4999,
      currency: "usd",
      payment_status: "paid",
      client_reference_id: "order-3003",
      customer_email: "jane.doe@example.org",
      customer_details: { email: "jane.doe@example.org", name: "Jane Doe", phone: null, address: { country: "US" } },
      payment_intent: "pi_3QdemoB",
    };
    const payload = { id: "evt_1QdemoE", object: "event", type: "checkout.session.completed", created: 1_700_000_200, livemode: false, data: { object: session } };
    const masked = maskJobField(envelope("payske", JSON.stringify(payload), payload)) as Envelope;
    expect(masked.payload).toEqual({
      ...payload,
      data: { object: { ...session, customer_email: "[redacted]", customer_details: "[redacted]" } },
    });
  });

  it("RoboKassa ResultURL: SignatureValue and EMail redacted, also inside the form-encoded rawBody", () => {
    const params = {
      OutSum: "1500.000000",
      InvId: "5001",
      Fee: "42.000000",
      EMail: "pokupatel@example.ru",
      SignatureValue: "8C6A1B3F0D2E4A5B6C7D8E9F0A1B2C3D",
      PaymentMethod: "BankCard",
      IncCurrLabel: "BankCardPSR",
      IsTest: "0",
      Shp_lang: "ru",
    };
    const rawBody = new URLSearchParams(params).toString();
    const env = envelope("robokassa", rawBody, params, { headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect((maskJobField(env) as Envelope).payload).toEqual({ ...params, EMail: "[redacted]", SignatureValue: "[redacted]" });
    expectHidden(env, ["pokupatel", "8C6A1B3F0D2E4A5B6C7D8E9F0A1B2C3D"]);
  });

  it("a PaymentEvent (payment-events, merchant-webhooks) is shown whole: it carries nothing secret", () => {
    const event: PaymentEvent = {
      id: "evt_0123456789abcdef0123456789abcdef",
      type: "payment.succeeded",
      provider: "robokassa",
      providerPaymentId: "5001",
      orderId: "5001",
      amount: 150000,
      currency: "RUB",
      occurredAt: "2023-11-14T22:13:20.000Z",
      livemode: true,
      data: { invId: "5001", outSum: "1500.000000", fee: "42.000000", paymentMethod: "BankCard", incCurrLabel: "BankCardPSR" },
    };
    expect(maskJobField(event)).toEqual(event);
  });

  it("masks by value under any key: e-mail addresses and Luhn-valid card numbers", () => {
    expect(
      maskJobField({
        description: "Order for jane.doe@example.org",
        note: "4242 4242 4242 4242",
        compact: "4000056655665556",
        invoiceNumber: "4242424242424241",
        timestampMs: NOW_MS,
        reference: "3f6c1a52-9b7e-4d1a-8c2e-5a0f7e9d2b41",
      }),
    ).toEqual({
      description: "[redacted]",
      note: "[redacted]",
      compact: "[redacted]",
      invoiceNumber: "4242424242424241",
      timestampMs: NOW_MS,
      reference: "3f6c1a52-9b7e-4d1a-8c2e-5a0f7e9d2b41",
    });
  });

  it("masks keys that look like secrets, tokens, passwords or signatures, at any depth", () => {
    expect(
      maskJobField({
        a: { webhook_secret: "s1", accessToken: "t1", "x-payram-signature": "sha256=ab", "api-key": "k1", Password: "p1", plain: "kept" },
        list: [{ refresh_token: "t2" }, "kept"],
      }),
    ).toEqual({
      a: { webhook_secret: "[redacted]", accessToken: "[redacted]", "x-payram-signature": "[redacted]", "api-key": "[redacted]", Password: "[redacted]", plain: "kept" },
      list: [{ refresh_token: "[redacted]" }, "kept"],
    });
  });

  it("returns a copy and leaves the job's own data untouched; passes null, numbers and strings through", () => {
    const data = { payload: { customer_email: "buyer@example.com" }, rawBody: "{}" };
    const before = structuredClone(data);
    maskJobField(data);
    expect(data).toEqual(before);
    expect(maskJobField(null)).toBeNull();
    expect(maskJobField(undefined)).toBeUndefined();
    expect(maskJobField(42)).toBe(42);
    expect(maskJobField("payment.succeeded")).toBe("payment.succeeded");
  });
});

/**
 * Masking runs on every job the board lists, so it must be linear in the size of a string.
 * The e-mail check used to be `/[^\s@"<>()[\]]+@[^\s@"<>()[\]]+\.[A-Za-z]{2,}/`, unanchored with
 * two overlapping `+` runs: on any long run of characters without whitespace it tried every start
 * and backtracked over the rest. Measured with node 20 on the development machine: 16 KiB of
 * "x" 0.27 s, 64 KiB 4.5 s, 128 KiB ("a…a@b…b") 18.7 s — quadratic, so about 20 minutes for a
 * 1 MiB run (the letters, digits, base64, "a…a@b…b" and dotted-label cases below; with MIB set
 * to 64 KiB those five failed the bound at 6–7 s each). The rewrite does each case in 0–120 ms.
 */
describe("maskJobField on 1 MiB strings", () => {
  const MIB = 1 << 20;
  const BOUND_MS = 1_000;

  function timed(value: string): { shown: unknown; ms: number } {
    const start = process.hrtime.bigint();
    const shown = maskJobField({ note: value });
    return { shown, ms: Number(process.hrtime.bigint() - start) / 1e6 };
  }

  const adversarial: Array<[string, string, boolean]> = [
    ["one run of letters, no '@'", "x".repeat(MIB), false],
    ["a long local part, an '@', a long domain without a dot", `${"a".repeat(MIB / 2)}@${"b".repeat(MIB / 2 - 1)}`, false],
    ["'a@' repeated: an '@' every other character", "a@".repeat(MIB / 2), false],
    ["one '@' then dotted labels without a two-letter TLD", `a@${"a.".repeat(MIB / 2 - 1)}`, false],
    ["'x.a@' repeated: every domain one letter after its dot", `a@${"x.a@".repeat(MIB / 4 - 1)}`, false],
    ["the same run ending in an address", `${"a.".repeat(MIB / 2 - 5)}@mail.org`, true],
    ["digits only", "4".repeat(MIB), false],
    ["digits in groups of one: every span of groups a candidate card number", "1 ".repeat(MIB / 2), false],
    ["digits in groups of four, dashed", "1000-".repeat(MIB / 5), false],
  ];
  it.each(adversarial)("adversarial: %s — masked correctly within the bound", (_name, value, isAddress) => {
    expect(value.length).toBeGreaterThanOrEqual(MIB - 4);
    const { shown, ms } = timed(value);
    expect(shown).toEqual({ note: isAddress ? "[redacted]" : value });
    expect(ms).toBeLessThan(BOUND_MS);
  });

  it("ordinary: a 1 MiB base64 blob and 1 MiB of prose, one with an address at its end, within the bound", () => {
    const blob = Buffer.alloc((MIB / 4) * 3, "payhooks webhook body ").toString("base64");
    expect(blob.length).toBe(MIB);
    const words = "The customer paid the order in full and asked for a receipt by mail. ";
    const prose = words.repeat(Math.ceil(MIB / words.length)).slice(0, MIB);
    for (const [value, isAddress] of [
      [blob, false],
      [prose, false],
      [`${prose} Contact: jane.doe@example.org`, true],
    ] as const) {
      const { shown, ms } = timed(value);
      expect(shown).toEqual({ note: isAddress ? "[redacted]" : value });
      expect(ms).toBeLessThan(BOUND_MS);
    }
  });
});
