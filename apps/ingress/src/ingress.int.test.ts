import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Queue } from "bullmq";
import { PROVIDER_IDS, QUEUES, createLedger, createLogger, createRedis, type ProviderId, type RedisConnection } from "@payhooks/core";
import { loadConfig } from "@payhooks/providers";
import { signForTest } from "@payhooks/payram";
import { removeRedisServer, startRedisServer, waitFor, type RedisServer } from "@payhooks/testing";
import { createAdminApp } from "./admin";
import { createApp } from "./app";
import { createProviderRuntimes } from "./providers";

const SECRET = "payram-project-api-key";
const PREFIX = "ingress-test";
// Fixed clock: verification and envelopes never read the real time.
const NOW_MS = 1_700_000_000_000;

let redisServer: RedisServer;
let redis: RedisConnection;
let queue: Queue;
let queues: Record<ProviderId, Queue>;
const logger = createLogger({ level: "silent", name: "test" });
let server: Server;
let base: string;

function listen(app: ReturnType<typeof createApp>): Promise<Server> {
  return new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
}

beforeAll(async () => {
  redisServer = await startRedisServer();
  redis = createRedis(redisServer.url, "producer", "ingress-test");
  redis.on("error", () => undefined);
  await waitFor(() => redis.status === "ready", "redis ready");
  queues = Object.fromEntries(PROVIDER_IDS.map((id) => [id, new Queue(QUEUES[id], { connection: redis, prefix: PREFIX })])) as Record<ProviderId, Queue>;
  for (const q of Object.values(queues)) q.on("error", () => undefined);
  queue = queues.payram;
  server = await listen(
    createApp({
      logger: createLogger({ level: "silent", name: "test" }),
      redis,
      bodyLimit: 4 * 1024,
      enqueueTimeoutMs: 1_000,
      now: () => NOW_MS,
      providers: createProviderRuntimes(loadConfig({ PAYRAM_WEBHOOK_SECRET: SECRET }), { redis, prefix: PREFIX, logger, queues }),
    }),
  );
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  if (redisServer.pid() > 0 && redis.status === "ready") await queue.obliterate({ force: true });
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  await Promise.all(Object.values(queues).map((q) => q.close()));
  redis.disconnect();
  await removeRedisServer(redisServer);
});

const notification = (over: Record<string, unknown> = {}) =>
  JSON.stringify({ reference_id: "7f1c7a55-0f43-4f0e-9b3a-3f1f6f1e0a01", status: "FILLED", amount: "49.99", filled_amount: "49.99", currency: "USD", ...over });

function post(body: string, headers: Record<string, string>, path = "/webhooks/payram") {
  return fetch(`${base}${path}`, { method: "POST", headers, body });
}

async function jobCount(): Promise<number> {
  const counts = await queue.getJobCounts("waiting", "active", "delayed", "completed", "failed", "prioritized");
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

describe("POST /webhooks/payram", () => {
  it("accepts a signed notification only after the job is in Redis, keeping no secret in it", async () => {
    const body = notification();
    const res = await post(body, signForTest(body, SECRET));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ message: "Webhook received successfully" });
    const jobs = await queue.getJobs(["waiting"]);
    expect(jobs).toHaveLength(1);
    const job = jobs[0]!;
    expect(job.id).toBe("payram-7f1c7a55-0f43-4f0e-9b3a-3f1f6f1e0a01~FILLED~49.99");
    expect(job.data).toMatchObject({ provider: "payram", rawBody: body, receivedAt: NOW_MS, payload: JSON.parse(body) });
    const stored = JSON.stringify(job.data);
    expect(stored).not.toContain(SECRET);
    expect(stored).not.toContain(signForTest(body, SECRET)["x-payram-signature"]!.slice(7));
  });

  it("accepts the legacy API-Key header", async () => {
    const body = notification({ status: "OPEN", filled_amount: null });
    const res = await post(body, signForTest(body, SECRET, "api-key"));
    expect(res.status).toBe(200);
    expect(await jobCount()).toBe(1);
  });

  it("turns a redelivery into the same job", async () => {
    const body = notification();
    const statuses = await Promise.all([1, 2, 3].map(() => post(body, signForTest(body, SECRET)).then((r) => r.status)));
    expect(statuses).toEqual([200, 200, 200]);
    expect(await jobCount()).toBe(1);
  });

  it.each([
    ["a wrong API key", (b: string) => signForTest(b, "not-the-key", "api-key"), "no_matching_signature"],
    ["a signature made with another key", (b: string) => signForTest(b, "not-the-key", "signature"), "no_matching_signature"],
    ["no credentials", () => ({ "content-type": "application/json" }), "missing_header"],
    ["a malformed signature header", () => ({ "x-payram-signature": "md5=abc" }), "malformed_header"],
    // A bad signature cannot fall back to a correct legacy key.
    ["a bad signature next to a good key", (b: string) => ({ ...signForTest(b, "nope", "signature"), "api-key": SECRET }), "no_matching_signature"],
  ])("rejects %s with 401 and enqueues nothing", async (_name, headersFor, reason) => {
    const body = notification();
    const res = await post(body, headersFor(body));
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: reason });
    expect(await jobCount()).toBe(0);
  });

  it("rejects a body changed after signing", async () => {
    const body = notification();
    const headers = signForTest(body, SECRET, "signature");
    const res = await post(body.replace("49.99", "49.98"), headers);
    expect(res.status).toBe(401);
    expect(await jobCount()).toBe(0);
  });

  it("answers the dashboard's test ping without a job, and refuses a ping with bad credentials", async () => {
    const ping = JSON.stringify({ event_type: "payout.ping" });
    const unsigned = await post(ping, { "x-webhook-test": "true" });
    expect(unsigned.status).toBe(200);
    const signed = await post(ping, { ...signForTest(ping, SECRET), "x-webhook-test": "true" });
    expect(signed.status).toBe(200);
    const bad = await post(ping, { "api-key": "wrong", "x-webhook-test": "true" });
    expect(bad.status).toBe(401);
    expect(await jobCount()).toBe(0);
  });

  it.each([
    ["bytes that are not JSON", "{not json"],
    ["no reference_id", JSON.stringify({ status: "FILLED" })],
    ["no status", JSON.stringify({ reference_id: "r-1" })],
    ["an amount finer than cents", notification({ filled_amount: "49.995" })],
  ])("acknowledges a signed body with %s: one job (for the worker to quarantine), never a refusal Payram would retry", async (_name, body) => {
    const before = await jobCount();
    const res = await post(body, signForTest(body, SECRET));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ message: "Webhook received successfully" });
    expect(await jobCount()).toBe(before + 1);
    // A redelivery of the same bytes is the same job.
    expect((await post(body, signForTest(body, SECRET))).status).toBe(200);
    expect(await jobCount()).toBe(before + 1);
  });

  it("rejects a body over the limit with 413 before verifying it", async () => {
    const body = notification({ padding: "x".repeat(5 * 1024) });
    const res = await post(body, signForTest(body, SECRET));
    expect(res.status).toBe(413);
    expect(await jobCount()).toBe(0);
  });
});

describe("a provider without secrets", () => {
  it("answers 503 provider_not_configured", async () => {
    const app = createApp({
      logger: createLogger({ level: "silent", name: "test" }),
      redis,
      providers: createProviderRuntimes(loadConfig({}), { redis, prefix: PREFIX, logger, queues }),
    });
    const s = await listen(app);
    try {
      const res = await fetch(`http://127.0.0.1:${(s.address() as AddressInfo).port}/webhooks/payram`, { method: "POST", body: "{}" });
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ error: "provider_not_configured" });
    } finally {
      await new Promise((r) => s.close(r));
    }
  });
});

describe("health", () => {
  it("reports process health and Redis readiness", async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready" });
  });
});

describe("Redis stopped", () => {
  it("answers 503 within 2 s, never 2xx, and recovers when Redis returns", async () => {
    await redisServer.stop("SIGKILL");
    const body = notification({ reference_id: "during-outage" });
    const started = Date.now();
    const res = await post(body, signForTest(body, SECRET));
    const elapsed = Date.now() - started;
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: "unavailable" });
    expect(elapsed).toBeLessThan(2_000);
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    // The admin API over the same fail-fast connection: 503, not a 500.
    const admin = await listen(
      createAdminApp({ ledger: createLedger({ redis, prefix: PREFIX }), token: "admin-token-0123456789", logger: createLogger({ level: "silent", name: "t" }) }),
    );
    try {
      const order = await fetch(`http://127.0.0.1:${(admin.address() as AddressInfo).port}/v1/orders/o-1`, {
        headers: { authorization: "Bearer admin-token-0123456789" },
      });
      expect(order.status).toBe(503);
      expect(await order.json()).toEqual({ error: "unavailable" });
    } finally {
      await new Promise((r) => admin.close(r));
    }

    await redisServer.restart();
    await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, "ingress ready again");
    const again = await post(body, signForTest(body, SECRET));
    expect(again.status).toBe(200);
    expect(await jobCount()).toBe(1);
  });
});
