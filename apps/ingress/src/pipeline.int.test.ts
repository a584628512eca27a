/**
 * The generic pipeline (createProviderRouter) and the generic worker processor
 * (createProviderProcessor), each behaviour tested once, against FAKE test-only provider modules
 * that speak a dialect of their own: plain-text "OK …" / "NO …" answers with statuses and headers
 * no real provider uses. Whatever the pipeline answers must therefore come from the module — never
 * from a hard-coded refusal. Real parts: a private redis-server, real BullMQ queues, workers and
 * QueueEvents, real HTTP over loopback, the real ledger and emitter; only the clock is injected.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { Queue, QueueEvents, UnrecoverableError, Worker, type Job } from "bullmq";
import {
  JOB_OPTIONS,
  PayloadValidationError,
  QUEUES,
  createLedger,
  createRedis,
  jobIdFor,
  type CallResult,
  type Envelope,
  type IngressDecision,
  type Ledger,
  type Logger,
  type PaymentEvent,
  type ProviderId,
  type ProviderModule,
  type RedisConnection,
  type WebhookReply,
  type WebhookRequest,
} from "@payhooks/core";
import { removeRedisServer, startRedisServer, waitFor, type RedisServer } from "@payhooks/testing";
import { createEmitter } from "../../worker/src/emitter";
import { createProviderProcessor } from "../../worker/src/processor";
import { createIngressMetrics, type IngressMetrics } from "./metrics";
import { createProviderRouter, type PipelineDeps, type ProviderRuntime } from "./pipeline";
import { createRpcClient } from "./rpc-client";

/** The injected clock (ms): what every envelope's receivedAt must be. */
const NOW = 1_700_000_000_000;
const BODY_LIMIT = 1024;
/** The fake request–reply module's own bound on a call (ms). */
const RR_TIMEOUT_MS = 600;
/** The notification fake's id (a real id: queues and envelopes are keyed by ProviderId). */
const FAKE: ProviderId = "payram";
/** The request–reply fake's id. */
const FAKE_RR: ProviderId = "click";

// ---------------------------------------------------------------------------------------------
// A recording logger: the pipeline only warns and errors.

type Line = { level: string; obj: Record<string, unknown>; msg: string };
const lines: Line[] = [];
const record = (level: string) => (obj: Record<string, unknown>, msg: string) => void lines.push({ level, obj, msg });
const logger = { warn: record("warn"), error: record("error"), info: record("info"), debug: record("debug"), trace: record("trace"), fatal: record("fatal") } as unknown as Logger;

// ---------------------------------------------------------------------------------------------
// The fake dialect

const text = (status: number, body: string, headers?: Record<string, string>): WebhookReply => ({
  status,
  contentType: "text/x-fake; charset=utf-8",
  body,
  ...(headers ? { headers } : {}),
});

/** The fake's refusals: statuses and bodies that no real module and no default would give. */
const fakeRefusals = {
  notConfigured: () => text(521, "NO not-configured", { "x-fake-refusal": "notConfigured" }),
  // The body names the status the pipeline passed; the status sent is the dialect's own.
  badBody: (_r: Omit<WebhookRequest, "rawBody">, status: number) => text(422, `NO bad-body ${status}`, { "x-fake-refusal": "badBody" }),
  methodNotAllowed: () => text(418, "NO method", { "x-fake-refusal": "methodNotAllowed", allow: "PUT" }),
  // HTTP 200 like Payme: only the pipeline can tell the metrics this was "unavailable".
  unavailable: (r: WebhookRequest) => text(200, `NO try-again ${r.rawBody.length}`, { "x-fake-refusal": "unavailable" }),
};

/** How often the fakes' worker parts ran. */
const calls = { interpret: 0, answer: 0 };

type Command = { do: "reply" | "enqueue" | "throw"; id?: string };

/** A notification provider: the JSON body says what `accept` decides. */
const fakeModule = {
  id: FAKE,
  config: { schema: undefined as never, secrets: [], enabled: () => true },
  ingress: {
    routes: [{ methods: ["POST"], path: "/fake/notify" }],
    setup: () => ({ tag: "fake-state" }),
    accept(request: WebhookRequest, state: { tag: string }): IngressDecision {
      const cmd = JSON.parse(request.rawBody.toString("utf8")) as Command;
      if (cmd.do === "throw") throw new Error("fake accept exploded");
      if (cmd.do === "reply") return { kind: "reply", reply: text(207, `OK as-is ${state.tag}`, { "x-fake-extra": "present" }) };
      return {
        kind: "enqueue",
        jobId: jobIdFor(FAKE, ["fake", cmd.id!]),
        jobName: "fake.notification",
        delivery: { rawBody: request.rawBody.toString("utf8"), payload: cmd, headers: { "x-kept": request.headers["x-kept"] ?? "" }, livemode: false },
        reply: text(202, `OK queued ${cmd.id}`, { "x-fake-extra": "queued" }),
      };
    },
    refusals: fakeRefusals,
  },
  worker: {
    kind: "notification",
    interpret(envelope: Envelope) {
      calls.interpret++;
      return notificationChange(envelope);
    },
  },
  sensitiveFields: [],
  secretHeaders: [],
  simulator: undefined as never,
} as unknown as ProviderModule;

/** What the fake's worker makes of a payload: `{ kind: "bad" | "ignore" | "pay", ref, amount, order }`. */
function notificationChange(envelope: Envelope) {
  const p = envelope.payload as { kind: string; ref: string; amount: number; order?: string };
  if (p.kind === "bad") throw new PayloadValidationError("amount: not a fake amount");
  if (p.kind === "ignore") return { ignore: "fake says: nothing to do" };
  return {
    provider: FAKE,
    providerPaymentId: p.ref,
    ...(p.order ? { orderId: p.order } : {}),
    livemode: true,
    // The fake's state machine: a payment already paid is not paid again.
    decide: ({ payment }: { payment: { providerStatus: string } | null }) =>
      payment?.providerStatus === "FAKE_PAID"
        ? { kind: "ignored" as const, reason: "fake: already paid" }
        : {
      kind: "applied" as const,
      payment: {
        facts: { status: "succeeded" as const, currency: "USD", requested: p.amount, settled: p.amount, refunded: 0, livemode: true },
        providerStatus: "FAKE_PAID",
        at: new Date(envelope.receivedAt).toISOString(),
        state: {},
      },
      events: [{ type: "payment.succeeded" as const, amount: p.amount, currency: "USD", occurredAt: new Date(envelope.receivedAt).toISOString(), data: { fake: true } }],
    },
  };
}

async function rrAnswer(envelope: Envelope): Promise<CallResult> {
  calls.answer++;
  return { reply: { echo: envelope.payload, receivedAt: envelope.receivedAt, replyBy: envelope.replyBy ?? null }, outcome: "read", events: [], orderId: null };
}

/** A request–reply provider: every POST is a call; the answer is "OK <worker's reply>" or "NO none". */
const fakeRrModule = {
  ...fakeModule,
  id: FAKE_RR,
  ingress: {
    routes: [{ methods: ["POST"], path: "/fake/call" }],
    requestReply: { timeoutMs: () => RR_TIMEOUT_MS },
    setup: () => null,
    accept(request: WebhookRequest): IngressDecision {
      return {
        kind: "call",
        jobName: "fake.call",
        delivery: { rawBody: request.rawBody.toString("utf8"), payload: JSON.parse(request.rawBody.toString("utf8")) as unknown, headers: {} },
        answer: (result) => (result === null ? text(299, "NO none") : text(200, `OK ${JSON.stringify((result as { reply: unknown }).reply)}`)),
      };
    },
    refusals: fakeRefusals,
  },
  worker: { kind: "request-reply", answer: rrAnswer },
} as unknown as ProviderModule;

// ---------------------------------------------------------------------------------------------
// Redis, queues, HTTP

let redisServer: RedisServer;
let producer: RedisConnection;
let workerConn: RedisConnection;
let queue: Queue;
let metrics: IngressMetrics;
const closers: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  redisServer = await startRedisServer();
  producer = createRedis(redisServer.url, "producer", "pipeline-test");
  producer.on("error", () => undefined);
  workerConn = createRedis(redisServer.url, "worker", "pipeline-test-worker");
  workerConn.on("error", () => undefined);
  await waitFor(() => producer.status === "ready" && workerConn.status === "ready", "redis ready");
  queue = new Queue(QUEUES[FAKE], { connection: producer, prefix: "pipe" });
  queue.on("error", () => undefined);
  metrics = createIngressMetrics({ redis: producer, prefix: "pipe", queues: [queue] });
});

afterEach(() => {
  lines.length = 0;
});

afterAll(async () => {
  await closeOpened();
  await queue.close();
  producer.disconnect();
  workerConn.disconnect();
  await removeRedisServer(redisServer);
});

/** Closes what the tests opened so far (servers, queues, workers, listeners), newest first. */
async function closeOpened(): Promise<void> {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
}

function runtime(over: Partial<ProviderRuntime> = {}): ProviderRuntime {
  return { module: fakeModule, configured: true, state: { tag: "fake-state" }, queue, rpc: null, ...over };
}

/** Serves one router over loopback; closed after all tests. */
async function serve(provider: ProviderRuntime, over: Partial<PipelineDeps> = {}): Promise<string> {
  const app = express();
  app.use(createProviderRouter(provider, { logger, bodyLimit: BODY_LIMIT, enqueueTimeoutMs: 1_000, now: () => NOW, metrics, ...over }));
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  closers.push(
    () =>
      new Promise((r) => {
        server.close(r);
        server.closeAllConnections();
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function post(base: string, path: string, body: string | Uint8Array, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}${path}`, { method: "POST", headers, body });
  return { status: res.status, type: res.headers.get("content-type"), headers: res.headers, body: await res.text() };
}

/** payhooks_webhook_requests_total{provider, outcome} as counted so far. */
async function counted(provider: ProviderId, outcome: string): Promise<number> {
  const { values } = await metrics.registry.getSingleMetric("payhooks_webhook_requests_total")!.get();
  return values.find((v) => v.labels["provider"] === provider && v.labels["outcome"] === outcome)?.value ?? 0;
}

/** Waits until the counter for `outcome` is `before + 1` (it is counted when the response finishes). */
async function expectCountedOnce(provider: ProviderId, outcome: string, before: number): Promise<void> {
  await waitFor(async () => (await counted(provider, outcome)) >= before + 1, `${provider} ${outcome} counted`, 5_000);
  expect(await counted(provider, outcome)).toBe(before + 1);
}

// ---------------------------------------------------------------------------------------------

describe("createProviderRouter: refusals come from the module", () => {
  let base: string;
  beforeAll(async () => {
    base = await serve(runtime());
  });

  it("a body over bodyLimit → the module's badBody(413), counted rejected_payload", async () => {
    const before = await counted(FAKE, "rejected_payload");
    const res = await post(base, "/fake/notify", "x".repeat(BODY_LIMIT + 1));
    expect(res).toMatchObject({ status: 422, type: "text/x-fake; charset=utf-8", body: "NO bad-body 413" });
    expect(res.headers.get("x-fake-refusal")).toBe("badBody");
    await expectCountedOnce(FAKE, "rejected_payload", before);
    expect(await queue.count()).toBe(0);
  });

  it("an unknown Content-Encoding → the module's badBody(415)", async () => {
    const res = await post(base, "/fake/notify", JSON.stringify({ do: "reply" }), { "content-encoding": "x-fake-zip" });
    expect(res).toMatchObject({ status: 422, body: "NO bad-body 415" });
  });

  it("a method the route does not take → the module's methodNotAllowed, with its headers", async () => {
    const res = await fetch(`${base}/fake/notify`, { method: "PUT", body: "{}" });
    expect(res.status).toBe(418);
    expect(res.headers.get("allow")).toBe("PUT");
    expect(await res.text()).toBe("NO method");
  });

  it("an unconfigured provider → the module's notConfigured, and accept is never reached", async () => {
    const accept = jest.spyOn(fakeModule.ingress, "accept");
    const unconfigured = await serve(runtime({ configured: false, state: null }));
    const res = await post(unconfigured, "/fake/notify", JSON.stringify({ do: "enqueue", id: "never" }));
    expect(res).toMatchObject({ status: 521, body: "NO not-configured" });
    expect(accept).not.toHaveBeenCalled();
    expect(await queue.count()).toBe(0);
  });

  it("accept's `reply` is sent as is: status, content type, extra headers, body", async () => {
    const res = await post(base, "/fake/notify", JSON.stringify({ do: "reply" }));
    expect(res).toMatchObject({ status: 207, type: "text/x-fake; charset=utf-8", body: "OK as-is fake-state" });
    expect(res.headers.get("x-fake-extra")).toBe("present");
  });

  it("an exception thrown by accept → the module's unavailable (not a 500), counted unavailable, logged", async () => {
    const before = await counted(FAKE, "unavailable");
    const body = JSON.stringify({ do: "throw" });
    const res = await post(base, "/fake/notify", body);
    // The module's unavailable sees the body that was read.
    expect(res).toMatchObject({ status: 200, body: `NO try-again ${body.length}` });
    expect(res.headers.get("x-fake-refusal")).toBe("unavailable");
    await expectCountedOnce(FAKE, "unavailable", before);
    expect(lines).toContainEqual(expect.objectContaining({ level: "error", obj: expect.objectContaining({ provider: FAKE, err: expect.objectContaining({ message: "fake accept exploded" }) }) }));
  });
});

describe("createProviderRouter: enqueue", () => {
  let base: string;
  beforeAll(async () => {
    base = await serve(runtime());
  });
  afterEach(async () => {
    await queue.obliterate({ force: true });
  });

  it("puts the envelope in the queue under the jobId, then sends the module's reply", async () => {
    const before = await counted(FAKE, "accepted");
    const body = JSON.stringify({ do: "enqueue", id: "n-1" });
    const res = await post(base, "/fake/notify", body, { "x-kept": "kept-value", "x-dropped": "no" });
    expect(res).toMatchObject({ status: 202, type: "text/x-fake; charset=utf-8", body: "OK queued n-1" });
    expect(res.headers.get("x-fake-extra")).toBe("queued");
    const jobId = jobIdFor(FAKE, ["fake", "n-1"]);
    const job = await queue.getJob(jobId);
    expect(job?.name).toBe("fake.notification");
    expect(job?.data).toEqual({
      provider: FAKE,
      deliveryId: jobId,
      receivedAt: NOW,
      rawBody: body,
      payload: { do: "enqueue", id: "n-1" },
      headers: { "x-kept": "kept-value" },
      livemode: false,
    });
    expect(job?.opts.attempts).toBe(JOB_OPTIONS.provider.attempts);
    await expectCountedOnce(FAKE, "accepted", before);
  });

  it("the same delivery twice → one job; the second counted duplicate, both answered alike", async () => {
    const body = JSON.stringify({ do: "enqueue", id: "dup-1" });
    const accepted = await counted(FAKE, "accepted");
    const duplicate = await counted(FAKE, "duplicate");
    expect((await post(base, "/fake/notify", body)).body).toBe("OK queued dup-1");
    await expectCountedOnce(FAKE, "accepted", accepted);
    await new Promise((r) => setTimeout(r, 5)); // a new job's timestamp differs from the first's
    expect((await post(base, "/fake/notify", body)).body).toBe("OK queued dup-1");
    await expectCountedOnce(FAKE, "duplicate", duplicate);
    expect(await counted(FAKE, "accepted")).toBe(accepted + 1);
    expect(await queue.getJobCounts("waiting")).toEqual({ waiting: 1 });
  });
});

describe("createProviderRouter: the request–reply lane", () => {
  // Its workers and listeners are closed while Redis is still up.
  afterAll(closeOpened);

  /** A runtime for the request–reply fake on its own key space; a worker when asked. */
  async function rrRuntime(prefix: string, worker: { wallClock?: () => number } | null): Promise<{ base: string; queue: Queue }> {
    const q = new Queue(QUEUES[FAKE_RR], { connection: producer, prefix });
    q.on("error", () => undefined);
    const events = new QueueEvents(QUEUES[FAKE_RR], { connection: { path: redisServer.socketPath }, prefix });
    events.on("error", () => undefined);
    await events.waitUntilReady();
    closers.push(() => q.close(), () => events.close());
    if (worker) {
      const ledger = createLedger({ redis: workerConn, prefix, now: () => NOW });
      const emitter = createEmitter({ ledger, paymentEvents: null, merchant: null, logger });
      const w = new Worker(
        QUEUES[FAKE_RR],
        createProviderProcessor(fakeRrModule, { ledger, emitter, config: {}, clock: () => NOW, ...(worker.wallClock ? { wallClock: worker.wallClock } : {}) }),
        { connection: workerConn, prefix },
      );
      w.on("error", () => undefined);
      await w.waitUntilReady();
      closers.push(() => w.close());
    }
    // As createProviderRuntimes builds it: the module's own timeout bounds every call.
    const rpc = createRpcClient({ queue: q, events, timeoutMs: fakeRrModule.ingress.requestReply!.timeoutMs({}) });
    const base = await serve({ module: fakeRrModule, configured: true, state: null, queue: q, rpc });
    return { base, queue: q };
  }

  it("a call answered by a worker running createProviderProcessor → the module's answer(result)", async () => {
    calls.answer = 0;
    const { base, queue: q } = await rrRuntime("rr-ok", {});
    const started = Date.now();
    const res = await post(base, "/fake/call", JSON.stringify({ ask: "hello" }));
    expect(res.status).toBe(200);
    expect(res.body.startsWith("OK ")).toBe(true);
    const reply = JSON.parse(res.body.slice(3)) as { echo: unknown; receivedAt: number; replyBy: number };
    expect(reply.echo).toEqual({ ask: "hello" });
    expect(reply.receivedAt).toBe(NOW);
    // The call carried its deadline: the rpc client's own start + the module's timeout.
    expect(reply.replyBy).toBeGreaterThanOrEqual(started + RR_TIMEOUT_MS);
    expect(reply.replyBy).toBeLessThanOrEqual(Date.now() + RR_TIMEOUT_MS);
    expect(calls.answer).toBe(1);
    const [job] = await q.getJobs(["completed"]);
    expect(job?.name).toBe("fake.call");
    expect(job?.data).toMatchObject({ provider: FAKE_RR, receivedAt: NOW, deliveryId: job?.id });
  });

  it("no worker → the module's answer(null) once the module's timeout has passed (not much later), logged", async () => {
    const { base } = await rrRuntime("rr-none", null);
    const started = Date.now();
    const res = await post(base, "/fake/call", JSON.stringify({ ask: "anyone?" }));
    const elapsed = Date.now() - started;
    expect(res).toMatchObject({ status: 299, body: "NO none" });
    expect(elapsed).toBeGreaterThanOrEqual(RR_TIMEOUT_MS - 50);
    expect(elapsed).toBeLessThan(RR_TIMEOUT_MS + 2_000);
    expect(lines).toContainEqual(expect.objectContaining({ level: "warn", obj: expect.objectContaining({ provider: FAKE_RR, reason: "timeout" }) }));
  });

  it("a call picked up after replyBy → {late: true}, not answered by the module's worker; the ingress sends answer(null)", async () => {
    calls.answer = 0;
    // The worker's wall clock is an hour ahead: every call it picks up is past its replyBy.
    const { base, queue: q } = await rrRuntime("rr-late", { wallClock: () => Date.now() + 3_600_000 });
    const res = await post(base, "/fake/call", JSON.stringify({ ask: "too late" }));
    expect(res).toMatchObject({ status: 299, body: "NO none" });
    expect(calls.answer).toBe(0);
    const [job] = await q.getJobs(["completed"]);
    expect(job?.returnvalue).toEqual({ late: true });
    expect(lines).toContainEqual(expect.objectContaining({ level: "warn", obj: expect.objectContaining({ provider: FAKE_RR, reason: "late" }) }));
  });
});

describe("createProviderProcessor: a notification module", () => {
  afterAll(closeOpened);
  const prefix = "proc";
  let ledger: Ledger;
  let q: Queue;
  let events: Queue;

  beforeAll(async () => {
    ledger = createLedger({ redis: workerConn, prefix, now: () => NOW });
    q = new Queue(QUEUES[FAKE], { connection: workerConn, prefix });
    events = new Queue(QUEUES.paymentEvents, { connection: workerConn, prefix });
    const emitter = createEmitter({ ledger, paymentEvents: events, merchant: null, logger });
    const worker = new Worker(QUEUES[FAKE], createProviderProcessor(fakeModule, { ledger, emitter, config: { fake: "config" }, clock: () => NOW }), {
      connection: workerConn,
      prefix,
    });
    worker.on("error", () => undefined);
    q.on("error", () => undefined);
    events.on("error", () => undefined);
    await worker.waitUntilReady();
    closers.push(() => q.close(), () => events.close(), () => worker.close());
  });

  let n = 0;
  /** Adds a job (the pipeline's options: 8 attempts) and waits until it is completed or failed. */
  async function run(over: Partial<Envelope>): Promise<Job> {
    const id = `${FAKE}-proc-${++n}`;
    const envelope: Envelope = { provider: FAKE, deliveryId: id, receivedAt: NOW, rawBody: "{}", payload: {}, headers: {}, ...over };
    await q.add("fake.notification", envelope, { ...JOB_OPTIONS.provider, jobId: id });
    await waitFor(async () => ["completed", "failed"].includes(await q.getJobState(id)), `job ${id} finished`);
    return (await q.getJob(id))!;
  }

  it("interpret throwing PayloadValidationError → failed for good (UnrecoverableError), 'quarantined: …', one attempt", async () => {
    const job = await run({ payload: { kind: "bad" } });
    expect(await job.getState()).toBe("failed");
    expect(job.failedReason).toBe("quarantined: amount: not a fake amount");
    expect(job.attemptsMade).toBe(1);
    expect((job.stacktrace ?? []).join("\n")).toContain(UnrecoverableError.name);
  });

  it("an unreadable envelope is quarantined without being interpreted", async () => {
    calls.interpret = 0;
    const job = await run({ unreadable: "invalid_json", payload: null, rawBody: Buffer.from("{nope").toString("base64") });
    expect(await job.getState()).toBe("failed");
    expect(job.failedReason).toMatch(/^quarantined: body: invalid_json/);
    expect(job.attemptsMade).toBe(1);
    expect(calls.interpret).toBe(0);
  });

  it("{ignore} → completed, outcome ignored with the module's reason, no event", async () => {
    const job = await run({ payload: { kind: "ignore" } });
    expect(job.returnvalue).toEqual({ outcome: "ignored", reason: "fake says: nothing to do", orderId: null, events: [] });
    expect(await events.count()).toBe(0);
  });

  it("a change → applied through the real ledger, the order paid, its event emitted", async () => {
    await ledger.putOrder("fake-order-1", { amount: 1500, currency: "USD" });
    const job = await run({ payload: { kind: "pay", ref: "fake-pay-1", amount: 1500, order: "fake-order-1" } });
    expect(job.returnvalue).toMatchObject({ outcome: "applied", paymentId: "fake-pay-1", orderId: "fake-order-1" });
    const eventIds = (job.returnvalue as { events: string[] }).events;
    expect(eventIds).toHaveLength(1);
    expect(await ledger.getOrder("fake-order-1")).toMatchObject({ status: "paid", paidAmount: 1500 });
    expect(await ledger.getPayment(FAKE, "fake-pay-1")).toMatchObject({ providerStatus: "FAKE_PAID", orderId: "fake-order-1" });
    const emitted = (await events.getJobs(["waiting"])).map((j) => j.data as PaymentEvent);
    expect(emitted).toEqual([expect.objectContaining({ id: eventIds[0], type: "payment.succeeded", provider: FAKE, providerPaymentId: "fake-pay-1", orderId: "fake-order-1", amount: 1500 })]);
    // The same notice again: the module's decide is given the ledger's record, and its "ignored" is the job's outcome.
    const again = await run({ payload: { kind: "pay", ref: "fake-pay-1", amount: 1500, order: "fake-order-1" } });
    expect(again.returnvalue).toEqual({ outcome: "ignored", reason: "fake: already paid", paymentId: "fake-pay-1", orderId: "fake-order-1", events: [] });
    expect(await events.count()).toBe(1);
  });
});

// Last: it stops and restarts the server.
describe("createProviderRouter: Redis down", () => {
  it("Redis killed → the module's unavailable, counted unavailable, within the enqueue timeout; no job", async () => {
    const base = await serve(runtime(), { enqueueTimeoutMs: 1_500 });
    await redisServer.stop("SIGKILL");
    try {
      const before = await counted(FAKE, "unavailable");
      const body = JSON.stringify({ do: "enqueue", id: "outage-1" });
      const started = Date.now();
      const res = await post(base, "/fake/notify", body);
      const elapsed = Date.now() - started;
      expect(res).toMatchObject({ status: 200, body: `NO try-again ${body.length}` });
      expect(elapsed).toBeLessThan(1_500 + 1_000);
      await expectCountedOnce(FAKE, "unavailable", before);
      expect(lines).toContainEqual(expect.objectContaining({ level: "warn", msg: "enqueue failed; answering unavailable" }));
    } finally {
      await redisServer.restart();
    }
    await waitFor(() => producer.status === "ready", "producer reconnected");
    expect(await queue.getJob(jobIdFor(FAKE, ["fake", "outage-1"]))).toBeUndefined();
  });

  it("Redis hung (SIGSTOP) → the module's unavailable once the enqueue timeout fires, before the 1 s command timeout", async () => {
    const base = await serve(runtime(), { enqueueTimeoutMs: 200 });
    await waitFor(() => producer.status === "ready", "producer ready");
    process.kill(redisServer.pid(), "SIGSTOP");
    try {
      const body = JSON.stringify({ do: "enqueue", id: "hung-1" });
      const res = await post(base, "/fake/notify", body);
      expect(res).toMatchObject({ status: 200, body: `NO try-again ${body.length}` });
      // The enqueue's own bound answered (not the connection's 1 s command timeout): no timing asserted.
      expect(lines).toContainEqual(expect.objectContaining({ level: "warn", obj: expect.objectContaining({ err: expect.objectContaining({ cause: expect.stringContaining("timed out after 200 ms") }) }) }));
    } finally {
      process.kill(redisServer.pid(), "SIGCONT");
    }
  });
});
