/**
 * Hostile input on every route, property-based (fast-check) against ONE real ingress process
 * (every provider configured — Payme, Payram, Payske, Stripe, RoboKassa, Click —, BODY_LIMIT 64kb) on a private redis-server, over HTTP/1.1
 * keep-alive on 127.0.0.1. No worker runs: any job an input creates stays waiting in its queue,
 * so "no job" is checked on every queue in QUEUES after every property.
 *
 * Every answer must be a well-formed refusal in the provider's own dialect:
 * - Payme: HTTP 200 with a JSON-RPC 2.0 error object (README, "Payme"), never -32400 here
 *   (Redis is up and no call reaches a worker);
 * - Payram / Payske: a 4xx with a JSON `{"error": …}` body for anything unauthenticated; an
 *   authenticated body, whatever it holds, is acknowledged with 200 and one job (named by its
 *   event id or its bytes) that the worker will quarantine — the properties check and drop it;
 * - Stripe (/webhooks/stripe, Payske's scheme under Stripe-Signature): as Payske;
 * - RoboKassa ResultURL: a 4xx whose body never starts with `OK` (docs/protocols/robokassa.md#answers);
 * - Click (/webhooks/click/prepare, /complete, /webhooks/click): Click's JSON answer with an
 *   `error` code < 0 (docs/protocols/click.md#error-codes), HTTP 200 — or the pipeline's 405/413/415
 *   with the same -8 body — and never -7 here (Redis is up and no call reaches a worker).
 * Never a 5xx, never a hang; the process stays up and answers /healthz after each property.
 *
 * Runs are reproducible: a fixed seed (FUZZ_SEED to explore others; fast-check prints the
 * seed and path of any counterexample) and FUZZ_RUNS inputs per property (default RUNS below).
 */
import http from "node:http";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { Queue } from "bullmq";
import { QUEUES, createRedis, jobIdFor, sha256Hex } from "@payhooks/core";
import { parsePayramNotification, payramJobId, signForTest as payramSign } from "@payhooks/payram";
import { payskeSignature } from "@payhooks/payske";
import { robokassaJobId, signForTest as robokassaSign } from "@payhooks/robokassa";
import { CLICK_ERRORS, clickSign, type SignedFields } from "@payhooks/click";
import { paymeAuth, removeRedisServer, startIngress, startRedisServer, type RedisServer } from "@payhooks/testing";
import { MAX_JSON_DEPTH } from "@payhooks/core";

const SEED = Number(process.env["FUZZ_SEED"] ?? 20_240_611);
/** Inputs per property; each property states its own count relative to this. */
const RUNS = Number(process.env["FUZZ_RUNS"] ?? 200);
const BODY_LIMIT = 64 * 1024;
const PREFIX = "fuzz";

const PAYME_KEY = "fuzz&Key%With#Specials?@0123456789abc";
const PAYRAM_SECRET = "payram-fuzz-project-api-key";
const PAYSKE_SECRET = "whsec_fuzzSecret0123456789abcdefghij";
const ROBOKASSA_PASSWORD1 = "rk-fuzz-password-1";
const ROBOKASSA_PASSWORD2 = "rk-fuzz-password-2";
const STRIPE_SECRET = "whsec_fuzzStripeSecret0123456789abcdef";
const CLICK_SERVICE_ID = "24680";
const CLICK_SECRET_KEY = "fuzz-click-secret-key&%#";

jest.setTimeout(120_000);

let redis: RedisServer;
let ingress: Awaited<ReturnType<typeof startIngress>>;
let port: number;
let connection: ReturnType<typeof createRedis>;
let queues: Queue[];

/** One keep-alive socket: the properties send one request at a time. */
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

beforeAll(async () => {
  redis = await startRedisServer();
  ingress = await startIngress({
    REDIS_URL: redis.url,
    QUEUE_PREFIX: PREFIX,
    BODY_LIMIT: `${BODY_LIMIT / 1024}kb`,
    PAYME_KEY,
    // Short, so an input that wrongly reaches the queue shows up as -32400 (and a job) quickly.
    PAYME_RPC_TIMEOUT_MS: "300",
    PAYRAM_WEBHOOK_SECRET: PAYRAM_SECRET,
    PAYSKE_WEBHOOK_SECRET: PAYSKE_SECRET,
    ROBOKASSA_PASSWORD1,
    ROBOKASSA_PASSWORD2,
    STRIPE_WEBHOOK_SECRET: STRIPE_SECRET,
    CLICK_SERVICE_ID,
    CLICK_SECRET_KEY,
    // Short, like Payme's: an input that wrongly reaches the queue shows up as -7 (and a job) quickly.
    CLICK_RPC_TIMEOUT_MS: "300",
  });
  port = Number(new URL(ingress.url).port);
  connection = createRedis(redis.url, "producer", "fuzz-probe");
  connection.on("error", () => undefined);
  queues = Object.values(QUEUES).map((name) => {
    const queue = new Queue(name, { connection, prefix: PREFIX });
    queue.on("error", () => undefined);
    return queue;
  });
});

afterEach(async () => {
  // After every property: the process is up, answers /healthz, logged no error, holds no job.
  // (What one property left behind is cleared, so it does not fail the next one too.)
  expect(ingress.proc.child.exitCode).toBeNull();
  const health = await send({ method: "GET", path: "/healthz" });
  expect(health.status).toBe(200);
  expect(JSON.parse(health.body.toString("utf8"))).toEqual({ status: "ok" });
  const errors = errorLines();
  const jobs = await jobCounts();
  await Promise.all(queues.map((q) => q.obliterate({ force: true })));
  expect(errors).toEqual([]);
  expect(jobs).toEqual({});
});

afterAll(async () => {
  agent.destroy();
  await Promise.all((queues ?? []).map((q) => q.close()));
  connection?.disconnect();
  await ingress?.proc.stop();
  if (redis) await removeRedisServer(redis);
});

// ---------------------------------------------------------------------------------------------
// HTTP, checks

type Reply = { status: number; headers: http.IncomingHttpHeaders; body: Buffer };
type Outgoing = {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** send the body in pieces without Content-Length (Transfer-Encoding: chunked) */
  chunked?: boolean;
  /** a connection of its own, closed afterwards (for requests Node refuses at the socket) */
  ownSocket?: boolean;
};

function send(out: Outgoing): Promise<Reply> {
  const method = out.method ?? "POST";
  const body = out.body ?? new Uint8Array(0);
  const headers: Record<string, string> = { ...out.headers };
  if (!out.chunked && (body.length > 0 || method === "POST")) headers["content-length"] = String(body.length);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, method, path: out.path, headers, agent: out.ownSocket ? false : agent, timeout: 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within 10 s: ${method} ${out.path.slice(0, 80)}`)));
    req.on("error", reject);
    if (out.chunked) {
      for (let i = 0; i < body.length; i += 8192) req.write(body.subarray(i, i + 8192));
      req.end();
    } else {
      req.end(body);
    }
  });
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Every answer: never a 5xx, and the Content-Type says what the body is. */
function expectWellFormed(reply: Reply): void {
  expect(reply.status).toBeGreaterThanOrEqual(200);
  expect(reply.status).toBeLessThan(500);
  if (reply.body.length === 0) return;
  const type = reply.headers["content-type"] ?? "";
  const text = strictUtf8.decode(reply.body);
  if (/^application\/json; charset=utf-8$/i.test(type)) JSON.parse(text);
  else if (/^text\/html; charset=utf-8$/i.test(type)) expect(text.startsWith("<!doctype html>")).toBe(true);
  else expect(type).toMatch(/^text\/plain(; charset=utf-8)?$/i);
}

type PaymeAnswer = { jsonrpc: string; id: unknown; error: { code: number; message: Record<string, string>; data?: unknown } };

/** Payme's dialect (docs/protocols/payme.md#answers, #error-codes): HTTP 200, a JSON-RPC error with a localized message. */
function expectPaymeError(reply: Reply, codes: readonly number[], id?: unknown): PaymeAnswer {
  expectWellFormed(reply);
  expect(reply.status).toBe(200);
  expect(reply.headers["content-type"]).toMatch(/^application\/json/);
  const answer = JSON.parse(reply.body.toString("utf8")) as PaymeAnswer;
  expect(answer.jsonrpc).toBe("2.0");
  expect(answer).toHaveProperty("id");
  expect(answer).not.toHaveProperty("result");
  expect(codes).toContain(answer.error.code);
  for (const lang of ["ru", "uz", "en"]) expect(typeof answer.error.message[lang]).toBe("string");
  if (id !== undefined) expect(answer.id).toEqual(id);
  return answer;
}

/** Payram's and Payske's dialect: a 4xx with `{"error": "…"}`. */
function expectJsonError(reply: Reply, statuses: readonly number[]): string {
  expectWellFormed(reply);
  expect(statuses).toContain(reply.status);
  expect(reply.headers["content-type"]).toMatch(/^application\/json/);
  const body = JSON.parse(reply.body.toString("utf8")) as { error?: unknown };
  expect(typeof body.error).toBe("string");
  return body.error as string;
}

/** RoboKassa: a refusal is anything but `OK…` (docs/protocols/robokassa.md#answers), as plain text or the JSON of the error handler. */
function expectRobokassaRefusal(reply: Reply, statuses: readonly number[] = [400]): void {
  expectWellFormed(reply);
  expect(statuses).toContain(reply.status);
  expect(reply.body.toString("utf8").startsWith("OK")).toBe(false);
}

/** Error (50) and fatal (60) lines the ingress printed since the last call: an unhandled error or a 5xx. */
let seenOutput = 0;
function errorLines(): string[] {
  const output = ingress.proc.output();
  const fresh = output.slice(seenOutput);
  seenOutput = output.length;
  return fresh
    .split("\n")
    .filter((l) => /"level":(50|60)/.test(l))
    .map((l) => l.slice(0, 500));
}

async function jobCounts(): Promise<Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, number>> = {};
  for (const queue of queues) {
    const counts = await queue.getJobCounts();
    if (Object.values(counts).some((n) => n > 0)) out[queue.name] = counts;
  }
  return out;
}

/** A verified, well-formed input was accepted: its job is there, under the expected id; drop it. */
async function expectJobAndDrop(queueName: string, jobId: string): Promise<void> {
  const queue = queues.find((q) => q.name === queueName)!;
  const job = await queue.getJob(jobId);
  expect(job?.id).toBe(jobId);
  expect(jobId).not.toContain(":");
  await job!.remove();
}

/** The job of an authenticated body the worker cannot read: named by its bytes (json-body.ts authenticatedBody). */
const bodyJobId = (provider: "payram" | "payske" | "stripe", bytes: string | Uint8Array) => jobIdFor(provider, ["body", sha256Hex(bytes).slice(0, 32)]);

/** A job for bytes that are no readable JSON: they are kept exactly, in base64, with the reason; then dropped. */
async function expectUnreadableJob(queueName: string, jobId: string, body: Uint8Array, reason = "invalid_json"): Promise<void> {
  const queue = queues.find((q) => q.name === queueName)!;
  const job = await queue.getJob(jobId);
  expect(job?.data).toMatchObject({ unreadable: reason, payload: null, rawBody: Buffer.from(body).toString("base64") });
  await expectJobAndDrop(queueName, jobId);
}

const run = <T>(property: fc.IAsyncPropertyWithHooks<T>, numRuns = RUNS) => fc.assert(property, { seed: SEED, numRuns });

// ---------------------------------------------------------------------------------------------
// Valid requests, signed as each provider signs them

const nowS = () => Math.floor(Date.now() / 1000);
const utf8 = (s: string) => Buffer.from(s, "utf8");

const PAYME_PATH = "/webhooks/payme";
const PAYRAM_PATH = "/webhooks/payram";
const PAYSKE_PATH = "/webhooks/payske";
const ROBOKASSA_PATH = "/webhooks/robokassa/result";

const paymeCallBody = (over: Record<string, unknown> = {}) =>
  JSON.stringify({ method: "CheckPerformTransaction", params: { amount: 500_000, account: { order_id: "1001" } }, id: 7, ...over });
const paymeSigned = { "content-type": "text/json; charset=UTF-8", authorization: paymeAuth(PAYME_KEY) };

const payramNotification = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    reference_id: "7f1c7a55-0f43-4f0e-9b3a-3f1f6f1e0a01",
    status: "FILLED",
    amount: "49.99",
    filled_amount: "49.99",
    currency: "USD",
    timestamp: 1_700_000_000,
    ...over,
  });
const payramHeaders = (body: Uint8Array) => payramSign(body, PAYRAM_SECRET, "signature");

const payskeEvent = (over: Record<string, unknown> = {}, object: Record<string, unknown> = {}) =>
  JSON.stringify({
    id: "evt_fuzz0001",
    object: "event",
    api_version: "2024-06-20",
    created: nowS(),
    livemode: true,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: "payment_intent.succeeded",
    data: { object: { id: "pi_fuzz0001", object: "payment_intent", amount: 4999, amount_received: 4999, currency: "usd", metadata: { order_id: "ord-1" }, ...object } },
    ...over,
  });
const payskeHeaders = (body: Uint8Array, t = nowS()) => ({
  "content-type": "application/json",
  "payske-signature": `t=${t},v1=${payskeSignature(PAYSKE_SECRET, t, body)}`,
});

const robokassaParams = (over: Record<string, string> = {}) =>
  robokassaSign({ OutSum: "100.000000", InvId: "450009", Shp_order_id: "ord-1", ...over }, ROBOKASSA_PASSWORD2);
/** SignatureValue last, so that any cut of the body cuts the signature. */
const robokassaForm = (params: Record<string, string>) => {
  const { SignatureValue, ...rest } = params;
  return new URLSearchParams({ ...rest, ...(SignatureValue !== undefined ? { SignatureValue } : {}) }).toString();
};
const FORM = { "content-type": "application/x-www-form-urlencoded" };

const STRIPE_PATH = "/webhooks/stripe";
/** Payske's event, signed for Stripe's endpoint (its own secret, under Stripe-Signature). */
const stripeHeaders = (body: Uint8Array, t = nowS(), secret = STRIPE_SECRET) => ({
  "content-type": "application/json",
  "stripe-signature": `t=${t},v1=${payskeSignature(secret, t, body)}`,
});

const CLICK_PATHS = ["/webhooks/click/prepare", "/webhooks/click/complete", "/webhooks/click"] as const;
type ClickPath = (typeof CLICK_PATHS)[number];
/** The actions a Click route takes (docs/protocols/click.md#payhooks-routes). */
const clickActions = (path: ClickPath): readonly string[] => (path.endsWith("/prepare") ? ["0"] : path.endsWith("/complete") ? ["1"] : ["0", "1"]);
const CLICK_CODES: ReadonlySet<number> = new Set(Object.values(CLICK_ERRORS));
/** Well-formed Click fields (the syntax rules pass); `sign_string` is Click's signature by `key` unless given. */
function clickFields(over: Partial<Record<string, string>> = {}, key = CLICK_SECRET_KEY): Record<string, string> {
  const f: Record<string, string> = {
    click_trans_id: "2207145213",
    service_id: CLICK_SERVICE_ID,
    click_paydoc_id: "3046512367",
    merchant_trans_id: "ord-1",
    amount: "1000.00",
    action: "0",
    error: "0",
    error_note: "Success",
    sign_time: "2024-03-02 07:50:19",
    ...(over.action === "1" ? { merchant_prepare_id: "17" } : {}),
    ...over,
  } as Record<string, string>;
  if (over.sign_string === undefined) f["sign_string"] = clickSign(f as unknown as SignedFields, key);
  return f;
}
/** A form body with `sign_string` last, so that any cut of it cuts the signature. */
const clickForm = (fields: Record<string, string>) => {
  const { sign_string, ...rest } = fields;
  return new URLSearchParams({ ...rest, ...(sign_string !== undefined ? { sign_string } : {}) }).toString();
};

/** Click's dialect: its JSON answer with an error code < 0 (never 0: nothing was accepted), never -7 here. */
function expectClickError(reply: Reply, codes?: readonly number[], statuses: readonly number[] = [200]): number {
  expectWellFormed(reply);
  expect(statuses).toContain(reply.status);
  expect(reply.headers["content-type"]).toMatch(/^application\/json/);
  const answer = JSON.parse(reply.body.toString("utf8")) as { error?: unknown; error_note?: unknown };
  expect(typeof answer.error).toBe("number");
  const code = answer.error as number;
  expect(code).toBeLessThan(0);
  expect(CLICK_CODES.has(code)).toBe(true);
  expect(code).not.toBe(CLICK_ERRORS.FAILED_TO_UPDATE);
  expect(typeof answer.error_note).toBe("string");
  if (codes) expect(codes).toContain(code);
  return code;
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

/** Header-safe text (Node's client refuses control characters): printable Latin-1. */
const headerText = (maxLength: number) =>
  fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).filter((c) => c !== 0x7f).map((c) => String.fromCharCode(c)), maxLength });

const contentTypes = fc.option(
  fc.oneof(
    fc.constantFrom(
      "application/json",
      "text/json; charset=UTF-8",
      "application/x-www-form-urlencoded",
      "text/plain",
      "multipart/form-data; boundary=----fuzz",
      "application/octet-stream",
      "application/json; charset=utf-16",
      "application/json; charset=koi8-r",
      "application/json;;charset=",
      "*/*",
      "",
      ";;;",
    ),
    headerText(200),
  ),
  { nil: undefined },
);

/** Strings for ids: unicode, control characters, lone surrogates, separators, and very long ones. */
const SPECIALS = ["\u0000", "\u0007", "\n", "\r", "\t", "\u001b", "\u200b", "\u202e", "\ufeff", "\ud800", "\udfff", "💸", "ﷺ", "Ω", "e\u0301", ":", "/", "\\", "%", "~", "{", "}", '"', "'", "?", "&", "="];
const shortWeirdString = fc.oneof(
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 }),
  fc.string({ unit: "binary", minLength: 1, maxLength: 40 }),
  fc.string({ unit: fc.constantFrom(...SPECIALS), minLength: 1, maxLength: 40 }),
);
const weirdString = fc.oneof(shortWeirdString, fc.tuple(fc.constantFrom(...SPECIALS), fc.integer({ min: 200, max: 5000 })).map(([c, n]) => c.repeat(n)));

/** String length as zod 4 measures it against a maximum: in code points. */
const codePoints = (s: string) => [...s].length;

/** Invalid UTF-8: stray continuation, truncated sequences, overlong forms, encoded surrogates, > U+10FFFF. */
const invalidUtf8 = fc.constantFrom(
  [0x80],
  [0xbf],
  [0xc3],
  [0xc3, 0x28],
  [0xe2, 0x82],
  [0xf0, 0x9f, 0x92],
  [0xc0, 0xaf],
  [0xe0, 0x80, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xfe],
  [0xff],
);

/** `text` with `bad` bytes put inside the value of `field` (a string value in the JSON text). */
function injectBytes(text: string, field: string, bad: readonly number[], at: number): Buffer {
  const marker = `"${field}":"`;
  const start = text.indexOf(marker) + marker.length;
  const end = text.indexOf('"', start);
  const cut = start + (at % (end - start + 1));
  return Buffer.concat([utf8(text.slice(0, cut)), Buffer.from(bad), utf8(text.slice(cut))]);
}

/** Nested JSON text of `depth` levels: arrays, objects or both. */
function nested(depth: number, kind: "array" | "object" | "mixed"): string {
  const open = kind === "array" ? "[" : kind === "object" ? '{"a":' : '[{"a":';
  const close = kind === "array" ? "]" : kind === "object" ? "}" : "}]";
  const levels = kind === "mixed" ? Math.ceil(depth / 2) : depth;
  return open.repeat(levels) + "1" + close.repeat(levels);
}
// 10,000 levels always, plus anything past the limit that fits in the body limit.
const deepJson = fc.oneof(
  fc.constant(nested(10_000, "array")),
  fc.integer({ min: MAX_JSON_DEPTH + 1, max: 20_000 }).map((d) => nested(d, "array")),
  fc.integer({ min: MAX_JSON_DEPTH + 1, max: 9_000 }).map((d) => nested(d, "object")),
  fc.integer({ min: MAX_JSON_DEPTH + 1, max: 12_000 }).map((d) => nested(d, "mixed")),
);

/** JSON literals that are never a valid value of the field in question (see each use). */
const literal = (values: readonly string[], extra: fc.Arbitrary<string> = fc.constantFrom(...values)) => fc.oneof(fc.constantFrom(...values), extra);
const NOT_A_NUMBER = ['"NaN"', '"Infinity"', '"-Infinity"', '"1e400"', '"100"', "null", "true", "[]", "{}", '""'];
const negative = fc.oneof(fc.integer({ max: -1 }).map(String), fc.double({ max: -Number.MIN_VALUE, noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)));
const fraction = fc.tuple(fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 1, max: 999_999 })).map(([i, f]) => `${i}.${String(f).padStart(6, "0")}1`);
const beyondSafe = fc.bigInt({ min: 2n ** 53n + 1n, max: 10n ** 30n }).map(String);
/** Payme's Amount: a positive integer of tiyin within 2^53 (docs/protocols/payme.md#money). */
const badPaymeAmount = literal(
  ["1e400", "-1e400", "-0", "0", "9007199254740993", "1e21", "123456789012345678901234567890", "0.5", "1.0000001", "-1", "1e-400", ...NOT_A_NUMBER],
  fc.oneof(negative, fraction, beyondSafe),
);
/** A Payme Timestamp: a non-negative integer of ms within 2^53. */
const badTimestamp = literal(["1e400", "-1", "0.5", "9007199254740993", "1e21", ...NOT_A_NUMBER], fc.oneof(negative, fraction, beyondSafe));
/** A Payram amount: a non-negative decimal, number or string, exact in the currency (USD: 2 places), within 2^53 minor units. */
const badPayramAmount = literal(
  ["1e400", "-1e400", "-1", "-100.5", "90071992547409.93", "1e21", "123456789012345678901234567890", "0.001", "0.000000001", '"NaN"', '"Infinity"', '"-5"', '"-0"', '"1e400"', '"0x10"', '"1,5"', '"١٢٣"', '"+5"', '""', '"1.001"', `"${"9".repeat(65)}"`, "true", "[]", "{}"],
  fc.oneof(negative, fraction, beyondSafe, fraction.map((f) => JSON.stringify(f)), negative.map((n) => JSON.stringify(n))),
);
/** Stripe-style minor units: a non-negative integer within 2^53. */
const badMinorUnits = literal(["1e400", "-1", "0.5", "9007199254740993", "1e21", '"100"', "null", "true", "[]", "{}"], fc.oneof(negative, fraction, beyondSafe));
/** RoboKassa OutSum: a decimal string as RoboKassa writes it (up to 15 digits, 8 places). */
const badOutSum = fc.oneof(
  fc.constantFrom("1e400", "-5", "-0", "NaN", "Infinity", "1.123456789", "1234567890123456", "", " 5", "5 ", "0x10", "١٢٣", "1,5", "+5", ".5", "5.", "1e3", "5\u0000", "５"),
  fc.integer({ max: -1 }).map(String),
  fc.tuple(fc.integer({ min: 0, max: 1000 }), fc.stringMatching(/^\d{9,20}$/)).map(([i, f]) => `${i}.${f}`),
);
const badInvId = fc.oneof(
  fc.constantFrom("-1", "1.5", "1e3", "12345678901234567890", "٣", "0x1", " 1", "1 ", "+1", "", "1\u0000", "１"),
  weirdString.filter((s) => !/^\d{1,19}$/.test(s)),
);

// ---------------------------------------------------------------------------------------------

describe("random bytes, unsigned, any content type", () => {
  const randomBody = fc.record({ body: fc.uint8Array({ maxLength: 4096 }), type: contentTypes });

  it(`payme: -32700 for non-JSON, -32504 for JSON without auth, garbage Authorization too (${RUNS} runs)`, () =>
    run(
      fc.asyncProperty(randomBody, fc.option(headerText(300), { nil: undefined }), async ({ body, type }, authorization) => {
        const reply = await send({ path: PAYME_PATH, body, headers: { ...(type !== undefined ? { "content-type": type } : {}), ...(authorization !== undefined ? { authorization } : {}) } });
        let json = true;
        try {
          JSON.parse(strictUtf8.decode(body));
        } catch {
          json = false;
        }
        expectPaymeError(reply, json ? [-32504, -32600] : [-32700]);
      }),
    ));

  it(`payram: 401 whatever the body and the credentials (${RUNS} runs)`, () =>
    run(
      fc.asyncProperty(randomBody, fc.constantFrom("none", "signature", "api-key"), headerText(200), async ({ body, type }, cred, junk) => {
        const headers: Record<string, string> = type !== undefined ? { "content-type": type } : {};
        if (cred === "signature") headers["x-payram-signature"] = junk;
        if (cred === "api-key" && junk !== "") headers["api-key"] = junk;
        expectJsonError(await send({ path: PAYRAM_PATH, body, headers }), [401]);
      }),
    ));

  it(`payram: an X-Webhook-Test ping is 200 without credentials and 401 with wrong ones, never a job (${RUNS} runs)`, () =>
    run(
      fc.asyncProperty(randomBody, fc.option(headerText(100), { nil: undefined }), async ({ body }, apiKey) => {
        const wrongKey = apiKey !== undefined && apiKey !== "";
        const reply = await send({ path: PAYRAM_PATH, body, headers: { "x-webhook-test": "true", ...(wrongKey ? { "api-key": apiKey } : {}) } });
        if (wrongKey) return void expectJsonError(reply, [401]);
        expectWellFormed(reply);
        expect(reply.status).toBe(200);
        expect(JSON.parse(reply.body.toString("utf8"))).toEqual({ message: "Test webhook received" });
      }),
    ));

  it(`payske: 400 whatever the body and the Payske-Signature (${RUNS} runs)`, () =>
    run(
      fc.asyncProperty(
        randomBody,
        fc.oneof(headerText(300), fc.tuple(fc.integer(), fc.stringMatching(/^[0-9a-f]{0,64}$/)).map(([t, v]) => `t=${t},v1=${v}`)),
        async ({ body, type }, signature) => {
          const headers: Record<string, string> = { "payske-signature": signature, ...(type !== undefined ? { "content-type": type } : {}) };
          expectJsonError(await send({ path: PAYSKE_PATH, body, headers }), [400]);
        },
      ),
    ));

  it(`robokassa: 400 for a random POST body or GET query, never OK (${RUNS} runs)`, () =>
    run(
      fc.asyncProperty(randomBody, fc.boolean(), async ({ body, type }, get) => {
        const reply = get
          ? await send({ method: "GET", path: `${ROBOKASSA_PATH}?${encodeURIComponent(Buffer.from(body).toString("latin1")).replace(/%3D/g, "=").replace(/%26/g, "&")}` })
          : await send({ path: ROBOKASSA_PATH, body, headers: type !== undefined ? { "content-type": type } : {} });
        expectRobokassaRefusal(reply);
      }),
    ));

  it(`robokassa success/fail pages: HTML, 200 or 400, never a 5xx (${RUNS} runs)`, () =>
    run(
      fc.asyncProperty(fc.constantFrom("success", "fail"), fc.dictionary(shortWeirdString, shortWeirdString, { maxKeys: 6 }), async (page, params) => {
        const reply = await send({ method: "GET", path: `/webhooks/robokassa/${page}?${new URLSearchParams(params).toString()}` });
        expectWellFormed(reply);
        expect([200, 400]).toContain(reply.status);
        expect(reply.headers["content-type"]).toMatch(/^text\/html/);
      }),
    ));

  it(`other methods: Payme -32300, RoboKassa 405, Payram/Payske/Stripe 405 with Allow: POST (${RUNS} runs)`, () =>
    run(
      fc.asyncProperty(
        fc.constantFrom(PAYME_PATH, PAYRAM_PATH, PAYSKE_PATH, STRIPE_PATH, ROBOKASSA_PATH),
        fc.constantFrom("GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"),
        fc.uint8Array({ maxLength: 512 }),
        async (path, method, body) => {
          if (path === ROBOKASSA_PATH && (method === "GET" || method === "HEAD")) return; // ResultURL may be GET (tested above)
          const reply = await send({ method, path, body: method === "GET" || method === "HEAD" ? new Uint8Array(0) : body });
          if (method === "HEAD") return void expect(reply.status).toBeLessThan(500);
          if (path === PAYME_PATH) expectPaymeError(reply, [-32300], null);
          else if (path === ROBOKASSA_PATH) expectRobokassaRefusal(reply, [405]);
          else {
            expectJsonError(reply, [405]);
            expect(reply.headers["allow"]).toBe("POST");
          }
        },
      ),
    ));
});

describe("truncated valid bodies", () => {
  it(`payme: a signed call cut anywhere is -32700 (${RUNS} runs)`, () =>
    run(
      fc.asyncProperty(fc.nat(), async (at) => {
        const full = utf8(paymeCallBody());
        const body = full.subarray(0, at % full.length);
        expectPaymeError(await send({ path: PAYME_PATH, body, headers: paymeSigned }), [-32700], null);
      }),
    ));

  it(`payram: cut anywhere, signed over the whole body (401) or over the cut (200, one job to quarantine) (${RUNS} runs)`, () =>
    run(
      fc.asyncProperty(fc.nat(), fc.boolean(), async (at, signCut) => {
        const full = utf8(payramNotification({ reference_id: "ref-€-truncated" }));
        const body = full.subarray(0, at % full.length);
        const reply = await send({ path: PAYRAM_PATH, body, headers: payramHeaders(signCut ? body : full) });
        if (!signCut) return void expect(expectJsonError(reply, [401])).toBe("no_matching_signature");
        expect(reply.status).toBe(200);
        await expectJobAndDrop(QUEUES.payram, bodyJobId("payram", body));
      }),
    ));

  it(`payske: cut anywhere, signed over the whole body (400) or over the cut (200, one job to quarantine) (${RUNS} runs)`, () =>
    run(
      fc.asyncProperty(fc.nat(), fc.boolean(), async (at, signCut) => {
        const full = utf8(payskeEvent({ type: "payment_intent.succeeded€" }));
        const body = full.subarray(0, at % full.length);
        const reply = await send({ path: PAYSKE_PATH, body, headers: payskeHeaders(signCut ? body : full) });
        if (!signCut) return void expect(expectJsonError(reply, [400])).toBe("no_matching_signature");
        expect(reply.status).toBe(200);
        await expectJobAndDrop(QUEUES.payske, bodyJobId("payske", body));
      }),
    ));

  it(`robokassa: a signed notice cut anywhere is 400 (${RUNS} runs)`, () =>
    run(
      fc.asyncProperty(fc.nat(), fc.boolean(), async (at, get) => {
        const full = robokassaForm(robokassaParams());
        const cut = full.slice(0, at % full.length);
        const reply = get ? await send({ method: "GET", path: `${ROBOKASSA_PATH}?${cut}` }) : await send({ path: ROBOKASSA_PATH, body: utf8(cut), headers: FORM });
        expectRobokassaRefusal(reply);
      }),
    ));
});

describe(`oversized bodies (BODY_LIMIT ${BODY_LIMIT} bytes)`, () => {
  const oversized = fc.record({
    size: fc.integer({ min: BODY_LIMIT + 1, max: 3 * BODY_LIMIT }),
    chunked: fc.boolean(),
    signed: fc.boolean(),
  });
  /** A valid body padded past the limit with a long string field, signed when asked. */
  const padded = (base: string, size: number) => utf8(`${base.slice(0, -1)},"pad":"${"x".repeat(size)}"}`);
  const runs = Math.ceil(RUNS / 2);

  it(`payme: -32600 in HTTP 200, also chunked and authenticated (${runs} runs)`, () =>
    run(
      fc.asyncProperty(oversized, async ({ size, chunked, signed }) => {
        const reply = await send({ path: PAYME_PATH, body: padded(paymeCallBody(), size), chunked, headers: signed ? paymeSigned : {} });
        expectPaymeError(reply, [-32600], null);
      }),
      runs,
    ));

  it.each([
    ["payram", PAYRAM_PATH, (b: Buffer) => payramHeaders(b), payramNotification()],
    ["payske", PAYSKE_PATH, (b: Buffer) => payskeHeaders(b), payskeEvent()],
    ["stripe", STRIPE_PATH, (b: Buffer) => stripeHeaders(b), payskeEvent()],
    ["robokassa", ROBOKASSA_PATH, () => FORM, ""],
  ] as const)(`%s: 413 payload_too_large, also chunked and signed (${runs} runs)`, (name, path, sign, base) =>
    run(
      fc.asyncProperty(oversized, async ({ size, chunked, signed }) => {
        const body = name === "robokassa" ? utf8(`${robokassaForm(robokassaParams())}&pad=${"x".repeat(size)}`) : padded(base, size);
        const reply = await send({ path, body, chunked, headers: signed ? sign(body) : { "content-type": "application/json" } });
        expect(reply.status).toBe(413);
        if (name === "robokassa") expectRobokassaRefusal(reply, [413]);
        else expect(expectJsonError(reply, [413])).toBe("payload_too_large");
      }),
      runs,
    ));

  it(`every route: a gzip bomb that inflates past the limit is refused like any oversized body (${runs} runs)`, () =>
    run(
      fc.asyncProperty(fc.constantFrom(PAYME_PATH, PAYRAM_PATH, PAYSKE_PATH, STRIPE_PATH, ROBOKASSA_PATH, ...CLICK_PATHS), fc.integer({ min: BODY_LIMIT + 1, max: 64 * BODY_LIMIT }), async (path, size) => {
        const body = gzipSync(Buffer.alloc(size, 0x20));
        const reply = await send({ path, body, headers: { "content-type": "application/json", "content-encoding": "gzip" } });
        if (path === PAYME_PATH) expectPaymeError(reply, [-32600], null);
        else if (path === ROBOKASSA_PATH) expectRobokassaRefusal(reply, [413]);
        else if ((CLICK_PATHS as readonly string[]).includes(path)) expectClickError(reply, [-8], [413]);
        else expectJsonError(reply, [413]);
      }),
      runs,
    ));
});

describe("wrong content types and content encodings", () => {
  const encodings = fc.option(
    fc.oneof(fc.constantFrom("identity", "gzip", "deflate", "br", "compress", "x-fuzz", "gzip, gzip", "GZIP", "*"), headerText(40)),
    { nil: undefined },
  );
  it.each([
    ["payme", PAYME_PATH],
    ["payram", PAYRAM_PATH],
    ["payske", PAYSKE_PATH],
    ["stripe", STRIPE_PATH],
    ["robokassa", ROBOKASSA_PATH],
    ["click", "/webhooks/click"],
  ] as const)(`%s: an unsigned body under any Content-Type / Content-Encoding is refused in dialect (${RUNS} runs)`, (name, path) =>
    run(
      fc.asyncProperty(contentTypes, encodings, fc.boolean(), async (type, encoding, compress) => {
        const plain = utf8(
          name === "payme"
            ? paymeCallBody()
            : name === "payram"
              ? payramNotification()
              : name === "payske" || name === "stripe"
                ? payskeEvent()
                : name === "click"
                  ? clickForm(clickFields({ sign_string: "0".repeat(32) }))
                  : robokassaForm({ ...robokassaParams(), SignatureValue: "0".repeat(32) }),
        );
        // A real gzip body under a gzip label is read; anything else under a compression label is corrupt.
        const body = compress && encoding?.toLowerCase() === "gzip" ? gzipSync(plain) : plain;
        const headers: Record<string, string> = { ...(type !== undefined ? { "content-type": type } : {}), ...(encoding !== undefined ? { "content-encoding": encoding } : {}) };
        const reply = await send({ path, body, headers });
        if (name === "payme") expectPaymeError(reply, [-32504, -32600]);
        else if (name === "robokassa") expectRobokassaRefusal(reply, [400, 415]);
        else if (name === "click") expectClickError(reply, undefined, [200, 400, 415]);
        else expectJsonError(reply, name === "payram" ? [400, 401, 415] : [400, 415]);
      }),
    ));
});

describe("huge headers", () => {
  // Node's limit is 16 KiB for the whole header block: past it Node answers 431 itself (and may
  // reset the socket before the answer is read); below it the route refuses as usual.
  const sizes = fc.integer({ min: 8 * 1024, max: 24 * 1024 });
  const runs = Math.ceil(RUNS / 2);
  const cases = [
    ["payme", "authorization", PAYME_PATH, (n: number) => `Basic ${Buffer.from(`Paycom:${"k".repeat(n)}`).toString("base64").slice(0, n)}`],
    ["payram", "x-payram-signature", PAYRAM_PATH, (n: number) => `sha256=${"a".repeat(n)}`],
    ["payram", "api-key", PAYRAM_PATH, (n: number) => "k".repeat(n)],
    ["payske", "payske-signature", PAYSKE_PATH, (n: number) => `t=${nowS()},${"v1=00,".repeat(Math.floor(n / 6))}`],
    ["robokassa", "cookie", ROBOKASSA_PATH, (n: number) => `c=${"x".repeat(n)}`],
  ] as const;

  it.each(cases)(`%s: a %s header of 8–24 KiB is refused in dialect or with Node's 431, and the process survives (${runs} runs)`, async (name, header, path, value) => {
    const seen = { answered: 0, refusedByNode: 0 };
    await run(
      fc.asyncProperty(sizes, async (size) => {
        const body = utf8(name === "payme" ? paymeCallBody() : name === "robokassa" ? robokassaForm({ ...robokassaParams(), SignatureValue: "0".repeat(32) }) : name === "payram" ? payramNotification() : payskeEvent());
        let reply: Reply;
        try {
          reply = await send({ path, body, headers: { [header]: value(size), ...(name === "robokassa" ? FORM : {}) }, ownSocket: true });
        } catch (err) {
          // Node may reset the connection while the client still writes: only past the limit.
          expect(size).toBeGreaterThan(16 * 1024 - 200);
          expect((err as NodeJS.ErrnoException).code).toMatch(/^(ECONNRESET|EPIPE)$/);
          seen.refusedByNode++;
          return;
        }
        if (reply.status === 431) {
          seen.refusedByNode++;
          return void expect(size).toBeGreaterThan(16 * 1024 - 1024);
        }
        expect(size).toBeLessThan(16 * 1024);
        seen.answered++;
        if (name === "payme") expectPaymeError(reply, [-32504], 7);
        else if (name === "payram") expectJsonError(reply, [401]);
        else if (name === "payske") expectJsonError(reply, [400]);
        else expectRobokassaRefusal(reply);
      }),
      runs,
    );
    // Both sides of the limit were exercised.
    expect(seen.answered).toBeGreaterThan(0);
    expect(seen.refusedByNode).toBeGreaterThan(0);
  });
});

describe(`deeply nested JSON (past MAX_JSON_DEPTH = ${MAX_JSON_DEPTH}, up to 20,000 levels)`, () => {
  const runs = Math.ceil(RUNS / 2);

  it(`payme: as the whole body or inside an authenticated call's params: -32600, no job (${runs} runs)`, () =>
    run(
      fc.asyncProperty(deepJson, fc.boolean(), fc.boolean(), async (deep, whole, signed) => {
        const body = utf8(whole ? deep : paymeCallBody().replace('"order_id":"1001"', `"order_id":"1001","deep":${deep}`));
        const reply = await send({ path: PAYME_PATH, body, headers: signed ? paymeSigned : { "content-type": "application/json" } });
        expectPaymeError(reply, [-32600], whole ? null : 7);
      }),
      runs,
    ));

  it(`payram: signed, as the whole body or in an extra field: 200 and one job holding the bytes (${runs} runs)`, () =>
    run(
      fc.asyncProperty(deepJson, fc.boolean(), async (deep, whole) => {
        const body = utf8(whole ? deep : payramNotification().replace(/}$/, `,"extra":${deep}}`));
        expect((await send({ path: PAYRAM_PATH, body, headers: payramHeaders(body) })).status).toBe(200);
        await expectUnreadableJob(QUEUES.payram, bodyJobId("payram", body), body, "json_too_deep");
      }),
      runs,
    ));

  it(`payske: signed, as the whole body or inside data.object: 200 and one job holding the bytes (${runs} runs)`, () =>
    run(
      fc.asyncProperty(deepJson, fc.boolean(), async (deep, whole) => {
        const body = utf8(whole ? deep : payskeEvent({}, { metadata: { order_id: "ord-1" }, deep: "__DEEP__" }).replace('"__DEEP__"', deep));
        expect((await send({ path: PAYSKE_PATH, body, headers: payskeHeaders(body) })).status).toBe(200);
        await expectUnreadableJob(QUEUES.payske, bodyJobId("payske", body), body, "json_too_deep");
      }),
      runs,
    ));

  it(`robokassa: nested JSON or a[a][a]… form names: 400 (${runs} runs)`, () =>
    run(
      fc.asyncProperty(deepJson, fc.integer({ min: 100, max: 5_000 }), async (deep, depth) => {
        expectRobokassaRefusal(await send({ path: ROBOKASSA_PATH, body: utf8(deep), headers: { "content-type": "application/json" } }));
        const form = `a${"[a]".repeat(depth)}=1&OutSum=1&InvId=1&SignatureValue=00`;
        expectRobokassaRefusal(await send({ path: ROBOKASSA_PATH, body: utf8(form), headers: FORM }));
      }),
      runs,
    ));
});

describe("invalid UTF-8 inside otherwise valid JSON, correctly signed over the raw bytes", () => {
  const input = fc.record({ bad: invalidUtf8, at: fc.nat() });

  it(`payme: -32700 (JSON must be UTF-8), also authenticated; no job (${RUNS} runs)`, () =>
    run(
      fc.asyncProperty(input, fc.boolean(), async ({ bad, at }, signed) => {
        const body = injectBytes(paymeCallBody(), "order_id", bad, at);
        expectPaymeError(await send({ path: PAYME_PATH, body, headers: signed ? paymeSigned : {} }), [-32700], null);
      }),
    ));

  it(`payram: the signed body is acknowledged as one job under its bytes' name (kept in base64), 401 unsigned (${RUNS} runs)`, () =>
    run(
      fc.asyncProperty(input, fc.constantFrom("reference_id", "status", "currency"), async ({ bad, at }, field) => {
        const body = injectBytes(payramNotification(), field, bad, at);
        expect((await send({ path: PAYRAM_PATH, body, headers: payramHeaders(body) })).status).toBe(200);
        await expectUnreadableJob(QUEUES.payram, bodyJobId("payram", body), body);
        expectJsonError(await send({ path: PAYRAM_PATH, body, headers: payramHeaders(utf8(payramNotification())) }), [401]);
      }),
    ));

  it(`payske: the signed body is acknowledged as one job under its bytes' name (kept in base64) (${RUNS} runs)`, () =>
    run(
      fc.asyncProperty(input, fc.constantFrom("id", "type", "order_id"), async ({ bad, at }, field) => {
        const body = injectBytes(payskeEvent(), field, bad, at);
        expect((await send({ path: PAYSKE_PATH, body, headers: payskeHeaders(body) })).status).toBe(200);
        await expectUnreadableJob(QUEUES.payske, bodyJobId("payske", body), body);
      }),
    ));

  it(`robokassa: raw invalid UTF-8 in the form body is refused, never OK; no job (${RUNS} runs)`, () =>
    run(
      fc.asyncProperty(input, async ({ bad, at }) => {
        const text = robokassaForm(robokassaParams());
        const cut = text.indexOf("Shp_order_id=") + "Shp_order_id=".length + (at % 5);
        const body = Buffer.concat([utf8(text.slice(0, cut)), Buffer.from(bad), utf8(text.slice(cut))]);
        expectRobokassaRefusal(await send({ path: ROBOKASSA_PATH, body, headers: FORM }));
      }),
    ));
});

describe("numbers out of range, unsigned and correctly signed", () => {
  const paymeFields = fc.oneof(
    badPaymeAmount.map((v) => ({ field: "amount", body: `{"method":"CheckPerformTransaction","params":{"amount":${v},"account":{"order_id":"1001"}},"id":7}` })),
    badPaymeAmount.map((v) => ({ field: "amount", body: `{"method":"CreateTransaction","params":{"id":"5305e3bab097f420a62ced0b","time":1700000000000,"amount":${v},"account":{"order_id":"1001"}},"id":7}` })),
    badTimestamp.map((v) => ({ field: "time", body: `{"method":"CreateTransaction","params":{"id":"5305e3bab097f420a62ced0b","time":${v},"amount":500000,"account":{"order_id":"1001"}},"id":7}` })),
    badTimestamp.map((v) => ({ field: "from", body: `{"method":"GetStatement","params":{"from":${v},"to":1700000000000},"id":7}` })),
    literal(["0", "6", "9", "11", "4.5", "1e400", "-4", ...NOT_A_NUMBER]).map((v) => ({ field: "reason", body: `{"method":"CancelTransaction","params":{"id":"5305e3bab097f420a62ced0b","reason":${v}},"id":7}` })),
  );

  it(`payme: authenticated → -32600 naming the field, unauthenticated → -32504; no job (${RUNS} runs)`, () =>
    run(
      fc.asyncProperty(paymeFields, fc.boolean(), async ({ field, body }, signed) => {
        const reply = await send({ path: PAYME_PATH, body: utf8(body), headers: signed ? paymeSigned : {} });
        const answer = expectPaymeError(reply, [signed ? -32600 : -32504], 7);
        if (signed) expect(answer.error.data).toBe(field);
      }),
    ));

  it(`payme: ChangePassword with a password that is not a non-blank string → -31050 "password", the key unchanged (${RUNS} runs)`, () =>
    run(
      fc.asyncProperty(fc.oneof(badPaymeAmount.filter((v) => !v.startsWith('"') || v === '""'), fc.constantFrom('"   "', '"\\t\\n"')), async (password) => {
        const reply = await send({ path: PAYME_PATH, body: utf8(`{"method":"ChangePassword","params":{"password":${password}},"id":7}`), headers: paymeSigned });
        expect(expectPaymeError(reply, [-31050], 7).error.data).toBe("password");
      }),
    ).then(async () => {
      // PAYME_KEY still authenticates: nothing above changed it.
      expectPaymeError(await send({ path: PAYME_PATH, body: utf8(paymeCallBody({ method: "NoSuchMethod" })), headers: paymeSigned }), [-32601], 7);
    }));

  const payramFields = fc.oneof(
    fc.tuple(fc.constantFrom("amount", "filled_amount", "filled_amount_in_usd"), badPayramAmount),
    fc.tuple(fc.constant("timestamp"), literal(["1e400", "-1", "1.5", "253402300800", '"123456789012"', '"-1"', '"1.5"', "true", "[]"])),
  );

  it(`payram: signed → 200 and one job for the worker to quarantine (never a refusal Payram retries), unsigned → 401 and no job (${RUNS} runs)`, () =>
    run(
      fc.asyncProperty(payramFields, fc.boolean(), async ([field, value], signed) => {
        const text = payramNotification().replace(/}$/, `,"${field}":${value}}`);
        const body = utf8(text);
        const reply = await send({ path: PAYRAM_PATH, body, headers: signed ? payramHeaders(body) : { "content-type": "application/json" } });
        if (!signed) return void expect(expectJsonError(reply, [401])).toBe("missing_header");
        expectWellFormed(reply);
        expect(reply.status).toBe(200);
        await expectJobAndDrop(QUEUES.payram, bodyJobId("payram", text));
      }),
    ));

  const payskeFields = fc.oneof(
    literal(["1e400", "-1", "1.5", "253402300800", "9007199254740993", '"1700000000"', "null", "true"]).map((v) => ({ top: { created: v }, object: {} })),
    literal(['"true"', "1", "null", '"yes"']).map((v) => ({ top: { livemode: v }, object: {} })),
    badMinorUnits.map((v) => ({ top: {}, object: { amount: v } })),
    badMinorUnits.filter((v) => v !== "null").map((v) => ({ top: {}, object: { amount_received: v } })),
    literal(['"us"', '"dollars"', '""', "1", '"€€€"']).map((v) => ({ top: {}, object: { currency: v } })),
  );

  it(`payske: signed → 200 and one job for the worker to quarantine, unsigned → 400 and no job (${RUNS} runs)`, () =>
    run(
      fc.asyncProperty(payskeFields, fc.boolean(), async ({ top, object }, signed) => {
        // Overriding keys are appended: JSON.parse keeps the last occurrence.
        let text = payskeEvent();
        for (const [k, v] of Object.entries(object)) text = text.replace('"metadata":', `"${k}":${v},"metadata":`);
        for (const [k, v] of Object.entries(top)) text = text.replace(/}$/, `,"${k}":${v}}`);
        const body = utf8(text);
        const reply = await send({ path: PAYSKE_PATH, body, headers: signed ? payskeHeaders(body) : { "content-type": "application/json" } });
        if (!signed) return void expect(expectJsonError(reply, [400])).toBe("missing_header");
        expectWellFormed(reply);
        expect(reply.status).toBe(200);
        await expectJobAndDrop(QUEUES.payske, "payske-evt_fuzz0001");
      }),
    ));

  it(`robokassa: a signed OutSum / InvId that is not a plain decimal → 400, never OK; no job (${RUNS} runs)`, () =>
    run(
      fc.asyncProperty(fc.oneof(badOutSum.map((OutSum) => ({ OutSum })), badInvId.map((InvId) => ({ InvId }))), fc.boolean(), async (over, get) => {
        const form = robokassaForm(robokassaParams(over));
        const reply = get && form.length < 8000 ? await send({ method: "GET", path: `${ROBOKASSA_PATH}?${form}` }) : await send({ path: ROBOKASSA_PATH, body: utf8(form), headers: FORM });
        expectRobokassaRefusal(reply);
      }),
    ));
});

describe("unicode, control characters and very long strings in ids", () => {
  it(`payme: any request id is echoed as sent; an unknown method is -32601 naming it; a long transaction id -32600 (${RUNS} runs)`, () =>
    run(
      fc.asyncProperty(weirdString, weirdString, fc.string({ minLength: 65, maxLength: 3000 }), async (id, method, longId) => {
        expectPaymeError(await send({ path: PAYME_PATH, body: utf8(paymeCallBody({ id })) }), [-32504], id);
        const unknown = await send({ path: PAYME_PATH, body: utf8(paymeCallBody({ id, method: `x${method}` })), headers: paymeSigned });
        expect(expectPaymeError(unknown, [-32601], id).error.data).toBe(`x${method}`);
        const long = await send({ path: PAYME_PATH, body: utf8(JSON.stringify({ method: "PerformTransaction", params: { id: longId }, id })), headers: paymeSigned });
        expect(expectPaymeError(long, [-32600], id).error.data).toBe("id");
      }),
    ));

  it(`payram: a signed reference_id of 1–256 code points is accepted under a safe job id, a longer one under its body's (${RUNS} runs)`, () =>
    run(
      fc.asyncProperty(fc.oneof(weirdString, fc.string({ minLength: 257, maxLength: 600 })), fc.option(weirdString, { nil: undefined }), async (referenceId, status) => {
        const text = payramNotification({ reference_id: referenceId, ...(status !== undefined ? { status: status.slice(0, 64) } : {}) });
        const body = utf8(text);
        const reply = await send({ path: PAYRAM_PATH, body, headers: payramHeaders(body) });
        expectWellFormed(reply);
        expect(reply.status).toBe(200);
        const jobId = codePoints(referenceId) > 256 ? bodyJobId("payram", text) : payramJobId(parsePayramNotification(JSON.parse(text)));
        await expectJobAndDrop(QUEUES.payram, jobId);
      }),
    ));

  it(`payske: a signed event id outside [A-Za-z0-9_]{1,255} is queued under its body's job id; any type is accepted (${RUNS} runs)`, () =>
    run(
      fc.asyncProperty(weirdString.filter((s) => !/^[A-Za-z0-9_]{1,255}$/.test(s)), weirdString, async (id, type) => {
        const badText = payskeEvent({ id });
        const bad = utf8(badText);
        const badReply = await send({ path: PAYSKE_PATH, body: bad, headers: payskeHeaders(bad) });
        expectWellFormed(badReply);
        expect(badReply.status).toBe(200);
        await expectJobAndDrop(QUEUES.payske, bodyJobId("payske", badText));
        const typed = utf8(payskeEvent({ type }));
        const reply = await send({ path: PAYSKE_PATH, body: typed, headers: payskeHeaders(typed) });
        expectWellFormed(reply);
        expect(reply.status).toBe(200);
        await expectJobAndDrop(QUEUES.payske, "payske-evt_fuzz0001");
      }),
    ));

  it(`robokassa: a signed InvId that is not digits is 400; any signed Shp_ value is OK{InvId} under robokassa-live-{InvId} (${RUNS} runs)`, () =>
    run(
      fc.asyncProperty(weirdString.filter((s) => !/^\d{1,19}$/.test(s)), weirdString, fc.boolean(), async (invId, shp, get) => {
        // A GET past Node's 16 KiB header limit would be a 431: long ones go as POST.
        const post = (form: string) => (get && form.length < 8000 ? send({ method: "GET", path: `${ROBOKASSA_PATH}?${form}` }) : send({ path: ROBOKASSA_PATH, body: utf8(form), headers: FORM }));
        expectRobokassaRefusal(await post(robokassaForm(robokassaParams({ InvId: invId }))));
        const reply = await post(robokassaForm(robokassaParams({ Shp_order_id: shp, InvId: "777" })));
        expectWellFormed(reply);
        expect(reply.status).toBe(200);
        expect(reply.body.toString("utf8")).toBe("OK777");
        await expectJobAndDrop(QUEUES.robokassa, robokassaJobId({ invId: "777", livemode: true }));
      }),
    ));
});

describe("Stripe at /webhooks/stripe: Payske's scheme under its own header, secret and id", () => {
  const randomBody = fc.record({ body: fc.uint8Array({ maxLength: 4096 }), type: contentTypes });

  it(`400 whatever the body and the Stripe-Signature (${RUNS} runs)`, () =>
    run(
      fc.asyncProperty(
        randomBody,
        fc.oneof(headerText(300), fc.tuple(fc.integer(), fc.stringMatching(/^[0-9a-f]{0,64}$/)).map(([t, v]) => `t=${t},v1=${v}`)),
        async ({ body, type }, signature) => {
          const headers: Record<string, string> = { "stripe-signature": signature, ...(type !== undefined ? { "content-type": type } : {}) };
          expectJsonError(await send({ path: STRIPE_PATH, body, headers }), [400]);
        },
      ),
    ));

  it(`a valid event signed under Payske-Signature, or by Payske's secret, is refused: 400, no job (${RUNS} runs)`, () =>
    run(
      fc.asyncProperty(fc.constantFrom("payske-header", "payske-secret"), fc.integer({ min: -250, max: 250 }), async (how, skew) => {
        const body = utf8(payskeEvent());
        const headers = how === "payske-header" ? payskeHeaders(body, nowS() + skew) : stripeHeaders(body, nowS() + skew, PAYSKE_SECRET);
        expect(expectJsonError(await send({ path: STRIPE_PATH, body, headers }), [400])).toBe(how === "payske-header" ? "missing_header" : "no_matching_signature");
      }),
    ));

  it(`signed → 200 and one job stripe-evt_… for the worker to quarantine, unsigned → 400 and no job (${RUNS} runs)`, () =>
    run(
      fc.asyncProperty(
        fc.oneof(badMinorUnits.map((v) => ({ amount: v })), literal(['"us"', '""', "1"]).map((v) => ({ currency: v }))),
        fc.boolean(),
        async (object, signed) => {
          let text = payskeEvent();
          for (const [k, v] of Object.entries(object)) text = text.replace('"metadata":', `"${k}":${v},"metadata":`);
          const body = utf8(text);
          const reply = await send({ path: STRIPE_PATH, body, headers: signed ? stripeHeaders(body) : { "content-type": "application/json" } });
          if (!signed) return void expect(expectJsonError(reply, [400])).toBe("missing_header");
          expectWellFormed(reply);
          expect(reply.status).toBe(200);
          expect(JSON.parse(reply.body.toString("utf8"))).toEqual({ received: true });
          await expectJobAndDrop(QUEUES.stripe, "stripe-evt_fuzz0001");
        },
      ),
    ));

  it(`cut anywhere, signed over the whole body (400) or over the cut (200, one job under its bytes' name) (${RUNS} runs)`, () =>
    run(
      fc.asyncProperty(fc.nat(), fc.boolean(), async (at, signCut) => {
        const full = utf8(payskeEvent({ type: "payment_intent.succeeded€" }));
        const body = full.subarray(0, at % full.length);
        const reply = await send({ path: STRIPE_PATH, body, headers: stripeHeaders(signCut ? body : full) });
        if (!signCut) return void expect(expectJsonError(reply, [400])).toBe("no_matching_signature");
        expect(reply.status).toBe(200);
        await expectJobAndDrop(QUEUES.stripe, bodyJobId("stripe", body));
      }),
    ));

  it(`signed invalid UTF-8 → 200, one job keeping the exact bytes in base64 (${Math.ceil(RUNS / 2)} runs)`, () =>
    run(
      fc.asyncProperty(invalidUtf8, fc.nat(), fc.constantFrom("id", "type", "order_id"), async (bad, at, field) => {
        const body = injectBytes(payskeEvent(), field, bad, at);
        expect((await send({ path: STRIPE_PATH, body, headers: stripeHeaders(body) })).status).toBe(200);
        await expectUnreadableJob(QUEUES.stripe, bodyJobId("stripe", body), body);
      }),
      Math.ceil(RUNS / 2),
    ));
});

describe("Click at /webhooks/click/prepare, /webhooks/click/complete and /webhooks/click", () => {
  const path = fc.constantFrom(...CLICK_PATHS);

  it(`random bytes, any content type: Click's JSON error < 0 in HTTP 200 (${RUNS} runs)`, () =>
    run(
      fc.asyncProperty(path, fc.uint8Array({ maxLength: 4096 }), contentTypes, async (p, body, type) => {
        expectClickError(await send({ path: p, body, headers: type !== undefined ? { "content-type": type } : {} }));
      }),
    ));

  it(`random form fields and JSON objects (unsigned): -8, -3 or -1, never a job (${RUNS} runs)`, () =>
    run(
      fc.asyncProperty(
        path,
        fc.dictionary(fc.constantFrom("click_trans_id", "service_id", "click_paydoc_id", "merchant_trans_id", "merchant_prepare_id", "amount", "action", "error", "sign_time", "sign_string", "x"), shortWeirdString, { maxKeys: 11 }),
        fc.boolean(),
        async (p, fields, json) => {
          const body = utf8(json ? JSON.stringify(fields) : new URLSearchParams(fields).toString());
          expectClickError(await send({ path: p, body, headers: json ? { "content-type": "application/json" } : FORM }), [-8, -3, -1]);
        },
      ),
    ));

  it(`well-formed requests with a garbled sign_string: -1, or -3 for an action the route does not take; the ids echoed (${RUNS} runs)`, () =>
    run(
      fc.asyncProperty(
        path,
        fc.constantFrom("0", "1", "2"),
        fc.oneof(fc.stringMatching(/^[0-9a-fA-F]{32}$/), fc.stringMatching(/^[0-9a-f]{1,31}$/), headerText(80).filter((s) => s !== "")),
        fc.stringMatching(/^\d{1,20}$/),
        fc.boolean(),
        async (p, action, sign, transId, json) => {
          const fields = clickFields({ action, sign_string: sign, click_trans_id: transId });
          const body = utf8(json ? JSON.stringify(fields) : clickForm(fields));
          const reply = await send({ path: p, body, headers: json ? { "content-type": "application/json" } : FORM });
          const expected = clickActions(p).includes(action) ? CLICK_ERRORS.SIGN_CHECK_FAILED : CLICK_ERRORS.ACTION_NOT_FOUND;
          expectClickError(reply, [expected]);
          expect(JSON.parse(reply.body.toString("utf8"))).toMatchObject({ merchant_trans_id: "ord-1" });
          // click_trans_id is echoed digit for digit (it may pass 2^53): a JSON number, or a string when it has a leading zero.
          expect(reply.body.toString("utf8")).toContain(`"click_trans_id":${/^(0|[1-9]\d*)$/.test(transId) ? transId : JSON.stringify(transId)}`);
        },
      ),
    ));

  it(`genuinely signed but for another service (-8), by another key (-1), or a Prepare announcing a failure (-9): no job (${RUNS} runs)`, () =>
    run(
      fc.asyncProperty(
        fc.oneof(
          fc.stringMatching(/^\d{1,20}$/).filter((id) => BigInt(id) !== BigInt(CLICK_SERVICE_ID)).map((service_id) => ({ over: { service_id }, key: CLICK_SECRET_KEY, code: -8 })),
          headerText(40).filter((k) => k !== "" && k !== CLICK_SECRET_KEY).map((key) => ({ over: {}, key, code: -1 })),
          fc.integer({ min: -9999, max: -1 }).map((e) => ({ over: { error: String(e) }, key: CLICK_SECRET_KEY, code: -9 })),
        ),
        async ({ over, key, code }) => {
          const fields = clickFields({ action: "0", ...over }, key);
          expectClickError(await send({ path: "/webhooks/click/prepare", body: utf8(clickForm(fields)), headers: FORM }), [code]);
        },
      ),
    ));

  it(`a signed request (for another service) cut anywhere: an error < 0, never a 5xx (${RUNS} runs)`, () =>
    run(
      fc.asyncProperty(path, fc.nat(), fc.constantFrom("0", "1"), async (p, at, action) => {
        const full = clickForm(clickFields({ action, service_id: "13579" }));
        expectClickError(await send({ path: p, body: utf8(full.slice(0, at % full.length)), headers: FORM }));
      }),
    ));

  it(`other methods → 405 with Click's -8 and Allow: POST; oversized → 413 with -8; a bad Content-Encoding → 415 or 400 with -8 (${Math.ceil(RUNS / 2)} runs)`, () =>
    run(
      fc.asyncProperty(
        path,
        fc.constantFrom("GET", "PUT", "DELETE", "PATCH", "OPTIONS"),
        fc.integer({ min: BODY_LIMIT + 1, max: 2 * BODY_LIMIT }),
        fc.boolean(),
        async (p, method, size, chunked) => {
          const notPost = await send({ method, path: p, body: method === "GET" ? new Uint8Array(0) : utf8(clickForm(clickFields())) });
          expectClickError(notPost, [-8], [405]);
          expect(notPost.headers["allow"]).toBe("POST");
          const big = await send({ path: p, body: utf8(`${clickForm(clickFields())}&pad=${"x".repeat(size)}`), chunked, headers: FORM });
          expectClickError(big, [-8], [413]);
          expectClickError(await send({ path: p, body: utf8(clickForm(clickFields())), headers: { ...FORM, "content-encoding": "x-fuzz" } }), [-8], [415]);
          expectClickError(await send({ path: p, body: Buffer.from("not gzip at all"), headers: { ...FORM, "content-encoding": "gzip" } }), [-8], [400]);
        },
      ),
      Math.ceil(RUNS / 2),
    ));
});

describe("regressions: what the properties above found (each was a 5xx, a -32400 or a job before)", () => {
  const corrupt = Buffer.from("this is not a compressed stream");

  it.each(["gzip", "deflate", "br"])("a body that does not inflate under Content-Encoding: %s is a 400 (was 500 internal_error; Payme -32400)", async (encoding) => {
    const headers = { "content-type": "application/json", "content-encoding": encoding };
    expect(expectJsonError(await send({ path: PAYRAM_PATH, body: corrupt, headers }), [400])).toBe("bad_request");
    expect(expectJsonError(await send({ path: PAYSKE_PATH, body: corrupt, headers }), [400])).toBe("bad_request");
    expect(expectJsonError(await send({ path: STRIPE_PATH, body: corrupt, headers }), [400])).toBe("bad_request");
    for (const path of CLICK_PATHS) expectClickError(await send({ path, body: corrupt, headers }), [-8], [400]);
    expectRobokassaRefusal(await send({ path: ROBOKASSA_PATH, body: corrupt, headers }), [400]);
    expectPaymeError(await send({ path: PAYME_PATH, body: corrupt, headers: { ...paymeSigned, "content-encoding": encoding } }), [-32600], null);
  });

  it("Payme: an unsupported Content-Encoding is -32600, not -32400 (a system error Payme retries)", async () => {
    expectPaymeError(await send({ path: PAYME_PATH, body: utf8(paymeCallBody()), headers: { ...paymeSigned, "content-encoding": "x-fuzz" } }), [-32600], null);
  });

  it("a verified body nested 10,000 levels deep is queued as bytes (Payram, Payske: 200) or -32600 (Payme) (was 503 unavailable: BullMQ's JSON.stringify overflowed the stack; Payme -32400)", async () => {
    const deep = nested(10_000, "array");
    const payram = utf8(payramNotification().replace(/}$/, `,"extra":${deep}}`));
    expect((await send({ path: PAYRAM_PATH, body: payram, headers: payramHeaders(payram) })).status).toBe(200);
    await expectUnreadableJob(QUEUES.payram, bodyJobId("payram", payram), payram, "json_too_deep");
    const payske = utf8(payskeEvent({}, { deep: "__DEEP__" }).replace('"__DEEP__"', deep));
    expect((await send({ path: PAYSKE_PATH, body: payske, headers: payskeHeaders(payske) })).status).toBe(200);
    await expectUnreadableJob(QUEUES.payske, bodyJobId("payske", payske), payske, "json_too_deep");
    const payme = utf8(paymeCallBody().replace('"order_id":"1001"', `"order_id":"1001","deep":${deep}`));
    expectPaymeError(await send({ path: PAYME_PATH, body: payme, headers: paymeSigned }), [-32600], 7);
  });

  it("a verified body with invalid UTF-8 in a string is queued as its exact bytes, never read with U+FFFD in place (it was, and queued as text)", async () => {
    const payske = injectBytes(payskeEvent({ type: "customer.created" }), "type", [0xff], 3);
    expect((await send({ path: PAYSKE_PATH, body: payske, headers: payskeHeaders(payske) })).status).toBe(200);
    await expectUnreadableJob(QUEUES.payske, bodyJobId("payske", payske), payske);
    const payram = injectBytes(payramNotification(), "reference_id", [0xc3, 0x28], 0);
    expect((await send({ path: PAYRAM_PATH, body: payram, headers: payramHeaders(payram) })).status).toBe(200);
    await expectUnreadableJob(QUEUES.payram, bodyJobId("payram", payram), payram);
    expectPaymeError(await send({ path: PAYME_PATH, body: injectBytes(paymeCallBody(), "order_id", [0xed, 0xa0, 0x80], 1), headers: paymeSigned }), [-32700], null);
  });

  it("Payme: an authenticated call with params of the wrong type is -32600 at once, with no job (was queued, then -32400 with no worker)", async () => {
    // A queued call would be answered -32400 here (no worker): -32600 shows the ingress answered it.
    const fraction = await send({ path: PAYME_PATH, body: utf8(paymeCallBody({ params: { amount: 0.5, account: { order_id: "1001" } } })), headers: paymeSigned });
    expect(expectPaymeError(fraction, [-32600], 7).error.data).toBe("amount");
    const long = await send({ path: PAYME_PATH, body: utf8(JSON.stringify({ method: "PerformTransaction", params: { id: "x".repeat(65) }, id: 8 })), headers: paymeSigned });
    expect(expectPaymeError(long, [-32600], 8).error.data).toBe("id");
  });

  it("Payske: a signed payment_intent.succeeded whose object has a negative amount is acknowledged as one job (the worker quarantines it; a 400 would make Payske retry for days)", async () => {
    const body = utf8(payskeEvent({}, { amount: -1 }));
    expect((await send({ path: PAYSKE_PATH, body, headers: payskeHeaders(body) })).status).toBe(200);
    await expectJobAndDrop(QUEUES.payske, "payske-evt_fuzz0001");
  });
});
