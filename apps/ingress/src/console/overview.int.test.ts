/**
 * The console's overview against real ingress and worker processes, a real merchant endpoint and
 * a private redis-server: deliveries go in over HTTP — accepted, redelivered, badly signed,
 * unreadable (quarantined by the worker) — and a merchant delivery fails for good; then the
 * overview's data shows exactly those counts per provider, the queues as BullMQ counts them, and
 * the failures linked to their orders, and its page (served over loopback HTTP) says the same.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import express from "express";
import IORedis from "ioredis";
import { Queue } from "bullmq";
import {
  ACTIVITY_RETENTION_S,
  PaymentEventSchema,
  QUEUES,
  activityKey,
  activityMinute,
  createJobIndex,
  createLedger,
  createLogger,
} from "@payhooks/core";
import { signForTest as signPayram } from "@payhooks/payram";
import { signForTest as signPayske } from "@payhooks/payske";
import { adminClient, drained, removeRedisServer, startIngress, startRedisServer, startWorker, waitFor, type NodeProcess, type RedisServer } from "@payhooks/testing";
import type { QueueKey } from "../dashboard";
import { createActivityWriter } from "../metrics";
import type { ConsoleDeps } from "./deps";
import { createOverviewPage, loadOverview, type OverviewData } from "./overview";

const ADMIN_TOKEN = "overview-admin-token-0123456789";
const PAYRAM_SECRET = "overview-payram-project-key";
const PAYSKE_SECRET = "whsec_overviewPayskeSecret0123456789";
const PREFIX = `ovw${process.pid}`;
const ORDER_ID = "order-ov-1001";
const REFERENCE = "3c6a6e1e-0ff1-4d7e-8f7e-4a2b1c0d9e8f";
const EXHAUSTED_ID = "evt_overview_exhausted";

let redis: RedisServer;
let ingress: Awaited<ReturnType<typeof startIngress>>;
let worker: NodeProcess;
let merchant: Server;
let page: Server;
let pageUrl: string;
let direct: IORedis;
let deps: ConsoleDeps;
let startedAt: number;

beforeAll(async () => {
  startedAt = Date.now();
  redis = await startRedisServer();
  // The merchant takes every delivery but EXHAUSTED_ID's.
  merchant = createServer((req, res) => {
    req.resume().on("end", () => {
      res.statusCode = req.headers["webhook-id"] === EXHAUSTED_ID ? 500 : 204;
      res.end();
    });
  });
  await new Promise<void>((r) => merchant.listen(0, "127.0.0.1", r));
  const env = {
    REDIS_URL: redis.url,
    QUEUE_PREFIX: PREFIX,
    ADMIN_TOKEN,
    PAYRAM_WEBHOOK_SECRET: PAYRAM_SECRET,
    PAYSKE_WEBHOOK_SECRET: PAYSKE_SECRET,
    MERCHANT_WEBHOOK_URL: `http://127.0.0.1:${(merchant.address() as AddressInfo).port}/hooks`,
    MERCHANT_WEBHOOK_SECRET: `whsec_${randomBytes(32).toString("base64")}`,
  };
  [ingress, worker] = await Promise.all([startIngress(env), startWorker(env)]);
  direct = new IORedis({ path: redis.socketPath, maxRetriesPerRequest: 1 });
  const queues = Object.fromEntries(
    (Object.entries(QUEUES) as Array<[QueueKey, string]>).map(([key, name]) => [key, new Queue(name, { connection: direct, prefix: PREFIX })]),
  ) as Record<QueueKey, Queue>;
  deps = {
    ledger: createLedger({ redis: direct, prefix: PREFIX }),
    queues,
    redis: direct,
    prefix: PREFIX,
    jobIndex: createJobIndex({ redis: direct, prefix: PREFIX }),
    logger: createLogger({ level: "silent", name: "overview-test" }),
    now: Date.now,
  };
  // The page as the console router serves it (the admin auth is the router's, tested there).
  const app = express();
  app.get("/console", createOverviewPage(deps));
  page = app.listen(0, "127.0.0.1");
  await new Promise<void>((r) => page.once("listening", r));
  pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}/console`;
}, 30_000);

afterAll(async () => {
  await Promise.all(Object.values(deps?.queues ?? {}).map((q) => q.close()));
  await direct?.quit();
  await Promise.all([ingress?.proc.stop(), worker?.stop()]);
  await Promise.all([merchant, page].map((s) => new Promise<void>((r) => (s ? s.close(() => r()) : r()))));
  await removeRedisServer(redis);
});

async function payram(body: string, secret = PAYRAM_SECRET): Promise<number> {
  const res = await fetch(`${ingress.url}/webhooks/payram`, { method: "POST", headers: signPayram(body, secret, "signature"), body });
  await res.arrayBuffer();
  return res.status;
}

async function payske(body: string, header = signPayske(body, PAYSKE_SECRET, Math.floor(Date.now() / 1000))): Promise<number> {
  const res = await fetch(`${ingress.url}/webhooks/payske`, { method: "POST", headers: { "content-type": "application/json", "payske-signature": header }, body });
  await res.arrayBuffer();
  return res.status;
}

const providerTotals = (data: OverviewData, provider: string) => data.activity?.providers.find((p) => p.provider === provider)?.totals;

it("shows each provider's deliveries of the hour, the queues, merchant failures and the last failures linked to their orders", async () => {
  // A Payram payment for a known order: new, redelivered, then a bad signature and an unreadable body.
  expect(await adminClient(ingress.adminUrl, ADMIN_TOKEN).putOrder(ORDER_ID, { amount: 4999, currency: "USD", references: { payram: REFERENCE } })).toBe(201);
  const fill = JSON.stringify({ reference_id: REFERENCE, status: "FILLED", amount: "49.99", filled_amount: "49.99", currency: "USD" });
  expect(await payram(fill)).toBe(200);
  expect(await payram(fill)).toBe(200);
  expect(await payram(fill, "not-the-project-key")).toBe(401);
  expect(await payram("{not json")).toBe(200);
  // Payske: a new event, and the same header over a tampered body.
  const event = JSON.stringify({
    id: `evt_overview${Date.now()}`,
    object: "event",
    type: "payment_intent.succeeded",
    created: Math.floor(Date.now() / 1000),
    livemode: true,
    data: { object: { id: "pi_overview_1", object: "payment_intent", amount: 4_999, amount_received: 4_999, currency: "usd", metadata: {} } },
  });
  const header = signPayske(event, PAYSKE_SECRET, Math.floor(Date.now() / 1000));
  expect(await payske(event, header)).toBe(200);
  expect(await payske(event.replace("4999", "4998"), header)).toBe(400);
  await drained([deps.queues.payram, deps.queues.payske]);

  // The payment's event, delivered to the merchant; then the same event under an id the merchant
  // refuses, with one attempt: left failed, and it names the order.
  const [paid] = (await deps.queues.paymentEvents.getJobs(["waiting"], 0, -1, true)).map((j) => PaymentEventSchema.parse(j.data)).filter((e) => e.orderId === ORDER_ID);
  expect(paid).toBeDefined();
  await deps.queues.merchantWebhooks.add("merchant.deliver", { ...paid!, id: EXHAUSTED_ID }, { attempts: 1, jobId: EXHAUSTED_ID });
  await waitFor(async () => (await deps.queues.merchantWebhooks.getJobCounts("failed"))["failed"] === 1 || undefined, "the merchant delivery failed");

  // The ingress writes its counts every half second, the worker every quarter: wait for all of them.
  const expected = {
    payram: { accepted: 2, duplicate: 1, refused: 1, quarantined: 1 },
    payske: { accepted: 1, duplicate: 0, refused: 1, quarantined: 0 },
  };
  const data = await waitFor(async () => {
    const d = await loadOverview(deps);
    const seen = JSON.stringify({ payram: providerTotals(d, "payram"), payske: providerTotals(d, "payske"), exhausted: d.deliveries?.exhausted });
    // Thrown, so a timeout says what was seen last.
    if (seen !== JSON.stringify({ ...expected, exhausted: 1 })) throw new Error(`seen ${seen}`);
    return d;
  }, "the overview's counts");

  // Per provider, exactly what was sent, in the minutes this test ran; nothing for the others.
  for (const p of data.activity!.providers) {
    const total = Object.values(p.totals).reduce((a, b) => a + b, 0);
    if (p.provider !== "payram" && p.provider !== "payske") expect([p.provider, total]).toEqual([p.provider, 0]);
    p.perMinute.accepted.forEach((n, i) => {
      const minute = activityMinute(data.activity!.from) + i;
      if (minute < activityMinute(startedAt)) expect([p.provider, minute, n]).toEqual([p.provider, minute, 0]);
    });
  }
  // Each minute's hash expires.
  const ttl = await direct.ttl(activityKey(PREFIX, activityMinute(data.now)));
  const ttlBefore = await direct.ttl(activityKey(PREFIX, activityMinute(data.now) - 1));
  expect(Math.max(ttl, ttlBefore)).toBeGreaterThan(0);
  expect(Math.max(ttl, ttlBefore)).toBeLessThanOrEqual(ACTIVITY_RETENTION_S);

  // Queue depths as BullMQ counts them, and the oldest waiting job of payment-events (nobody consumes it).
  for (const [key, queue] of Object.entries(deps.queues)) {
    const counts = await queue.getJobCounts("waiting", "active", "delayed", "failed");
    const row = data.queues!.find((r) => r.name === queue.name);
    expect([key, row?.counts]).toEqual([key, counts]);
  }
  const oldest = (await deps.queues.paymentEvents.getJobs(["waiting"], 0, -1, true))[0]!;
  expect(data.queues!.find((r) => r.name === QUEUES.paymentEvents)!.oldestWaitingAt).toBe(oldest.timestamp);
  expect(data.queues!.find((r) => r.name === QUEUES.payram)!.oldestWaitingAt).toBeNull();

  // Merchant delivery failures: the attempt that got no 2xx, and the failed job.
  expect(data.deliveries).toEqual({ failedAttempts: 0, exhausted: 1, delivered: 2 });
  expect(data.merchantFailedJobs).toBe(1);

  // The last failures, newest first: the merchant delivery (its order) and the quarantined Payram body (no order known).
  expect(data.failures!.map((f) => [f.queue, f.jobId === EXHAUSTED_ID ? EXHAUSTED_ID : "payram job", f.orderId])).toEqual([
    [QUEUES.merchantWebhooks, EXHAUSTED_ID, ORDER_ID],
    [QUEUES.payram, "payram job", null],
  ]);
  const quarantined = data.failures![1]!;
  expect(quarantined.reason).toMatch(/^quarantined: /);

  // The page says the same, over HTTP.
  const res = await fetch(pageUrl);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/html/);
  const text = await res.text();
  expect(text).toContain('data-provider="payram"');
  expect(text).toContain("<strong>2</strong> accepted · 1 duplicate · <span class=\"warn\">1 refused</span> · <span class=\"bad\">1 quarantined</span>");
  expect(text).toContain(`<a href="/console/orders/${ORDER_ID}"><span class="mono">${ORDER_ID}</span></a>`);
  expect(text).toContain(`<a href="/console/search?q=${encodeURIComponent(quarantined.jobId)}">find job</a>`);
  expect(text).toMatch(/<tr data-queue="merchant-webhooks">.*<td class="bad">1<\/td>/);
});

it("writes the ingress's counts in batches, and keeps them through a Redis outage for the next write", async () => {
  const own = await startRedisServer({ aof: true });
  const client = new IORedis({ path: own.socketPath, maxRetriesPerRequest: 1, enableOfflineQueue: false });
  await new Promise<void>((r) => client.once("ready", () => r()));
  client.on("error", () => undefined);
  const at = Date.now();
  const writer = createActivityWriter({ redis: client, prefix: "w", flushMs: 60_000, now: () => at });
  try {
    writer.add("payram", "accepted", at);
    writer.add("payram", "accepted", at);
    writer.add("click", "refused", at);
    // Nothing is written before the batch is (the flush interval here is a minute).
    expect(await client.exists(activityKey("w", activityMinute(at)))).toBe(0);
    await writer.flush();
    expect(await client.hgetall(activityKey("w", activityMinute(at)))).toEqual({ "payram|accepted": "2", "click|refused": "1" });

    await own.stop();
    writer.add("payram", "duplicate", at);
    await writer.flush(); // fails: kept
    await own.restart();
    await waitFor(() => client.status === "ready" || undefined, "the client reconnected");
    writer.add("payram", "duplicate", at);
    await writer.flush();
    expect(await client.hgetall(activityKey("w", activityMinute(at)))).toEqual({ "payram|accepted": "2", "click|refused": "1", "payram|duplicate": "2" });
  } finally {
    client.disconnect();
    await removeRedisServer(own);
  }
});
