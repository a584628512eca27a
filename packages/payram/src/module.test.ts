/**
 * The Payram module's own parts, pure: the ingress's `accept` on a raw request (no HTTP, no
 * Redis) and the worker's `interpret` on an envelope, as the generic pipeline and processor call
 * them.
 */
import { PayloadValidationError, jobIdFor, sha256Hex, type Envelope, type IngressDecision, type Logger, type WebhookRequest } from "@payhooks/core";
import { payramModule } from "./module";
import { signForTest } from "./verify";
import { payramJobId, parsePayramNotification } from "./schemas";

const SECRET = "payram-module-project-key";
const NOW = 1_700_000_000_000;
const logger = {} as Logger;
const config = payramModule.config.schema.parse({ PAYRAM_WEBHOOK_SECRET: SECRET });
if (!payramModule.config.enabled(config)) throw new Error("Payram not enabled by its secret");
const state = payramModule.ingress.setup({ config, redis: null as never, prefix: "t", logger });

const notification = (over: Record<string, unknown> = {}) =>
  JSON.stringify({ reference_id: "7f1c7a55-0f43-4f0e-9b3a-3f1f6f1e0a01", status: "FILLED", amount: "49.99", filled_amount: "49.99", currency: "USD", timestamp: 1_700_000_000, ...over });

function request(body: string | Buffer, headers: Record<string, string> = {}): WebhookRequest {
  return { method: "POST", path: "/webhooks/payram", query: "", rawBody: Buffer.from(body), headers, ip: "127.0.0.1", now: NOW };
}

const accept = (body: string | Buffer, headers: Record<string, string> = {}) => payramModule.ingress.accept(request(body, headers), state) as IngressDecision;

function replyOf(decision: IngressDecision) {
  if (decision.kind !== "reply") throw new Error(`expected a reply, got ${decision.kind}`);
  return { status: decision.reply.status, body: JSON.parse(decision.reply.body) as unknown, outcome: decision.reply.outcome };
}

describe("payramModule.ingress.accept", () => {
  it("a signed notification → enqueue under its payment's job id, the body kept, secrets not", () => {
    const body = notification();
    const headers = { ...signForTest(body, SECRET, "signature"), "user-agent": "Payram/1", "x-other": "dropped" };
    const d = accept(body, headers);
    expect(d.kind).toBe("enqueue");
    if (d.kind !== "enqueue") return;
    expect(d.jobId).toBe("payram-7f1c7a55-0f43-4f0e-9b3a-3f1f6f1e0a01~FILLED~49.99");
    expect(d.jobId).toBe(payramJobId(parsePayramNotification(JSON.parse(body))));
    expect(d.jobName).toBe("payram.notification");
    expect(d.delivery).toEqual({ rawBody: body, payload: JSON.parse(body), headers: { "content-type": "application/json", "user-agent": "Payram/1" } });
    expect(JSON.stringify(d.delivery)).not.toContain(SECRET);
    expect(d.reply.status).toBe(200);
    expect(JSON.parse(d.reply.body)).toEqual({ message: "Webhook received successfully" });
  });

  it("the legacy API-Key header verifies too", () => {
    expect(accept(notification(), signForTest(notification(), SECRET, "api-key")).kind).toBe("enqueue");
  });

  it.each([
    ["no credentials", {}, "missing_header"],
    ["a wrong key", { "api-key": "not-the-key" }, "no_matching_signature"],
    ["a signature by another key", signForTest(notification(), "other-key", "signature"), "no_matching_signature"],
    ["a malformed signature", { "x-payram-signature": "md5=abc" }, "malformed_header"],
  ])("%s → 401 {error: reason}", (_name, headers, reason) => {
    expect(replyOf(accept(notification(), headers as Record<string, string>))).toEqual({ status: 401, body: { error: reason }, outcome: undefined });
  });

  it("a body changed after signing → 401", () => {
    const headers = signForTest(notification(), SECRET, "signature");
    expect(replyOf(accept(notification({ amount: "49.98" }), headers)).status).toBe(401);
  });

  it("the dashboard's test ping: 200 without credentials or with good ones, 401 with bad ones; never a job", () => {
    const ping = JSON.stringify({ event_type: "payout.ping" });
    expect(replyOf(accept(ping, { "x-webhook-test": "true" }))).toMatchObject({ status: 200, body: { message: "Test webhook received" } });
    expect(replyOf(accept(ping, { ...signForTest(ping, SECRET), "x-webhook-test": "TRUE" }))).toMatchObject({ status: 200 });
    expect(replyOf(accept(ping, { "api-key": "wrong", "x-webhook-test": "true" })).status).toBe(401);
  });

  it("signed bytes that are no JSON → enqueued under the bytes' name, kept in base64, marked unreadable", () => {
    const body = Buffer.from([0x7b, 0xff, 0x7d]);
    const d = accept(body, signForTest(body, SECRET, "signature"));
    if (d.kind !== "enqueue") throw new Error(d.kind);
    expect(d.jobId).toBe(jobIdFor("payram", ["body", sha256Hex(body).slice(0, 32)]));
    expect(d.delivery).toMatchObject({ rawBody: body.toString("base64"), payload: null, unreadable: "invalid_json" });
    expect(d.reply.status).toBe(200);
  });

  it("signed JSON that is no notification → still enqueued (for the worker to quarantine), under the bytes' name", () => {
    const body = JSON.stringify({ status: "FILLED" });
    const d = accept(body, signForTest(body, SECRET, "signature"));
    if (d.kind !== "enqueue") throw new Error(d.kind);
    expect(d.jobId).toBe(jobIdFor("payram", ["body", sha256Hex(body).slice(0, 32)]));
    expect(d.delivery.unreadable).toBeUndefined();
  });

  it("its refusals are JSON in Payram's terms", () => {
    const r = request("");
    expect(payramModule.ingress.refusals.notConfigured(r)).toMatchObject({ status: 503, body: '{"error":"provider_not_configured"}' });
    expect(payramModule.ingress.refusals.badBody(r, 413)).toMatchObject({ status: 413, body: '{"error":"payload_too_large"}' });
    expect(payramModule.ingress.refusals.methodNotAllowed(r)).toMatchObject({ status: 405, headers: { allow: "POST" } });
    expect(payramModule.ingress.refusals.unavailable(r)).toMatchObject({ status: 503, body: '{"error":"unavailable"}' });
  });
});

describe("payramModule.worker.interpret", () => {
  const worker = payramModule.worker;
  const envelope = (payload: unknown): Envelope => ({ provider: "payram", deliveryId: "d", receivedAt: NOW, rawBody: JSON.stringify(payload), payload, headers: {} });

  it("a notification → a live change of the referenced payment whose decision records it", () => {
    const change = worker.interpret(envelope(JSON.parse(notification())));
    if ("ignore" in change) throw new Error("ignored");
    expect(change).toMatchObject({ provider: "payram", providerPaymentId: "7f1c7a55-0f43-4f0e-9b3a-3f1f6f1e0a01", livemode: true });
    const decision = change.decide({ payment: null, order: null });
    expect(decision).toMatchObject({ kind: "applied", payment: { providerStatus: "FILLED", facts: { status: "succeeded", settled: 4999, currency: "USD", livemode: true } } });
  });

  it("what it cannot read → PayloadValidationError (the processor quarantines it)", () => {
    expect(() => worker.interpret(envelope({ status: "FILLED" }))).toThrow(PayloadValidationError);
    expect(() => worker.interpret(envelope(null))).toThrow(PayloadValidationError);
  });
});
