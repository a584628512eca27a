import { enabledProviders, loadConfig } from "./index";
import { ConfigError } from "@payhooks/core";

/** A Standard Webhooks secret that decodes to 32 bytes. */
const GOOD_WHSEC = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
/** A value no message may ever echo: set it on secret variables and search for it. */
const SECRET_MARKER = "zzsecretzz";

/** The error loadConfig throws for `env`, or a failure when it throws nothing. */
function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe("loadConfig", () => {
  it("applies the documented defaults to an empty environment", () => {
    expect(loadConfig({})).toEqual({
      REDIS_URL: "redis://127.0.0.1:6379",
      PORT: 3000,
      ADMIN_PORT: 3001,
      ADMIN_HOST: "127.0.0.1",
      QUEUE_PREFIX: "payhooks",
      BODY_LIMIT: 262_144, // 256kb
      WORKER_CONCURRENCY: 16,
      WORKER_LOCK_MS: 30_000,
      LOG_LEVEL: "info",
      MERCHANT_WEBHOOK_TIMEOUT_MS: 10_000,
      PAYMENT_EVENTS_QUEUE: false,
      LEDGER_RETENTION_DAYS: 400,
      MERCHANT_FIRST_ATTEMPT: "inline",
      MERCHANT_WEBHOOK_MAX_RESPONSE_BYTES: 65_536,
      TRUST_PROXY: false,
      PAYME_ALLOW_TEST_KEY: false,
      PAYME_LOGIN: "Paycom",
      PAYME_ACCOUNT_FIELD: "order_id",
      PAYME_RPC_TIMEOUT_MS: 5_000,
      CLOCK_OFFSET_MS: 0,
      PAYSKE_TOLERANCE_SECONDS: 300,
      PAYSKE_ORDER_METADATA_KEY: "order_id",
      ROBOKASSA_HASH: "md5",
      CLICK_RPC_TIMEOUT_MS: 5000,
      STRIPE_ORDER_METADATA_KEY: "order_id",
      STRIPE_TOLERANCE_SECONDS: 300,
      ROBOKASSA_CURRENCY: "RUB",
    });
  });

  it("reads set values and coerces numbers", () => {
    const config = loadConfig({
      REDIS_URL: "unix:///tmp/redis.sock",
      PORT: "8080",
      ADMIN_PORT: "9090",
      ADMIN_HOST: "0.0.0.0",
      QUEUE_PREFIX: "{payhooks}",
      WORKER_CONCURRENCY: "4",
      LOG_LEVEL: "debug",
      ADMIN_TOKEN: "a".repeat(16),
    });
    expect(config).toMatchObject({
      REDIS_URL: "unix:///tmp/redis.sock",
      PORT: 8080,
      ADMIN_PORT: 9090,
      ADMIN_HOST: "0.0.0.0",
      QUEUE_PREFIX: "{payhooks}",
      WORKER_CONCURRENCY: 4,
      LOG_LEVEL: "debug",
      ADMIN_TOKEN: "a".repeat(16),
    });
  });

  it("produces the payment-events queue only when PAYMENT_EVENTS_QUEUE=true", () => {
    expect(loadConfig({ PAYMENT_EVENTS_QUEUE: "true" }).PAYMENT_EVENTS_QUEUE).toBe(true);
    expect(loadConfig({ PAYMENT_EVENTS_QUEUE: "false" }).PAYMENT_EVENTS_QUEUE).toBe(false);
    expect(loadConfig({ PAYMENT_EVENTS_QUEUE: "" }).PAYMENT_EVENTS_QUEUE).toBe(false);
  });

  it("ignores variables it does not know", () => {
    expect(loadConfig({ HOME: "/root", PATH: "/usr/bin" })).not.toHaveProperty("HOME");
  });

  it.each([
    ["1mb", 1_048_576],
    ["1MB", 1_048_576],
    ["256kb", 262_144],
    ["64 kb", 65_536],
    ["4096", 4096],
    ["4096b", 4096],
    ["16mb", 16 * 1_048_576],
  ] as const)("parses BODY_LIMIT %j as %i bytes", (text, bytes) => {
    expect(loadConfig({ BODY_LIMIT: text }).BODY_LIMIT).toBe(bytes);
  });

  it.each([
    ["100", /at least 1kb/],
    ["17mb", /at most 16mb/],
    ["1gb", /256kb, 1mb or 4096/],
    ["lots", /256kb, 1mb or 4096/],
  ] as const)("rejects BODY_LIMIT %j", (text, message) => {
    const err = configError({ BODY_LIMIT: text });
    expect(err.message).toMatch(/^BODY_LIMIT: /);
    expect(err.message).toMatch(message);
  });

  it.each(["abc", "70000", "1.5", "-1"])("rejects PORT=%j with exactly one line, naming PORT", (value) => {
    const err = configError({ PORT: value });
    expect(err.code).toBe("config_invalid");
    expect(err.name).toBe("ConfigError");
    const lines = err.message.split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^PORT: \S/);
  });

  it("reports two bad variables on two lines", () => {
    const err = configError({ PORT: "abc", ADMIN_PORT: "99999" });
    const lines = err.message.split("\n");
    expect(lines).toHaveLength(2);
    expect(lines.map((l) => l.split(":")[0]).sort()).toEqual(["ADMIN_PORT", "PORT"]);
  });

  it("treats empty strings as unset (docker-compose passes VAR= through as \"\")", () => {
    const config = loadConfig({
      PORT: "",
      BODY_LIMIT: "",
      ADMIN_TOKEN: "",
      PAYRAM_WEBHOOK_SECRET: "",
      MERCHANT_WEBHOOK_URL: "",
      MERCHANT_WEBHOOK_SECRET: "",
    });
    expect(config.PORT).toBe(3000);
    expect(config.BODY_LIMIT).toBe(262_144);
    expect(config).not.toHaveProperty("ADMIN_TOKEN");
    expect(config).not.toHaveProperty("PAYRAM_WEBHOOK_SECRET");
    expect(config).not.toHaveProperty("MERCHANT_WEBHOOK_URL");
  });

  it("requires MERCHANT_WEBHOOK_SECRET when MERCHANT_WEBHOOK_URL is set", () => {
    const err = configError({ MERCHANT_WEBHOOK_URL: "https://merchant.example/hooks" });
    expect(err.message).toBe("MERCHANT_WEBHOOK_SECRET: is required when MERCHANT_WEBHOOK_URL is set");
  });

  it("accepts MERCHANT_WEBHOOK_URL with a whsec_ secret of 32 bytes", () => {
    const config = loadConfig({
      MERCHANT_WEBHOOK_URL: "https://merchant.example/hooks",
      MERCHANT_WEBHOOK_SECRET: GOOD_WHSEC,
    });
    expect(config.MERCHANT_WEBHOOK_URL).toBe("https://merchant.example/hooks");
    expect(config.MERCHANT_WEBHOOK_SECRET).toBe(GOOD_WHSEC);
  });

  it.each([
    ["no whsec_ prefix", Buffer.alloc(32, 7).toString("base64")],
    ["not base64 after the prefix", "whsec_not-base64!"],
    ["fewer than 24 bytes", `whsec_${Buffer.alloc(16, 7).toString("base64")}`],
  ])("rejects a MERCHANT_WEBHOOK_SECRET with %s", (_case, secret) => {
    const err = configError({ MERCHANT_WEBHOOK_URL: "https://merchant.example/hooks", MERCHANT_WEBHOOK_SECRET: secret });
    for (const line of err.message.split("\n")) expect(line).toMatch(/^MERCHANT_WEBHOOK_SECRET: /);
  });

  it("rejects a merchant URL that is not http(s)", () => {
    const err = configError({ MERCHANT_WEBHOOK_URL: "ftp://merchant.example/hooks", MERCHANT_WEBHOOK_SECRET: GOOD_WHSEC });
    expect(err.message).toMatch(/^MERCHANT_WEBHOOK_URL: /);
  });

  it("reads MERCHANT_WEBHOOK_MAX_RESPONSE_BYTES, 0 (read no body) to 16 MiB", () => {
    expect(loadConfig({ MERCHANT_WEBHOOK_MAX_RESPONSE_BYTES: "0" }).MERCHANT_WEBHOOK_MAX_RESPONSE_BYTES).toBe(0);
    expect(loadConfig({ MERCHANT_WEBHOOK_MAX_RESPONSE_BYTES: "4096" }).MERCHANT_WEBHOOK_MAX_RESPONSE_BYTES).toBe(4096);
    expect(loadConfig({ MERCHANT_WEBHOOK_MAX_RESPONSE_BYTES: String(16 * 1024 * 1024) }).MERCHANT_WEBHOOK_MAX_RESPONSE_BYTES).toBe(16 * 1024 * 1024);
  });

  it("rejects an ADMIN_TOKEN shorter than 16 characters", () => {
    expect(configError({ ADMIN_TOKEN: "a".repeat(15) }).message).toBe("ADMIN_TOKEN: must be at least 16 characters");
  });

  it.each([
    ["REDIS_URL", "http://127.0.0.1:6379"],
    ["QUEUE_PREFIX", "pay:hooks"],
    ["LOG_LEVEL", "verbose"],
    ["WORKER_CONCURRENCY", "0"],
    ["WORKER_LOCK_MS", "999"],
    ["MERCHANT_WEBHOOK_TIMEOUT_MS", "50"],
    ["PAYMENT_EVENTS_QUEUE", "yes"],
    ["LEDGER_RETENTION_DAYS", "7"],
    ["MERCHANT_WEBHOOK_MAX_RESPONSE_BYTES", "64kb"],
    ["MERCHANT_WEBHOOK_MAX_RESPONSE_BYTES", "-1"],
    ["MERCHANT_WEBHOOK_MAX_RESPONSE_BYTES", String(16 * 1024 * 1024 + 1)],
  ])("rejects a bad %s", (name, value) => {
    expect(configError({ [name]: value }).message).toMatch(new RegExp(`^${name}: `));
  });

  it("never puts the value of a secret variable in the message", () => {
    const err = configError({
      ADMIN_TOKEN: SECRET_MARKER, // too short
      MERCHANT_WEBHOOK_URL: `https://user:${SECRET_MARKER}@merchant.example/hooks`,
      MERCHANT_WEBHOOK_SECRET: `whsec_${SECRET_MARKER}`, // valid base64, too few bytes
      REDIS_URL: `http://:${SECRET_MARKER}@127.0.0.1:6379`, // wrong scheme, password inside
      PAYRAM_WEBHOOK_SECRET: SECRET_MARKER, // valid, but present in the input
    });
    expect(err.message).toMatch(/ADMIN_TOKEN/);
    expect(err.message).toMatch(/MERCHANT_WEBHOOK_SECRET/);
    expect(err.message).toMatch(/REDIS_URL/);
    expect(err.message).not.toContain(SECRET_MARKER);
    expect(String(err.stack)).not.toContain(SECRET_MARKER);
  });

  it("does not read process.env", () => {
    const before = process.env["PORT"];
    process.env["PORT"] = "not-a-port";
    try {
      expect(loadConfig({}).PORT).toBe(3000);
    } finally {
      if (before === undefined) delete process.env["PORT"];
      else process.env["PORT"] = before;
    }
  });
});

describe("enabledProviders", () => {
  it("enables Payram when its secret is set, Payme when its key is", () => {
    expect(enabledProviders(loadConfig({ PAYRAM_WEBHOOK_SECRET: "pk_live_abc" }))).toEqual({ payme: false, payram: true, payske: false, robokassa: false, stripe: false, click: false });
    expect(enabledProviders(loadConfig({ PAYME_KEY: "k" }))).toEqual({ payme: true, payram: false, payske: false, robokassa: false, stripe: false, click: false });
  });

  it("disables a provider when its secret is missing or empty", () => {
    expect(enabledProviders(loadConfig({}))).toEqual({ payme: false, payram: false, payske: false, robokassa: false, stripe: false, click: false });
    expect(enabledProviders(loadConfig({ PAYRAM_WEBHOOK_SECRET: "", PAYME_KEY: "", PAYSKE_WEBHOOK_SECRET: "" }))).toEqual({
      payme: false,
      payram: false,
      payske: false,
      robokassa: false,
      stripe: false,
      click: false,
    });
  });
});

describe("loadConfig: Payske", () => {
  it("reads a comma-separated list of secrets for rotation, each used verbatim", () => {
    expect(loadConfig({ PAYSKE_WEBHOOK_SECRET: "whsec_old,whsec_new" }).PAYSKE_WEBHOOK_SECRET).toEqual(["whsec_old", "whsec_new"]);
    expect(loadConfig({ PAYSKE_WEBHOOK_SECRET: "whsec_one" }).PAYSKE_WEBHOOK_SECRET).toEqual(["whsec_one"]);
    expect(enabledProviders(loadConfig({ PAYSKE_WEBHOOK_SECRET: "whsec_one" })).payske).toBe(true);
  });

  it.each(["whsec_a,", ",whsec_a", "whsec_a,,whsec_b", " , "])("refuses an empty secret in PAYSKE_WEBHOOK_SECRET=%j", (value) => {
    expect(configError({ PAYSKE_WEBHOOK_SECRET: value }).message).toMatch(/^PAYSKE_WEBHOOK_SECRET: must not hold an empty secret/);
  });

  it("reads the tolerance and the metadata key", () => {
    expect(loadConfig({ PAYSKE_TOLERANCE_SECONDS: "0", PAYSKE_ORDER_METADATA_KEY: "orderRef" })).toMatchObject({
      PAYSKE_TOLERANCE_SECONDS: 0,
      PAYSKE_ORDER_METADATA_KEY: "orderRef",
    });
    expect(configError({ PAYSKE_TOLERANCE_SECONDS: "-1" }).message).toMatch(/^PAYSKE_TOLERANCE_SECONDS: /);
  });
});

describe("loadConfig: Stripe, a second instance of the Payske module", () => {
  it("reads its own variables, enables only itself, and refuses a test secret that repeats a live one", () => {
    const config = loadConfig({ STRIPE_WEBHOOK_SECRET: "whsec_live_a,whsec_live_b", STRIPE_TEST_WEBHOOK_SECRET: "whsec_test", STRIPE_TOLERANCE_SECONDS: "60" });
    expect(config).toMatchObject({ STRIPE_WEBHOOK_SECRET: ["whsec_live_a", "whsec_live_b"], STRIPE_TEST_WEBHOOK_SECRET: ["whsec_test"], STRIPE_TOLERANCE_SECONDS: 60 });
    expect(enabledProviders(config)).toMatchObject({ stripe: true, payske: false });
    expect(configError({ STRIPE_WEBHOOK_SECRET: "whsec_x", STRIPE_TEST_WEBHOOK_SECRET: "whsec_x" }).message).toBe(
      "STRIPE_TEST_WEBHOOK_SECRET: must not repeat a secret of STRIPE_WEBHOOK_SECRET",
    );
    // One secret for two providers would let either's deliveries pass as the other's.
    expect(configError({ PAYSKE_WEBHOOK_SECRET: "whsec_same", STRIPE_TEST_WEBHOOK_SECRET: "whsec_other,whsec_same" }).message).toBe(
      "STRIPE_TEST_WEBHOOK_SECRET: must not repeat a secret of PAYSKE_WEBHOOK_SECRET (payske)",
    );
    expect(configError({ PAYRAM_WEBHOOK_SECRET: "k-shared", CLICK_SERVICE_ID: "1", CLICK_SECRET_KEY: "k-shared" }).message).toBe(
      "CLICK_SECRET_KEY: must not repeat a secret of PAYRAM_WEBHOOK_SECRET (payram)",
    );
    // Payske's variables stay Payske's.
    expect(enabledProviders(loadConfig({ PAYSKE_WEBHOOK_SECRET: "whsec_p" }))).toMatchObject({ stripe: false, payske: true });
  });
});

describe("loadConfig: RoboKassa", () => {
  it("is enabled by both passwords, and refuses one without the other", () => {
    expect(enabledProviders(loadConfig({ ROBOKASSA_PASSWORD1: "p1", ROBOKASSA_PASSWORD2: "p2" })).robokassa).toBe(true);
    expect(configError({ ROBOKASSA_PASSWORD1: "p1" }).message).toBe("ROBOKASSA_PASSWORD2: is required with ROBOKASSA_PASSWORD1");
    expect(configError({ ROBOKASSA_PASSWORD1: "p1", ROBOKASSA_PASSWORD2: "p2", ROBOKASSA_TEST_PASSWORD2: "t2" }).message).toBe(
      "ROBOKASSA_TEST_PASSWORD1: is required with ROBOKASSA_TEST_PASSWORD2",
    );
  });

  it.each([
    ["ROBOKASSA_TEST_PASSWORD1", { ROBOKASSA_TEST_PASSWORD1: "p1", ROBOKASSA_TEST_PASSWORD2: "t2" }],
    ["ROBOKASSA_TEST_PASSWORD2", { ROBOKASSA_TEST_PASSWORD1: "t1", ROBOKASSA_TEST_PASSWORD2: "p2" }],
  ])("refuses %s equal to its live password, naming it and never the value", (name, test) => {
    const err = configError({ ROBOKASSA_PASSWORD1: "p1", ROBOKASSA_PASSWORD2: "p2", ...test });
    expect(err.message).toBe(`${name}: must differ from ${name.replace("TEST_", "")}`);
  });

  it("refuses both equal test passwords on two lines, and takes distinct ones", () => {
    const err = configError({ ROBOKASSA_PASSWORD1: "p1", ROBOKASSA_PASSWORD2: "p2", ROBOKASSA_TEST_PASSWORD1: "p1", ROBOKASSA_TEST_PASSWORD2: "p2" });
    expect(err.message.split("\n").sort()).toEqual([
      "ROBOKASSA_TEST_PASSWORD1: must differ from ROBOKASSA_PASSWORD1",
      "ROBOKASSA_TEST_PASSWORD2: must differ from ROBOKASSA_PASSWORD2",
    ]);
    // Across the roles too: Password #1 signs what the payer's browser sees (SuccessURL), so a test
    // Password #2 equal to it would let a payer forge a test ResultURL.
    expect(
      configError({ ROBOKASSA_PASSWORD1: "p1", ROBOKASSA_PASSWORD2: "p2", ROBOKASSA_TEST_PASSWORD1: "p2", ROBOKASSA_TEST_PASSWORD2: "p1" }).message.split("\n").sort(),
    ).toEqual(["ROBOKASSA_TEST_PASSWORD1: must differ from ROBOKASSA_PASSWORD2", "ROBOKASSA_TEST_PASSWORD2: must differ from ROBOKASSA_PASSWORD1"]);
    expect(
      loadConfig({ ROBOKASSA_PASSWORD1: "p1", ROBOKASSA_PASSWORD2: "p2", ROBOKASSA_TEST_PASSWORD1: "t1", ROBOKASSA_TEST_PASSWORD2: "t2" }),
    ).toMatchObject({ ROBOKASSA_TEST_PASSWORD1: "t1", ROBOKASSA_TEST_PASSWORD2: "t2" });
  });

  it.each(["md5", "ripemd160", "sha1", "sha256", "sha384", "sha512"])("takes ROBOKASSA_HASH=%s", (hash) => {
    expect(loadConfig({ ROBOKASSA_HASH: hash }).ROBOKASSA_HASH).toBe(hash);
  });

  it.each([
    ["ROBOKASSA_HASH", "sha224"],
    ["ROBOKASSA_HASH", "MD5"],
    ["ROBOKASSA_ORDER_PARAM", "order_id"],
    ["ROBOKASSA_CURRENCY", "rub"],
    ["ROBOKASSA_SUCCESS_REDIRECT", "javascript:alert(1)"],
    ["ROBOKASSA_FAIL_REDIRECT", "/relative"],
  ])("rejects %s=%j", (name, value) => {
    expect(configError({ [name]: value }).message).toMatch(new RegExp(`^${name}: `));
  });

  it("reads the order parameter and the redirects", () => {
    expect(
      loadConfig({ ROBOKASSA_ORDER_PARAM: "shp_Order_Id", ROBOKASSA_SUCCESS_REDIRECT: "https://shop.example/ok", ROBOKASSA_CURRENCY: "KZT" }),
    ).toMatchObject({ ROBOKASSA_ORDER_PARAM: "shp_Order_Id", ROBOKASSA_SUCCESS_REDIRECT: "https://shop.example/ok", ROBOKASSA_CURRENCY: "KZT" });
  });
});

describe("loadConfig: Payme and the client address", () => {
  it("has Payme's defaults", () => {
    expect(loadConfig({})).toMatchObject({
      PAYME_LOGIN: "Paycom",
      PAYME_ACCOUNT_FIELD: "order_id",
      PAYME_RPC_TIMEOUT_MS: 5000,
      PAYME_ALLOW_TEST_KEY: false,
      TRUST_PROXY: false,
      CLOCK_OFFSET_MS: 0,
    });
    expect(loadConfig({}).PAYME_ALLOWED_IPS).toBeUndefined();
  });

  it("reads PAYME_ALLOWED_IPS as addresses, ranges and subnets", () => {
    const list = loadConfig({ PAYME_ALLOWED_IPS: "185.234.113.1-185.234.113.15, 10.1.0.0/16,::1" }).PAYME_ALLOWED_IPS!;
    expect(list.check("185.234.113.1", "ipv4")).toBe(true);
    expect(list.check("185.234.113.15", "ipv4")).toBe(true);
    expect(list.check("185.234.113.16", "ipv4")).toBe(false);
    expect(list.check("185.234.113.0", "ipv4")).toBe(false);
    expect(list.check("10.1.200.3", "ipv4")).toBe(true);
    expect(list.check("10.2.0.1", "ipv4")).toBe(false);
    expect(list.check("::1", "ipv6")).toBe(true);
  });

  it.each(["185.234.113.1-", "example.com", "10.0.0.0/33", "1.2.3.4-::1", ""])("refuses PAYME_ALLOWED_IPS=%j", (value) => {
    if (value === "") return expect(loadConfig({ PAYME_ALLOWED_IPS: value }).PAYME_ALLOWED_IPS).toBeUndefined();
    expect(configError({ PAYME_ALLOWED_IPS: value }).message).toMatch(/^PAYME_ALLOWED_IPS: /);
  });

  it.each([
    ["true", true],
    ["false", false],
    ["1", 1],
    ["loopback", "loopback"],
    ["loopback, 10.0.0.0/8", "loopback, 10.0.0.0/8"],
  ])("reads TRUST_PROXY=%j", (value, expected) => {
    expect(loadConfig({ TRUST_PROXY: value }).TRUST_PROXY).toEqual(expected);
  });

  it.each(["yes", "10.0.0.0/8/1", "proxy.example"])("refuses TRUST_PROXY=%j", (value) => {
    expect(configError({ TRUST_PROXY: value }).message).toMatch(/^TRUST_PROXY: /);
  });

  it("accepts the sandbox key only when asked to, and never the live key as the test key", () => {
    expect(configError({ PAYME_ALLOW_TEST_KEY: "true" }).message).toMatch(/^PAYME_TEST_KEY: is required/);
    expect(configError({ PAYME_KEY: "same", PAYME_TEST_KEY: "same" }).message).toMatch(/^PAYME_TEST_KEY: must differ/);
    expect(configError({ PAYME_ALLOW_TEST_KEY: "yes" }).message).toMatch(/^PAYME_ALLOW_TEST_KEY: /);
    expect(loadConfig({ PAYME_TEST_KEY: "t", PAYME_ALLOW_TEST_KEY: "true" }).PAYME_ALLOW_TEST_KEY).toBe(true);
  });

  it("refuses a clock offset outside tests", () => {
    expect(configError({ CLOCK_OFFSET_MS: "1000", NODE_ENV: "production" }).message).toMatch(/^CLOCK_OFFSET_MS: is for tests only/);
    expect(loadConfig({ CLOCK_OFFSET_MS: "1000", NODE_ENV: "test" }).CLOCK_OFFSET_MS).toBe(1000);
  });

  it.each([["PAYME_RPC_TIMEOUT_MS", "50"], ["PAYME_ACCOUNT_FIELD", "order.id"]])("rejects a bad %s", (name, value) => {
    expect(configError({ [name]: value }).message).toMatch(new RegExp(`^${name}: `));
  });
});

describe("loadConfig: regressions", () => {
  it("gives one line per variable even when a value breaks two rules", () => {
    const err = configError({ MERCHANT_WEBHOOK_URL: "https://m.example/hook", MERCHANT_WEBHOOK_SECRET: "whsec_c2hvcnQ=" });
    expect(err.message.split("\n")).toEqual(["MERCHANT_WEBHOOK_SECRET: must decode to at least 24 bytes"]);
    expect(configError({ BODY_LIMIT: "99999999999999999999999kb" }).message.split("\n")).toHaveLength(1);
  });

  it.each([" ", "0x10", "1e3", "-1", "3.5"])("refuses PORT=%j instead of coercing it", (value) => {
    expect(configError({ PORT: value }).message).toMatch(/^PORT: /);
  });
});
