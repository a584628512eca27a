/**
 * GET /metrics on the admin port (README, "Metrics"), against real ingress and worker processes, a real
 * merchant endpoint and a private redis-server. Real traffic goes in over HTTP for all four
 * providers — accepted, redelivered, badly signed, malformed — plus a job that fails by its
 * input and merchant deliveries that fail once and for good; then the scrape must show exactly
 * those figures, queue gauges equal to BullMQ's own getJobCounts, and the workers' job figures
 * summed through Redis.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import IORedis from "ioredis";
import { Queue } from "bullmq";
import {
  JOB_DURATION_BUCKETS_SECONDS,
  JOB_OPTIONS,
  QUEUES,
  addToWorkerMetrics,
  duplicateAdds,
  durationBucket,
  observationIncrements,
  readWorkerMetrics,
  workerMetricsKey,
} from "@payhooks/core";
import { signForTest as signPayram } from "@payhooks/payram";
import { signForTest as signPayske } from "@payhooks/payske";
import { signForTest as signRobokassa } from "@payhooks/robokassa";
import {
  paymeAuth,
  paymeCall,
  removeRedisServer,
  startIngress,
  startRedisServer,
  startWorker,
  drained,
  waitFor,
  type NodeProcess,
  type RedisServer,
} from "@payhooks/testing";

const ADMIN_TOKEN = "metrics-admin-token-0123456789";
const PAYRAM_SECRET = "metrics-payram-project-key";
const PAYSKE_SECRET = "whsec_metricsPayskeSecret0123456789";
const RK_PASSWORD1 = "metrics-rk-pass-1";
const RK_PASSWORD2 = "metrics-rk-pass-2";
const PAYME_KEY = "metrics-payme-key-0123456789";
const PREFIX = `mtr${process.pid}`;
const EXHAUSTED_ID = "evt_metrics_exhausted";

let redis: RedisServer;
let ingress: Awaited<ReturnType<typeof startIngress>>;
let worker: NodeProcess;
let merchant: Server;
let merchantRequests = 0;
let direct: IORedis;
const queues = new Map<string, Queue>();

beforeAll(async () => {
  redis = await startRedisServer();
  // The merchant answers 500 to its first ordinary delivery (retried 2 s later) and always to EXHAUSTED_ID.
  let ordinary = 0;
  merchant = createServer((req, res) => {
    merchantRequests += 1;
    const failing = req.headers["webhook-id"] === EXHAUSTED_ID || ++ordinary === 1;
    req.resume().on("end", () => {
      res.statusCode = failing ? 500 : 204;
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
    ROBOKASSA_PASSWORD1: RK_PASSWORD1,
    ROBOKASSA_PASSWORD2: RK_PASSWORD2,
    PAYME_KEY,
    PAYME_RPC_TIMEOUT_MS: "5000",
    MERCHANT_WEBHOOK_URL: `http://127.0.0.1:${(merchant.address() as AddressInfo).port}/hooks`,
    MERCHANT_WEBHOOK_SECRET: `whsec_${randomBytes(32).toString("base64")}`,
    // Every event a merchant-webhooks job, so the job figures below are exact whichever event the
    // merchant fails first (first attempts made in line are counted in merchant.int.test.ts).
    MERCHANT_FIRST_ATTEMPT: "job",
  };
  [ingress, worker] = await Promise.all([startIngress(env), startWorker(env)]);
  direct = new IORedis({ path: redis.socketPath, maxRetriesPerRequest: 1 });
  for (const name of Object.values(QUEUES)) queues.set(name, new Queue(name, { connection: { path: redis.socketPath }, prefix: PREFIX }));
}, 30_000);

/**
 * Closes this file's own Redis clients (idempotent). The Redis-down case calls it before it stops
 * the server: a client still reconnecting when it is closed leaves ioredis's 2 s disconnect timer
 * behind, and jest would wait for it.
 */
async function closeTestClients(): Promise<void> {
  const open = [...queues.values()];
  queues.clear();
  await Promise.all(open.map((q) => q.close()));
  if (direct?.status === "ready") await direct.quit();
  else if (direct && direct.status !== "end") direct.disconnect();
}

afterAll(async () => {
  await closeTestClients();
  await Promise.all([ingress?.proc.stop(), worker?.stop()]);
  await new Promise<void>((r) => (merchant ? merchant.close(() => r()) : r()));
  await removeRedisServer(redis);
});

const queue = (name: string): Queue => queues.get(name)!;

// ---- the four providers, as they send -------------------------------------------------------

async function payram(body: string, secret = PAYRAM_SECRET): Promise<number> {
  const res = await fetch(`${ingress.url}/webhooks/payram`, { method: "POST", headers: signPayram(body, secret, "signature"), body });
  await res.arrayBuffer();
  return res.status;
}

async function payske(body: string, header = signPayske(body, PAYSKE_SECRET, Math.floor(Date.now() / 1000))): Promise<number> {
  const res = await fetch(`${ingress.url}/webhooks/payske`, {
    method: "POST",
    headers: { "content-type": "application/json", "payske-signature": header },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

async function robokassa(params: Record<string, string>): Promise<{ status: number; body: string }> {
  const res = await fetch(`${ingress.url}/webhooks/robokassa/result`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(params).toString(),
  });
  return { status: res.status, body: await res.text() };
}

async function paymeRaw(body: string): Promise<{ error?: { code: number } }> {
  const res = await fetch(`${ingress.url}/webhooks/payme`, {
    method: "POST",
    headers: { "content-type": "text/json; charset=UTF-8", authorization: paymeAuth(PAYME_KEY) },
    body,
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { error?: { code: number } };
}

// ---- reading a scrape -----------------------------------------------------------------------

type Sample = { name: string; labels: Record<string, string>; value: number };

function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparseable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The one sample with exactly these labels (undefined when absent). */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter(
    (s) => s.name === name && Object.keys(s.labels).length === Object.keys(labels).length && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} appears ${found.length} times`);
  return found[0]?.value;
}

async function scrape(token: string | null = ADMIN_TOKEN): Promise<{ status: number; type: string | null; text: string }> {
  const res = await fetch(`${ingress.adminUrl}/metrics`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return { status: res.status, type: res.headers.get("content-type"), text: await res.text() };
}

const drainedQueues = (names: string[]) => drained(names.map(queue));

it("counts every request by provider and outcome, times the acks, and renders queue and worker figures from Redis", async () => {
  // Payram: two new payments, a redelivery, a bad signature, and two signed bodies it cannot read
  // (not JSON; no notification): acknowledged, then quarantined by the worker.
  const fill = (ref: string) => JSON.stringify({ reference_id: ref, status: "FILLED", amount: "49.99", filled_amount: "49.99", currency: "USD" });
  expect(await payram(fill("3c6a6e1e-0001-4d7e-8f7e-4a2b1c0d9e8f"))).toBe(200);
  expect(await payram(fill("3c6a6e1e-0001-4d7e-8f7e-4a2b1c0d9e8f"))).toBe(200);
  expect(await payram(fill("3c6a6e1e-0002-4d7e-8f7e-4a2b1c0d9e8f"))).toBe(200);
  expect(await payram(fill("3c6a6e1e-0003-4d7e-8f7e-4a2b1c0d9e8f"), "not-the-project-key")).toBe(401);
  expect(await payram("{not json")).toBe(200);
  expect(await payram(JSON.stringify({ status: "FILLED" }))).toBe(200);

  // Payske: a new event, its redelivery, the same header over a tampered body, a signed body that
  // is not JSON (acknowledged, quarantined).
  const event = JSON.stringify({
    id: `evt_metrics${Date.now()}`,
    object: "event",
    type: "payment_intent.succeeded",
    created: Math.floor(Date.now() / 1000),
    livemode: true,
    data: { object: { id: "pi_metrics_1", object: "payment_intent", amount: 4_999, amount_received: 4_999, currency: "usd", metadata: {} } },
  });
  const header = signPayske(event, PAYSKE_SECRET, Math.floor(Date.now() / 1000));
  expect(await payske(event, header)).toBe(200);
  expect(await payske(event, header)).toBe(200);
  expect(await payske(event.replace("4999", "4998"), header)).toBe(400);
  expect(await payske("{")).toBe(200);

  // RoboKassa ResultURL: a notice, its redelivery, another OutSum under the same signature, no OutSum at all.
  const notice = signRobokassa({ OutSum: "100.00", InvId: "7001", Shp_lang: "ru" }, RK_PASSWORD2);
  expect(await robokassa(notice)).toEqual({ status: 200, body: "OK7001" });
  expect(await robokassa(notice)).toEqual({ status: 200, body: "OK7001" });
  expect((await robokassa({ ...notice, OutSum: "1.00" })).status).toBe(400);
  const { OutSum: _dropped, ...noSum } = notice;
  expect(await robokassa(noSum)).toEqual({ status: 400, body: "missing OutSum" });

  // Payme: one call a worker answers (-31050, no such order: still an answered call), a wrong key,
  // unparseable JSON, an unknown method.
  const answered = await paymeCall(ingress.url, PAYME_KEY, "CheckPerformTransaction", { amount: 500_000, account: { order_id: "no-such-order" } });
  expect(answered.error?.code).toBe(-31050);
  expect((await paymeCall(ingress.url, "wrong-key", "CheckPerformTransaction", { amount: 1, account: { order_id: "x" } })).error?.code).toBe(-32504);
  expect((await paymeRaw("{not json")).error?.code).toBe(-32700);
  expect((await paymeRaw(JSON.stringify({ id: 9, method: "NoSuchMethod", params: {} }))).error?.code).toBe(-32601);

  // A job that fails by its input (no valid envelope): UnrecoverableError, failed at once.
  await queue(QUEUES.payram).add("payram.notification", { provider: "payram" }, { ...JOB_OPTIONS.provider, jobId: "payram-bad-envelope" });
  // A merchant delivery that never gets a 2xx, on its last attempt.
  await queue(QUEUES.merchantWebhooks).add("merchant.deliver", { id: EXHAUSTED_ID, type: "payment.succeeded" }, { attempts: 1, jobId: EXHAUSTED_ID });

  await drainedQueues([QUEUES.payme, QUEUES.payram, QUEUES.payske, QUEUES.robokassa]);
  // 4 PaymentEvents (2 Payram, 1 Payske, 1 RoboKassa), each delivered; the first ordinary delivery is retried after 2 s.
  const events = await queue(QUEUES.paymentEvents).getJobCounts("waiting");
  expect(events["waiting"]).toBe(4);
  await waitFor(async () => {
    const c = await queue(QUEUES.merchantWebhooks).getJobCounts("completed", "failed", "waiting", "active", "delayed");
    return (c["completed"] === 4 && c["failed"] === 1 && c["waiting"] === 0 && c["active"] === 0 && c["delayed"] === 0) || undefined;
  }, "merchant deliveries settled");
  expect(merchantRequests).toBe(6);

  // No token, or the wrong one: 401, as for every admin route.
  expect((await scrape(null)).status).toBe(401);
  expect((await scrape("not-the-admin-token-0123")).status).toBe(401);

  // Workers write their figures at most every METRICS_FLUSH_MS: wait for the last write (15 job
  // attempts, 6 delivery attempts), then every figure below must be exact.
  await waitFor(async () => {
    const s = parseExposition((await scrape()).text).filter((x) => x.name === "payhooks_job_duration_seconds_count" || x.name === "payhooks_merchant_deliveries_total");
    return s.reduce((sum, x) => sum + x.value, 0) === 15 + 6 || undefined;
  }, "the workers' figures in Redis");
  const scraped = await scrape();
  expect(scraped.status).toBe(200);
  expect(scraped.type).toMatch(/^text\/plain; version=0\.0\.4/);
  const samples = parseExposition(scraped.text);
  const expectedAt = Date.now();

  const requests = {
    payram: { accepted: 4, duplicate: 1, rejected_signature: 1, rejected_payload: 0, unavailable: 0 },
    payske: { accepted: 2, duplicate: 1, rejected_signature: 1, rejected_payload: 0, unavailable: 0 },
    robokassa: { accepted: 1, duplicate: 1, rejected_signature: 1, rejected_payload: 1, unavailable: 0 },
    payme: { accepted: 1, duplicate: 0, rejected_signature: 1, rejected_payload: 2, unavailable: 0 },
  };
  for (const [provider, outcomes] of Object.entries(requests)) {
    for (const [outcome, n] of Object.entries(outcomes)) {
      expect([provider, outcome, valueOf(samples, "payhooks_webhook_requests_total", { provider, outcome })]).toEqual([provider, outcome, n]);
    }
    // Every request was timed from its start to its response's end.
    const total = Object.values(outcomes).reduce((a, b) => a + b, 0);
    expect(valueOf(samples, "payhooks_webhook_ack_duration_seconds_count", { provider })).toBe(total);
    expect(valueOf(samples, "payhooks_webhook_ack_duration_seconds_bucket", { provider, le: "+Inf" })).toBe(total);
    expect(valueOf(samples, "payhooks_webhook_ack_duration_seconds_sum", { provider })).toBeGreaterThan(0);
    const buckets = samples.filter((s) => s.name === "payhooks_webhook_ack_duration_seconds_bucket" && s.labels["provider"] === provider).map((s) => s.value);
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
  }

  // Queue gauges equal BullMQ's own counts, for every queue.
  expect(valueOf(samples, "payhooks_metrics_redis_up")).toBe(1);
  for (const name of Object.values(QUEUES)) {
    const counts = await queue(name).getJobCounts("waiting", "active", "delayed", "failed");
    for (const state of ["waiting", "active", "delayed", "failed"]) {
      expect([name, state, valueOf(samples, "payhooks_queue_jobs", { queue: name, state })]).toEqual([name, state, counts[state]]);
    }
  }
  expect(valueOf(samples, "payhooks_queue_jobs", { queue: QUEUES.payram, state: "failed" })).toBe(3);
  expect(valueOf(samples, "payhooks_queue_jobs", { queue: QUEUES.payske, state: "failed" })).toBe(1);
  expect(valueOf(samples, "payhooks_queue_jobs", { queue: QUEUES.merchantWebhooks, state: "failed" })).toBe(1);
  // Nobody consumes payment-events in this test: its oldest job has waited since it was created.
  const [oldest] = await queue(QUEUES.paymentEvents).getJobs(["waiting"], 0, -1, true);
  const age = valueOf(samples, "payhooks_queue_oldest_waiting_age_seconds", { queue: QUEUES.paymentEvents })!;
  expect(age).toBeGreaterThan(0);
  expect(age).toBeLessThanOrEqual((expectedAt - oldest!.timestamp) / 1000);
  expect(age).toBeGreaterThanOrEqual((expectedAt - oldest!.timestamp) / 1000 - 5);
  expect(valueOf(samples, "payhooks_queue_oldest_waiting_age_seconds", { queue: QUEUES.payram })).toBe(0);

  // The workers' figures, summed in Redis and rendered here.
  const jobs = [
    [QUEUES.payram, "completed", 2],
    [QUEUES.payram, "failed", 3],
    [QUEUES.payske, "failed", 1],
    [QUEUES.payske, "completed", 1],
    [QUEUES.robokassa, "completed", 1],
    [QUEUES.payme, "completed", 1],
    [QUEUES.merchantWebhooks, "completed", 4],
    [QUEUES.merchantWebhooks, "failed", 2],
  ] as const;
  for (const [q, status, n] of jobs) {
    const labels = { queue: q, status };
    expect([q, status, valueOf(samples, "payhooks_job_duration_seconds_count", labels)]).toEqual([q, status, n]);
    expect(valueOf(samples, "payhooks_job_duration_seconds_bucket", { ...labels, le: "+Inf" })).toBe(n);
    expect(valueOf(samples, "payhooks_job_duration_seconds_sum", labels)).toBeGreaterThan(0);
    const buckets = JOB_DURATION_BUCKETS_SECONDS.map((le) => valueOf(samples, "payhooks_job_duration_seconds_bucket", { ...labels, le: String(le) })!);
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
    expect(buckets[buckets.length - 1]).toBeLessThanOrEqual(n);
  }
  expect(valueOf(samples, "payhooks_job_failures_total", { queue: QUEUES.payske, kind: "quarantined" })).toBe(1);
  expect(valueOf(samples, "payhooks_job_failures_total", { queue: QUEUES.payram, kind: "final" })).toBe(1);
  expect(valueOf(samples, "payhooks_job_failures_total", { queue: QUEUES.payram, kind: "quarantined" })).toBe(2);
  expect(valueOf(samples, "payhooks_job_failures_total", { queue: QUEUES.payram, kind: "retrying" })).toBeUndefined();
  expect(valueOf(samples, "payhooks_job_failures_total", { queue: QUEUES.merchantWebhooks, kind: "retrying" })).toBe(1);
  expect(valueOf(samples, "payhooks_job_failures_total", { queue: QUEUES.merchantWebhooks, kind: "final" })).toBe(1);
  expect(valueOf(samples, "payhooks_merchant_deliveries_total", { outcome: "delivered" })).toBe(4);
  expect(valueOf(samples, "payhooks_merchant_deliveries_total", { outcome: "failed_attempt" })).toBe(1);
  expect(valueOf(samples, "payhooks_merchant_deliveries_total", { outcome: "exhausted" })).toBe(1);

  // A second scrape reads Redis again: the counters do not double.
  const again = parseExposition((await scrape()).text);
  expect(valueOf(again, "payhooks_merchant_deliveries_total", { outcome: "delivered" })).toBe(4);
  expect(valueOf(again, "payhooks_job_duration_seconds_count", { queue: QUEUES.payram, status: "completed" })).toBe(2);
});

it("tells a duplicate add from a new one by the stored job's timestamp, whatever the job's state", async () => {
  const q = new Queue(`dup-${Date.now()}`, { connection: { path: redis.socketPath }, prefix: PREFIX });
  try {
    const first = await q.add("x", { n: 1 }, { jobId: "dup-1" });
    expect((await duplicateAdds(direct, [{ queue: q, job: first }]))[0]).toBe(false);
    await new Promise((r) => setTimeout(r, 5)); // a later millisecond, as any real redelivery is
    const second = await q.add("x", { n: 2 }, { jobId: "dup-1" });
    // BullMQ returns a client-side Job for both: its timestamp and data are the caller's, not the stored job's.
    expect(second.id).toBe("dup-1");
    expect(second.data).toEqual({ n: 2 });
    expect(second.timestamp).toBeGreaterThan(first.timestamp);
    expect((await duplicateAdds(direct, [{ queue: q, job: second }]))[0]).toBe(true);
    // Still a duplicate once the first has failed (or completed): the id is taken as long as the job is kept.
    await direct.hset(q.toKey("dup-1"), "failedReason", "x");
    await direct.lrem(q.toKey("wait"), 0, "dup-1");
    await direct.zadd(q.toKey("failed"), Date.now(), "dup-1");
    const third = await q.add("x", { n: 3 }, { jobId: "dup-1" });
    expect((await duplicateAdds(direct, [{ queue: q, job: third }]))[0]).toBe(true);
    expect((await q.getJob("dup-1"))!.data).toEqual({ n: 1 });
  } finally {
    await q.obliterate({ force: true });
    await q.close();
  }
});

it("keeps the worker figures in one hash with bucket counts the reader accumulates", async () => {
  const prefix = `${PREFIX}-store`;
  expect(durationBucket(0)).toBe("0.005");
  expect(durationBucket(0.005)).toBe("0.005");
  expect(durationBucket(0.0051)).toBe("0.01");
  expect(durationBucket(31)).toBe("+Inf");
  await addToWorkerMetrics(direct, prefix, observationIncrements({ queue: "q", durationMs: 3, result: { status: "completed" } }));
  await addToWorkerMetrics(direct, prefix, observationIncrements({ queue: "q", durationMs: 300, result: { status: "completed" } }));
  await addToWorkerMetrics(direct, prefix, observationIncrements({ queue: "q", durationMs: 40_000, result: { status: "completed" } }));
  await addToWorkerMetrics(direct, prefix, observationIncrements({ queue: "m", durationMs: 20, result: { status: "failed", kind: "retrying" }, delivery: "failed_attempt" }));
  // A bound no longer in the list (written by an older worker) counts in the next larger one.
  await direct.hincrby(workerMetricsKey(prefix), "dur|q|completed|le|0.02", 1);
  await direct.hincrby(workerMetricsKey(prefix), "dur|q|completed|count", 1);
  await direct.hset(workerMetricsKey(prefix), "something|else", "7");
  const read = await readWorkerMetrics(direct, prefix);
  const q = read.durations.find((d) => d.queue === "q")!;
  const at = (le: number) => q.buckets[JOB_DURATION_BUCKETS_SECONDS.indexOf(le as (typeof JOB_DURATION_BUCKETS_SECONDS)[number])];
  expect([at(0.005), at(0.01), at(0.025), at(0.25), at(0.5), at(30)]).toEqual([1, 1, 2, 2, 3, 3]);
  expect(q.count).toBe(4);
  expect(q.sumSeconds).toBeCloseTo(40.303, 6);
  expect(read.failures).toEqual([{ queue: "m", kind: "retrying", count: 1 }]);
  expect(read.deliveries).toEqual([{ outcome: "failed_attempt", count: 1 }]);
  expect(await direct.del(workerMetricsKey(prefix))).toBe(1);
});

it("still answers the scrape while Redis is down: the process's own counters stay, the Redis series go, redis_up is 0", async () => {
  // Runs last: this file's own clients are closed for good here.
  await closeTestClients();
  await redis.stop();
  try {
    const started = Date.now();
    const down = await scrape();
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(down.status).toBe(200);
    const samples = parseExposition(down.text);
    expect(valueOf(samples, "payhooks_metrics_redis_up")).toBe(0);
    expect(valueOf(samples, "payhooks_webhook_requests_total", { provider: "payram", outcome: "accepted" })).toBe(4);
    expect(samples.filter((s) => s.name.startsWith("payhooks_queue_") || s.name.startsWith("payhooks_job_"))).toEqual([]);
  } finally {
    await redis.restart();
  }
  await waitFor(async () => valueOf(parseExposition((await scrape()).text), "payhooks_metrics_redis_up") === 1 || undefined, "metrics read Redis again");
});
