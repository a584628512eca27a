/**
 * The `payhooks` command as an operator runs it: a real child process against a private Redis,
 * with jobs a real worker process failed because of their input (nothing in BullMQ is mocked).
 */
import { resolve } from "node:path";
import { Queue } from "bullmq";
import { JOB_OPTIONS, QUEUES, createLedger, createRedis, type Envelope, type RedisConnection } from "@payhooks/core";
import {
  paymeCall,
  paymeId,
  removeRedisServer,
  spawnNode,
  startIngress,
  startMerchantEndpoint,
  startRedisServer,
  startWorker,
  waitFor,
  type NodeProcess,
  type RedisServer,
} from "@payhooks/testing";

const CLI = resolve(__dirname, "../dist/payhooks.js");
const PREFIX = "cli";
const MERCHANT_SECRET = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;

let redisServer: RedisServer;
let redis: RedisConnection;
let worker: NodeProcess;
let merchantStatus = 500;
let merchant: Awaited<ReturnType<typeof startMerchantEndpoint>>;
let payram: Queue;
let deliveries: Queue;

beforeAll(async () => {
  redisServer = await startRedisServer();
  redis = createRedis(redisServer.url, "worker", "cli-test");
  merchant = await startMerchantEndpoint(() => merchantStatus);
  worker = await startWorker({ REDIS_URL: redisServer.url, QUEUE_PREFIX: PREFIX, MERCHANT_WEBHOOK_URL: merchant.url, MERCHANT_WEBHOOK_SECRET: MERCHANT_SECRET });
  payram = new Queue(QUEUES.payram, { connection: { path: redisServer.socketPath }, prefix: PREFIX });
  deliveries = new Queue(QUEUES.merchantWebhooks, { connection: { path: redisServer.socketPath }, prefix: PREFIX });
}, 30_000);

afterAll(async () => {
  await Promise.all([payram?.close(), deliveries?.close()]);
  await worker?.stop();
  await merchant?.close();
  redis?.disconnect();
  await removeRedisServer(redisServer);
});

/** Runs `payhooks …` to its exit. */
async function cli(...args: string[]): Promise<{ code: number | null; out: string; json: () => any }> {
  const proc = spawnNode(CLI, { REDIS_URL: redisServer.url, QUEUE_PREFIX: PREFIX }, args);
  const code = await proc.stop("SIGCONT"); // SIGCONT changes nothing: just wait for the exit
  const out = proc.output();
  return { code, out, json: () => JSON.parse(out) };
}

function envelope(body: Record<string, unknown>): Envelope {
  return { provider: "payram", deliveryId: "d", receivedAt: Date.now(), rawBody: JSON.stringify(body), payload: body, headers: { "user-agent": "payram" } };
}

async function finished(queue: Queue, jobId: string): Promise<string> {
  return waitFor(async () => {
    const state = await (await queue.getJob(jobId))?.getState();
    return state === "completed" || state === "failed" ? state : undefined;
  }, `job ${jobId} finished`);
}

describe("with real jobs", () => {
  beforeAll(async () => {
    const ledger = createLedger({ redis, prefix: PREFIX });
    await ledger.putOrder("order-cli-1", { amount: 4_999, currency: "USD", references: { payram: "ref-cli-1" } });
    // Completed: a payment that pays order-cli-1 (and queues a merchant delivery, which fails: 500).
    await payram.add("payram.notification", envelope({ reference_id: "ref-cli-1", status: "FILLED", amount: "49.99", currency: "USD" }), { ...JOB_OPTIONS.provider, jobId: "payram-good" });
    // Quarantined (failed by its input, kept for a retry after an upgrade): money with more precision than the currency has.
    await payram.add("payram.notification", envelope({ reference_id: "ref-cli-2", status: "FILLED", amount: "1.001", currency: "USD", email: "payer@example.com" }), { ...JOB_OPTIONS.provider, jobId: "payram-bad-money" });
    expect(await finished(payram, "payram-good")).toBe("completed");
    expect(await finished(payram, "payram-bad-money")).toBe("failed");
  });

  it("status: counts per queue and the workers connected", async () => {
    const { code, json } = await cli("status", "--json");
    expect(code).toBe(0);
    const rows = json() as Array<{ queue: string; failed: number; completed: number; workers: number; oldestWaitingSeconds: number | null }>;
    expect(rows.map((r) => r.queue).sort()).toEqual(Object.values(QUEUES).sort());
    expect(rows.find((r) => r.queue === "payram")).toMatchObject({ failed: 1, completed: 1, workers: 1, oldestWaitingSeconds: null });
    const table = await cli("status");
    expect(table.out).toMatch(/^queue\s+waiting\s+active\s+delayed\s+failed\s+completed/m);
  });

  it("jobs: failed ones by default, newest first, with attempts and the last error", async () => {
    const { code, json } = await cli("jobs", "payram", "--json");
    expect(code).toBe(0);
    expect(json()).toEqual([
      expect.objectContaining({ id: "payram-bad-money", state: "failed", provider: "payram", attempts: "1/8", lastError: expect.stringMatching(/^quarantined: .*more precision/) }),
    ]);
    expect((await cli("jobs", "payram", "--state", "completed", "--json")).json()).toEqual([
      expect.objectContaining({ id: "payram-good", state: "completed", order: "order-cli-1" }),
    ]);
    expect((await cli("jobs", "payram", "--state", "completed", "--provider", "payske", "--json")).json()).toEqual([]);
  });

  it("jobs --order reads the job index: the provider job and the event jobs of that order", async () => {
    expect((await cli("jobs", "payram", "--order", "order-cli-1", "--json")).json()).toEqual([expect.objectContaining({ id: "payram-good" })]);
    const events = (await cli("jobs", "payment-events", "--order", "order-cli-1", "--json")).json() as Array<{ order: string }>;
    expect(events).toHaveLength(1);
    expect(events[0]!.order).toBe("order-cli-1");
    expect((await cli("jobs", "payram", "--order", "no-such-order", "--json")).json()).toEqual([]);
    expect((await cli("jobs", "payram", "--order", "order-cli-1", "--since", "1h", "--json")).json()).toHaveLength(1);
  });

  it("deliveries: the order's merchant attempts from its timeline, the first made in line and failed, with its next retry", async () => {
    const rows = (await cli("deliveries", "order-cli-1", "--json")).json() as Array<Record<string, unknown>>;
    expect(rows[0]).toMatchObject({ attempt: 1, via: "inline", status: 500, error: "merchant endpoint answered 500", nextRetryAt: expect.any(String) });
    expect(rows[0]!["event"]).toMatch(/^evt_[0-9a-f]{32}$/);
    expect(await deliveries.getJob(rows[0]!["event"] as string)).toBeDefined();
    expect((await cli("deliveries", "no-such-order", "--json")).json()).toEqual([]);
    expect((await cli("deliveries", "order-cli-1")).out).toMatch(/inline\s+500/);
  });

  it("show: the data with personal data redacted, every attempt's error, and the ledger entry", async () => {
    const failed = (await cli("show", "payram", "payram-bad-money", "--json")).json();
    expect(failed.data.payload.email).toBe("[redacted]");
    expect(failed.data.rawBody).toMatch(/^\[redacted: \d+ bytes\]$/);
    expect(failed.errors).toHaveLength(1);
    expect(failed.errors[0]).toMatch(/more precision/);
    expect(failed.ledger).toBeNull();
    const good = (await cli("show", "payram", "payram-good", "--json")).json();
    expect(good.ledger).toMatchObject({ provider: "payram", providerPaymentId: "ref-cli-1", orderId: "order-cli-1", attached: true, providerStatus: "FILLED", facts: { status: "succeeded", settled: 4_999 } });
  });

  it("retry: a delivery that failed while the merchant answered 500 completes once the merchant is back", async () => {
    const event = (await cli("jobs", "payment-events", "--order", "order-cli-1", "--json")).json()[0] as { id: string };
    const delivery = (await deliveries.getJob(event.id))!;
    // The real delivery job would back off for hours; this copy gets one attempt so it fails now.
    await deliveries.add("merchant.deliver", delivery.data, { attempts: 1, jobId: "delivery-once" });
    expect(await finished(deliveries, "delivery-once")).toBe("failed");

    const dry = await cli("retry", "merchant-webhooks", "--all-failed", "--dry-run", "--json");
    expect(dry.code).toBe(0);
    expect(dry.json()).toMatchObject({ dryRun: true, jobs: [expect.objectContaining({ id: "delivery-once" })] });
    expect(await (await deliveries.getJob("delivery-once"))!.getState()).toBe("failed");

    merchantStatus = 204;
    const retried = await cli("retry", "merchant-webhooks", "delivery-once");
    expect(retried.code).toBe(0);
    expect(retried.out).toMatch(/retrying delivery-once/);
    expect(await finished(deliveries, "delivery-once")).toBe("completed");
    // Retrying what did not fail is refused.
    const again = await cli("retry", "merchant-webhooks", "delivery-once");
    expect(again.code).toBe(1);
    expect(again.out).toMatch(/is completed: only failed and delayed jobs are retried/);
  });

  it("retry of a delayed job runs it now instead of at its time", async () => {
    const event = (await cli("jobs", "payment-events", "--order", "order-cli-1", "--json")).json()[0] as { id: string };
    const data = (await deliveries.getJob(event.id))!.data;
    // Due in an hour: only the command can make it run while this test waits.
    await deliveries.add("merchant.deliver", data, { ...JOB_OPTIONS.merchantWebhook, delay: 3_600_000, jobId: "delivery-later" });
    expect(await (await deliveries.getJob("delivery-later"))!.getState()).toBe("delayed");

    const ran = await cli("retry", "merchant-webhooks", "delivery-later", "--json");
    expect(ran.code).toBe(0);
    expect(ran.json()).toMatchObject({ id: "delivery-later", was: "delayed" });
    expect(await finished(deliveries, "delivery-later")).toBe("completed");
  });

  it("retry --all: every failed and delayed job; --dry-run only lists them; --all-failed leaves delayed ones", async () => {
    const event = (await cli("jobs", "payment-events", "--order", "order-cli-1", "--json")).json()[0] as { id: string };
    const data = (await deliveries.getJob(event.id))!.data;
    merchantStatus = 500;
    await deliveries.add("merchant.deliver", data, { attempts: 1, jobId: "delivery-all-failed" });
    expect(await finished(deliveries, "delivery-all-failed")).toBe("failed");
    await deliveries.add("merchant.deliver", data, { ...JOB_OPTIONS.merchantWebhook, delay: 3_600_000, jobId: "delivery-all-delayed" });
    const states = async () => [await (await deliveries.getJob("delivery-all-failed"))!.getState(), await (await deliveries.getJob("delivery-all-delayed"))!.getState()];

    const mine = (rows: Array<{ id: string; state: string }>) => rows.filter((r) => r.id.startsWith("delivery-all-")).map((r) => [r.id, r.state]).sort();
    const dry = await cli("retry", "merchant-webhooks", "--all", "--dry-run", "--json");
    expect(dry.code).toBe(0);
    expect(dry.json().dryRun).toBe(true);
    expect(mine(dry.json().jobs)).toEqual([["delivery-all-delayed", "delayed"], ["delivery-all-failed", "failed"]]);
    expect(await states()).toEqual(["failed", "delayed"]);
    const human = await cli("retry", "merchant-webhooks", "--all", "--dry-run");
    expect(human.out).toMatch(/^would run \d+ failed or delayed job\(s\)/);
    expect(human.out).toMatch(/delivery-all-delayed\s+delayed/);

    // --all-failed is what it was: failed jobs only.
    expect(mine((await cli("retry", "merchant-webhooks", "--all-failed", "--dry-run", "--json")).json().jobs)).toEqual([["delivery-all-failed", "failed"]]);

    merchantStatus = 204;
    const all = await cli("retry", "merchant-webhooks", "--all", "--json");
    expect(all.code).toBe(0);
    expect(mine(all.json().jobs)).toEqual([["delivery-all-delayed", "delayed"], ["delivery-all-failed", "failed"]]);
    expect(await finished(deliveries, "delivery-all-failed")).toBe("completed");
    expect(await finished(deliveries, "delivery-all-delayed")).toBe("completed");
  });

  it("retry takes exactly one of a job id, --all, --all-failed", async () => {
    expect((await cli("retry", "merchant-webhooks")).code).toBe(2);
    expect((await cli("retry", "merchant-webhooks", "--all", "--all-failed")).code).toBe(2);
    expect((await cli("retry", "merchant-webhooks", "some-id", "--all")).code).toBe(2);
  });

  it("retry of input that can never succeed fails again, and changes nothing", async () => {
    expect((await cli("retry", "payram", "payram-bad-money")).code).toBe(0);
    expect(await waitFor(async () => ((await (await payram.getJob("payram-bad-money"))!.getState()) === "failed" ? true : undefined), "failed again")).toBe(true);
  });

  it("replay: a completed job runs again and the ledger does not change", async () => {
    const { code, json } = await cli("replay", "payram", "payram-good", "--json");
    expect(code).toBe(0);
    expect(json()).toMatchObject({ state: "completed", result: { outcome: "ignored" }, ledgerChanged: false });
  });

  it("exit codes: unknown job 1, bad usage 2, Redis unreachable 3", async () => {
    const unknown = await cli("show", "payram", "no-such-job");
    expect(unknown.code).toBe(1);
    expect(unknown.out).toMatch(/no job no-such-job in queue payram/);
    expect((await cli("jobs", "nope")).code).toBe(2);
    expect((await cli("jobs", "payram", "--since", "yesterday")).code).toBe(2);
    expect((await cli("frobnicate")).code).toBe(2);
    const proc = spawnNode(CLI, { REDIS_URL: "redis://127.0.0.1:1", QUEUE_PREFIX: PREFIX }, ["status"]);
    expect(await proc.stop("SIGCONT")).toBe(3);
    expect(proc.output()).toMatch(/unreachable/);
  });
});

describe("Payme jobs by order", () => {
  const PAYME_KEY = "cli-payme-key";
  let ingress: Awaited<ReturnType<typeof startIngress>>;

  beforeAll(async () => {
    ingress = await startIngress({ REDIS_URL: redisServer.url, QUEUE_PREFIX: PREFIX, PAYME_KEY });
    await createLedger({ redis, prefix: PREFIX }).putOrder("order-cli-payme", { amount: 500_000, currency: "UZS" });
  }, 30_000);

  afterAll(() => ingress?.proc.stop());

  it("jobs payme --order finds every call about the order: by its account (Check, Create) and by its transaction (Perform, CheckTransaction)", async () => {
    const account = { order_id: "order-cli-payme" };
    const id = paymeId();
    expect((await paymeCall(ingress.url, PAYME_KEY, "CheckPerformTransaction", { amount: 500_000, account })).result).toEqual({ allow: true });
    expect((await paymeCall(ingress.url, PAYME_KEY, "CreateTransaction", { id, time: Date.now(), amount: 500_000, account })).result).toMatchObject({ state: 1 });
    expect((await paymeCall(ingress.url, PAYME_KEY, "PerformTransaction", { id })).result).toMatchObject({ state: 2 });
    expect((await paymeCall(ingress.url, PAYME_KEY, "CheckTransaction", { id })).result).toMatchObject({ state: 2 });
    // Another order's call, and one about no transaction at all, are not this order's.
    expect((await paymeCall(ingress.url, PAYME_KEY, "CheckPerformTransaction", { amount: 500_000, account: { order_id: "order-cli-other" } })).error).toMatchObject({ code: -31050 });
    expect((await paymeCall(ingress.url, PAYME_KEY, "PerformTransaction", { id: paymeId() })).error).toMatchObject({ code: -31003 });

    // The worker indexes a job when it completes, just after the ingress has its answer.
    const rows = await waitFor(async () => {
      const r = (await cli("jobs", "payme", "--order", "order-cli-payme", "--state", "completed", "--json")).json() as Array<{ id: string; order: string }>;
      return r.length >= 4 ? r : undefined;
    }, "four Payme jobs under the order");
    expect(rows).toHaveLength(4);
    expect(rows.map((r) => r.order)).toEqual(["order-cli-payme", "order-cli-payme", "order-cli-payme", "order-cli-payme"]);
    const methods = await Promise.all(rows.map(async (r) => (await cli("show", "payme", r.id, "--json")).json().name as string));
    expect(methods.sort()).toEqual(["CheckPerformTransaction", "CheckTransaction", "CreateTransaction", "PerformTransaction"]);
    const other = await waitFor(async () => {
      const r = (await cli("jobs", "payme", "--order", "order-cli-other", "--state", "completed", "--json")).json() as unknown[];
      return r.length > 0 ? r : undefined;
    }, "the other order's Payme job");
    expect(other).toHaveLength(1);
  });
});
