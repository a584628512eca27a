import { UnrecoverableError, type Job } from "bullmq";
import pino from "pino";
import { addToWorkerMetrics, createRedis, observationIncrements, workerMetricsKey, type RedisConnection } from "@payhooks/core";
import { removeRedisServer, startRedisServer, waitFor, type RedisServer } from "@payhooks/testing";
import { createWorkerMetrics } from "./metrics";

let redis: RedisServer;
let direct: RedisConnection;
const logger = pino({ level: "silent" });

beforeAll(async () => {
  redis = await startRedisServer();
  direct = createRedis(redis.url, "worker");
});

afterAll(async () => {
  direct.disconnect();
  await removeRedisServer(redis);
});

const job = (attemptsMade = 0, attempts = 3) => ({ attemptsMade, opts: { attempts } }) as unknown as Job;

it("sums attempts in memory and writes them in one go, equal to one MULTI per attempt", async () => {
  // A flush interval no test waits for: only flush() writes.
  const metrics = createWorkerMetrics({ redis: direct, prefix: "batched", logger, flushMs: 3_600_000 });
  const ok = metrics.instrument("payram", async () => "done");
  const bad = metrics.instrument("payram", async () => { throw new Error("no"); });
  const fatal = metrics.instrumentDelivery("merchant-webhooks", async () => { throw new UnrecoverableError("gone"); });
  const delivered = metrics.instrumentDelivery("merchant-webhooks", async () => "sent");

  await expect(ok(job())).resolves.toBe("done");
  await expect(ok(job())).resolves.toBe("done");
  await expect(bad(job(0))).rejects.toThrow("no");
  await expect(bad(job(2))).rejects.toThrow("no");
  await expect(fatal(job())).rejects.toThrow("gone");
  await expect(delivered(job())).resolves.toBe("sent");
  expect(await direct.hgetall(workerMetricsKey("batched"))).toEqual({});

  await metrics.flush();
  const batched = await direct.hgetall(workerMetricsKey("batched"));

  // The same attempts, one MULTI each.
  for (const obs of [
    { queue: "payram", result: { status: "completed" } },
    { queue: "payram", result: { status: "completed" } },
    { queue: "payram", result: { status: "failed", kind: "retrying" } },
    { queue: "payram", result: { status: "failed", kind: "final" } },
    { queue: "merchant-webhooks", result: { status: "failed", kind: "final" }, delivery: "exhausted" },
    { queue: "merchant-webhooks", result: { status: "completed" }, delivery: "delivered" },
  ] as const) {
    await addToWorkerMetrics(direct, "one-by-one", observationIncrements({ ...obs, durationMs: 0 }));
  }
  const oneByOne = await direct.hgetall(workerMetricsKey("one-by-one"));
  const withoutSums = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).filter(([k]) => !k.endsWith("|sum_us")));
  expect(withoutSums(batched)).toEqual(withoutSums(oneByOne));
  expect(batched["dur|payram|completed|count"]).toBe("2");
  expect(batched["fail|payram|final"]).toBe("1");
  expect(batched["delivery|exhausted"]).toBe("1");

  // Nothing is written twice.
  await metrics.flush();
  expect(await direct.hgetall(workerMetricsKey("batched"))).toEqual(batched);
});

it("writes on its own within the flush interval", async () => {
  const metrics = createWorkerMetrics({ redis: direct, prefix: "timed", logger, flushMs: 20 });
  await metrics.instrument("payske", async () => 1)(job());
  await waitFor(async () => (await direct.hget(workerMetricsKey("timed"), "dur|payske|completed|count")) === "1" || undefined, "the timed write", 5_000);
});

it("keeps what it could not write while Redis is down, and writes it once Redis is back", async () => {
  const producer = createRedis(redis.url, "producer");
  await waitFor(() => producer.status === "ready" || undefined, "producer ready");
  const metrics = createWorkerMetrics({ redis: producer, prefix: "outage", logger, flushMs: 3_600_000 });
  const ok = metrics.instrument("robokassa", async () => 1);
  await ok(job());
  await redis.stop("SIGKILL");
  await ok(job());
  await metrics.flush(); // fails: kept
  await redis.restart(); // an empty Redis: nothing had been written before the kill
  await waitFor(() => producer.status === "ready" || undefined, "producer reconnected", 10_000);
  await ok(job());
  await metrics.flush();
  expect(await producer.hget(workerMetricsKey("outage"), "dur|robokassa|completed|count")).toBe("3");
  producer.disconnect();
});
