/**
 * The Payme module's ingress `accept`, pure: no HTTP, no Redis — a fake key store stands in for
 * the Redis-backed one. It checks the order of Payme's checks (docs/protocols/payme.md#order-of-checks):
 * -32700, -32600 (too deep), the allow-list, -32504, the JSON-RPC shape, ChangePassword answered
 * here, params errors; then the `call` a worker answers, and `answer(null)` → -32400.
 */
import { BlockList } from "node:net";
import { MAX_JSON_DEPTH, type IngressDecision, type IngressPart, type Logger, type WebhookReply, type WebhookRequest } from "@payhooks/core";
import { paymeModule } from "./module";
import { basicAuthorization, type PaymeKeys } from "./rpc";

const KEY = "payme-module-live-key";
const TEST_KEY = "payme-module-test-key";
const NOW = 1_700_000_000_000;
const silent = { warn() {}, info() {}, error() {}, debug() {} } as unknown as Logger;

/** The state `accept` is given, with an in-memory key store that records changes and can fail. */
function fakeState(options: { allowed?: string[]; keysFail?: boolean; changeFails?: boolean } = {}) {
  const keys: PaymeKeys = { login: "Paycom", live: KEY, test: TEST_KEY };
  const changes: Array<[string, string]> = [];
  let reads = 0;
  let allowedIps: BlockList | null = null;
  if (options.allowed) {
    allowedIps = new BlockList();
    for (const a of options.allowed) allowedIps.addAddress(a);
  }
  const store = {
    async current() {
      reads++;
      if (options.keysFail) throw new Error("redis down");
      return { ...keys };
    },
    async change(mode: "live" | "test", key: string) {
      if (options.changeFails) throw new Error("redis down");
      changes.push([mode, key]);
      keys[mode] = key;
    },
  };
  return { state: { keys: store, allowedIps, logger: silent }, changes, reads: () => reads };
}

const auth = (key = KEY) => ({ authorization: basicAuthorization("Paycom", key), "content-type": "text/json; charset=UTF-8" });

function request(body: string | Buffer, headers: Record<string, string> = {}, ip = "185.234.113.1"): WebhookRequest {
  return { method: "POST", path: "/webhooks/payme", query: "", rawBody: Buffer.from(body), headers, ip, now: NOW };
}

async function accept(s: ReturnType<typeof fakeState>, body: string | Buffer, headers: Record<string, string> = auth(), ip?: string): Promise<IngressDecision> {
  return paymeModule.ingress.accept(request(body, headers, ip), s.state as never);
}

type Answer = { jsonrpc: string; id: unknown; result?: unknown; error?: { code: number; data?: unknown; message: Record<string, string> } };

function answerOf(reply: WebhookReply): Answer & { outcome: string | undefined } {
  expect(reply.status).toBe(200); // Payme reads any other status as -32400
  expect(reply.contentType).toMatch(/^application\/json/);
  return { ...(JSON.parse(reply.body) as Answer), outcome: reply.outcome };
}

function replied(d: IngressDecision) {
  if (d.kind !== "reply") throw new Error(`expected a reply, got ${d.kind}`);
  return answerOf(d.reply);
}

const call = (method: string, params: Record<string, unknown>, id: unknown = 7) => JSON.stringify({ method, params, id });
const check = call("CheckPerformTransaction", { amount: 500_000, account: { order_id: "1001" } });

describe("paymeModule.ingress.accept: the order of checks", () => {
  it("bytes that are no JSON → -32700 with id null, before the allow-list and the keys", async () => {
    const s = fakeState({ allowed: ["10.0.0.1"] });
    const a = replied(await accept(s, "{not json", {}, "203.0.113.9"));
    expect(a).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32700 }, outcome: "rejected_payload" });
    expect(s.reads()).toBe(0);
  });

  it("JSON nested past MAX_JSON_DEPTH → -32600 echoing its id, before the allow-list", async () => {
    const s = fakeState({ allowed: ["10.0.0.1"] });
    const deep = `${"[".repeat(MAX_JSON_DEPTH + 5)}1${"]".repeat(MAX_JSON_DEPTH + 5)}`;
    const a = replied(await accept(s, `{"id":41,"method":"CheckPerformTransaction","params":{"x":${deep}}}`, {}, "203.0.113.9"));
    expect(a).toMatchObject({ id: 41, error: { code: -32600 } });
    expect(s.reads()).toBe(0);
  });

  it("a caller outside PAYME_ALLOWED_IPS → -32504 echoing the id, even with the right key; the keys not read", async () => {
    const s = fakeState({ allowed: ["185.234.113.1"] });
    const a = replied(await accept(s, check, auth(), "203.0.113.9"));
    expect(a).toMatchObject({ id: 7, error: { code: -32504 }, outcome: "rejected_signature" });
    expect(s.reads()).toBe(0);
    // IPv6 and a missing address are refused too; an allowed one passes.
    expect(replied(await accept(s, check, auth(), "::1")).error?.code).toBe(-32504);
    expect((await accept(s, check, auth(), "185.234.113.1")).kind).toBe("call");
  });

  it("keys Redis cannot give → -32400 (Payme retries), never a refusal of the key", async () => {
    const a = replied(await accept(fakeState({ keysFail: true }), check));
    expect(a).toMatchObject({ id: 7, error: { code: -32400 }, outcome: "unavailable" });
  });

  it.each([
    ["no Authorization", {}],
    ["a wrong key", auth("wrong")],
    ["another login", { authorization: basicAuthorization("Other", KEY) }],
    ["another scheme", { authorization: `Bearer ${KEY}` }],
  ])("%s → -32504 echoing the id, before the JSON-RPC shape is looked at", async (_name, headers) => {
    expect(replied(await accept(fakeState(), check, headers))).toMatchObject({ id: 7, error: { code: -32504 } });
    // A malformed call without auth is still -32504, not -32600.
    expect(replied(await accept(fakeState(), JSON.stringify({ id: 8, method: 5 }), headers))).toMatchObject({ id: 8, error: { code: -32504 } });
  });

  it("the JSON-RPC shape: -32600 naming the member, -32601 naming an unknown method", async () => {
    const s = fakeState();
    expect(replied(await accept(s, "[1,2]"))).toMatchObject({ id: null, error: { code: -32600 } });
    expect(replied(await accept(s, JSON.stringify({ id: 1, params: {} })))).toMatchObject({ id: 1, error: { code: -32600, data: "method" } });
    expect(replied(await accept(s, JSON.stringify({ id: 1, method: "CheckTransaction", params: [] })))).toMatchObject({ error: { code: -32600, data: "params" } });
    expect(replied(await accept(s, JSON.stringify({ method: "CheckTransaction", params: {} })))).toMatchObject({ error: { code: -32600, data: "id" } });
    expect(replied(await accept(s, call("checkTransaction", {}, 9)))).toMatchObject({ id: 9, error: { code: -32601, data: "checkTransaction" }, outcome: "rejected_payload" });
  });

  it("params of the wrong type → -32600 naming the field, answered here (no call)", async () => {
    const s = fakeState();
    expect(replied(await accept(s, call("CheckPerformTransaction", { amount: 0.5, account: { order_id: "1" } })))).toMatchObject({ id: 7, error: { code: -32600, data: "amount" } });
    expect(replied(await accept(s, call("PerformTransaction", { id: "x".repeat(65) })))).toMatchObject({ error: { code: -32600, data: "id" } });
  });
});

describe("paymeModule.ingress.accept: ChangePassword stays in the ingress", () => {
  it("a new password is stored for the caller's mode and answered success — never a call, never a job", async () => {
    const s = fakeState();
    const d = await accept(s, call("ChangePassword", { password: "brand-new-key" }));
    expect(replied(d)).toMatchObject({ id: 7, result: { success: true }, outcome: "accepted" });
    expect(s.changes).toEqual([["live", "brand-new-key"]]);
    const t = fakeState();
    await accept(t, call("ChangePassword", { password: "new-test-key" }), auth(TEST_KEY));
    expect(t.changes).toEqual([["test", "new-test-key"]]);
  });

  it("a blank or missing password → -31050 'password'; the current or the other mode's key → -32504; nothing stored", async () => {
    const s = fakeState();
    expect(replied(await accept(s, call("ChangePassword", { password: "  " })))).toMatchObject({ error: { code: -31050, data: "password" } });
    expect(replied(await accept(s, call("ChangePassword", {})))).toMatchObject({ error: { code: -31050 } });
    expect(replied(await accept(s, call("ChangePassword", { password: KEY })))).toMatchObject({ error: { code: -32504 } });
    expect(replied(await accept(s, call("ChangePassword", { password: TEST_KEY })))).toMatchObject({ error: { code: -32504 } });
    expect(s.changes).toEqual([]);
  });

  it("a key Redis did not store → -32400, not success", async () => {
    expect(replied(await accept(fakeState({ changeFails: true }), call("ChangePassword", { password: "brand-new-key" })))).toMatchObject({ error: { code: -32400 } });
  });
});

describe("paymeModule.ingress.accept: the call", () => {
  it("an authenticated well-formed call → a call named by its method, carrying the body and the mode, no secret", async () => {
    const d = await accept(fakeState(), check, { ...auth(), "user-agent": "Paycom", "x-other": "dropped" });
    if (d.kind !== "call") throw new Error(d.kind);
    expect(d.jobName).toBe("CheckPerformTransaction");
    expect(d.delivery).toEqual({
      rawBody: check,
      payload: { method: "CheckPerformTransaction", params: { amount: 500_000, account: { order_id: "1001" } }, id: 7 },
      headers: { "content-type": "text/json; charset=UTF-8", "user-agent": "Paycom" },
      livemode: true,
    });
    expect(JSON.stringify(d.delivery)).not.toContain(KEY);
    const test = await accept(fakeState(), check, auth(TEST_KEY));
    expect(test.kind === "call" && test.delivery.livemode).toBe(false);
  });

  it("answer(result) wraps the worker's reply with the request id; answer(null) → -32400 (Payme retries)", async () => {
    const d = await accept(fakeState(), call("CheckTransaction", { id: "5305e3bab097f420a62ced0b" }, "req-9"));
    if (d.kind !== "call") throw new Error(d.kind);
    expect(answerOf(d.answer({ reply: { result: { allow: true } }, outcome: "read", events: [], orderId: null }))).toEqual({
      jsonrpc: "2.0",
      id: "req-9",
      result: { allow: true },
      outcome: "accepted",
    });
    expect(answerOf(d.answer({ reply: { error: { code: -31003 } } }))).toMatchObject({ id: "req-9", error: { code: -31003 }, outcome: "accepted" });
    expect(answerOf(d.answer(null))).toMatchObject({ id: "req-9", error: { code: -32400 }, outcome: "unavailable" });
    // A late call's result ({late: true}) carries no reply: -32400 too.
    expect(answerOf(d.answer({ late: true }))).toMatchObject({ error: { code: -32400 } });
  });

  it("its refusals: every one HTTP 200 in JSON-RPC; unavailable echoes the body's id", () => {
    const r = request(check);
    const refusals: IngressPart<unknown, unknown>["refusals"] = paymeModule.ingress.refusals;
    expect(answerOf(refusals.notConfigured(r))).toMatchObject({ id: 7, error: { code: -32400, data: "provider_not_configured" } });
    expect(answerOf(refusals.badBody(r, 413))).toMatchObject({ id: null, error: { code: -32600 } });
    expect(answerOf(refusals.methodNotAllowed(r))).toMatchObject({ error: { code: -32300 } });
    expect(answerOf(refusals.unavailable(r))).toMatchObject({ id: 7, error: { code: -32400 } });
  });
});
