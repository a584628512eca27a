/**
 * Merchant delivery's first attempt in line, against a real Redis, real BullMQ and a real HTTP
 * merchant endpoint: an event delivered at once leaves no job; a failed first attempt becomes a
 * delayed retry job on the schedule a job-only delivery has; every attempt is on the order's
 * timeline and counted once.
 */
import { Queue, Worker, type Job } from "bullmq";
import { Webhook } from "standardwebhooks";
import { OUTBOX_GRACE_MS, PaymentEventSchema, QUEUES, createJobIndex, createLedger, createRedis, type MerchantDeliveryOutcome, type PaymentEvent, type RedisConnection } from "@payhooks/core";
import { removeRedisServer, startMerchantEndpoint, startRedisServer, waitFor, type RedisServer } from "@payhooks/testing";
import { createMerchantDeliveryProcessor, type MerchantDeliveryProcessor } from "./delivery";
import { DELIVER_JOB, INLINE_PAUSE_MS, RETRY_JOB, SLOW_ATTEMPT_MS, createMerchantLane, nextRetryAt, retryJobOptions } from "./merchant";

const SECRET = `whsec_${Buffer.alloc(32, 9).toString("base64")}`;
const PREFIX = "merchant-lane-test";

let redisServer: RedisServer;
let redis: RedisConnection;
let queue: Queue;
let merchant: Awaited<ReturnType<typeof startMerchantEndpoint>>;
/** what the merchant answers next */
let answer = 204;
let delivery: MerchantDeliveryProcessor;
let seq = 0;

beforeAll(async () => {
  redisServer = await startRedisServer();
  redis = createRedis(redisServer.url, "worker", "merchant-lane-test");
  merchant = await startMerchantEndpoint(() => answer);
  delivery = createMerchantDeliveryProcessor({ url: merchant.url, secret: SECRET, timeoutMs: 2_000 });
});

beforeEach(async () => {
  answer = 204;
  queue = new Queue(QUEUES.merchantWebhooks, { connection: redis, prefix: `${PREFIX}${++seq}` });
});

afterEach(async () => {
  await queue.close();
});

afterAll(async () => {
  await delivery.close();
  await merchant.close();
  redis.disconnect();
  await removeRedisServer(redisServer);
});

/** A PaymentEvent as the ledger leaves it for a sender: in the outbox (claims need it there). */
function event(n: number): PaymentEvent {
  void redis.zadd(`${queue.opts.prefix!}:ledger:outbox`, Date.now(), eventId(n));
  return bareEvent(n);
}

const eventId = (n: number) => `evt_${n.toString(16).padStart(32, "0")}`;

function bareEvent(n: number): PaymentEvent {
  return PaymentEventSchema.parse({
    id: eventId(n),
    type: "payment.succeeded",
    provider: "payram",
    providerPaymentId: `ref-${n}`,
    orderId: `order-${n}`,
    amount: 4_999,
    currency: "USD",
    occurredAt: new Date().toISOString(),
    livemode: true,
    sequence: 1,
    data: {},
  });
}

function lane(overrides: Partial<Parameters<typeof createMerchantLane>[0]> = {}) {
  const outcomes: MerchantDeliveryOutcome[] = [];
  const jobIndex = createJobIndex({ redis, prefix: queue.opts.prefix! });
  const merchantLane = createMerchantLane({
    delivery,
    queue,
    claim: createLedger({ redis, prefix: queue.opts.prefix! }).claimEvent,
    timeoutMs: 2_000,
    firstAttempt: "inline",
    jobIndex,
    metrics: { recordDelivery: (o) => void outcomes.push(o) },
    ...overrides,
  });
  return { merchantLane, jobIndex, outcomes };
}

it("delivers an event in line, signed, and leaves no job: the attempt is on the order's timeline and counted delivered", async () => {
  const { merchantLane, jobIndex, outcomes } = lane();
  const e = event(1);
  const before = merchant.received.length;
  expect(await merchantLane.deliver(e, true)).toBe("delivered");
  const got = merchant.received.slice(before);
  expect(got).toHaveLength(1);
  expect(got[0]!.headers["webhook-id"]).toBe(e.id);
  // Verified by the Standard Webhooks reference library, not by our own signer.
  expect(new Webhook(SECRET).verify(got[0]!.body, got[0]!.headers as Record<string, string>)).toEqual(JSON.parse(JSON.stringify(e)));
  expect(await queue.getJob(e.id)).toBeUndefined();
  expect(outcomes).toEqual(["delivered"]);
  await jobIndex.flush();
  const timeline = await jobIndex.timeline(e.orderId!);
  expect(timeline).toHaveLength(1);
  expect(timeline[0]).toMatchObject({ note: { kind: "attempt", eventId: e.id, attempt: 1, via: "inline", status: 204, final: true } });
});

it("sends an event two runs found in the outbox once: the second run leaves it to the first (which clears the outbox)", async () => {
  const { merchantLane } = lane();
  const e = event(5);
  const before = merchant.received.length;
  const results = await Promise.all([merchantLane.deliver(e, true), merchantLane.deliver(e, true), merchantLane.deliver(e, false)]);
  expect(results.sort()).toEqual(["delivered", "elsewhere", "elsewhere"]);
  expect(merchant.received.length - before).toBe(1);
  expect(await queue.getJob(e.id)).toBeUndefined();
});

it("does not send an event another run already took out of the outbox (read before that run cleared it)", async () => {
  const { merchantLane } = lane();
  const e = bareEvent(6);
  const before = merchant.received.length;
  expect(await merchantLane.deliver(e, true)).toBe("elsewhere");
  expect(await merchantLane.deliver(e, false)).toBe("elsewhere");
  expect(merchant.received.length).toBe(before);
  expect(await queue.getJob(e.id)).toBeUndefined();
});

/**
 * The worker's delivery, but each request waits at this gate (the merchant "hangs") while
 * `holding`, until `release()`; the request then goes to the real merchant endpoint.
 */
function gatedDelivery() {
  const real = createMerchantDeliveryProcessor({ url: merchant.url, secret: SECRET, timeoutMs: 10_000 });
  const gate = {
    holding: true,
    release: null as (() => void) | null,
    send: (ev: PaymentEvent) => (gate.holding ? new Promise<void>((r) => (gate.release = r)).then(() => real.send(ev)) : real.send(ev)),
    close: () => real.close(),
  };
  return gate;
}

it("a merchant that hangs stops other attempts in line once one has run past SLOW_ATTEMPT_MS; after the pause one probe at a time, then all again once it answers", async () => {
  let clock = Date.now();
  answer = 204;
  const gated = gatedDelivery();
  const { merchantLane: hung } = lane({ now: () => clock, timeoutMs: 10_000, delivery: gated });
  try {
    const first = hung.deliver(event(20), true);
    await waitFor(() => gated.release ?? undefined, "the first attempt under way");
    await new Promise((r) => setTimeout(r, SLOW_ATTEMPT_MS + 200));
    // While it hangs, another job of this lane goes straight to a job: no second attempt waits.
    const before = merchant.received.length;
    expect(await hung.deliver(event(21), true)).toBe("queued");
    expect((await queue.getJob(eventId(21)))?.name).toBe(DELIVER_JOB);
    gated.release!();
    expect(await first).toBe("delivered"); // delivered, but slowly: still paused
    expect(await hung.deliver(event(22), true)).toBe("queued");
    // The pause over: one probe at a time.
    clock += INLINE_PAUSE_MS + 1;
    gated.release = null;
    const probe = hung.deliver(event(23), true);
    await waitFor(() => gated.release ?? undefined, "the probe under way");
    expect(await hung.deliver(event(24), true)).toBe("queued");
    gated.release!();
    expect(await probe).toBe("delivered");
    // The probe answered at once: every job of this lane attempts in line again, side by side.
    gated.holding = false;
    expect(await Promise.all([hung.deliver(event(25), true), hung.deliver(event(26), true)])).toEqual(["delivered", "delivered"]);
    expect(merchant.received.length - before).toBe(4);
  } finally {
    await gated.close();
  }
});

it("a quick success of an attempt that began before a failure does not end the pause: only a probe does", async () => {
  const gated = gatedDelivery();
  const { merchantLane: l } = lane({ timeoutMs: 10_000, delivery: gated });
  try {
    const earlier = l.deliver(event(30), true); // under way, held at the gate
    await waitFor(() => gated.release ?? undefined, "the earlier attempt under way");
    gated.holding = false;
    answer = 500;
    expect(await l.deliver(event(31), true)).toBe("queued"); // failed: the pause begins
    answer = 204;
    gated.release!();
    expect(await earlier).toBe("delivered"); // quick, but it says nothing about the merchant since
    const before = merchant.received.length;
    expect(await l.deliver(event(32), true)).toBe("queued");
    expect(merchant.received.length).toBe(before);
  } finally {
    await gated.close();
  }
});

it("turns a failed first attempt into a delayed retry job on the job-only schedule, then sends the next events straight to jobs for a while", async () => {
  const { merchantLane, jobIndex, outcomes } = lane();
  answer = 503;
  const e = event(2);
  const before = merchant.received.length;
  const startedAt = Date.now();
  expect(await merchantLane.deliver(e, true)).toBe("queued");
  expect(merchant.received.length - before).toBe(1);
  const job = await queue.getJob(e.id);
  expect(job?.name).toBe(RETRY_JOB);
  expect(await job!.getState()).toBe("delayed");
  // 15 attempts in all, 2 s then 4 s, 8 s … apart: the first in line, 14 by the job.
  expect(job!.opts).toMatchObject({ attempts: 14, delay: 2_000, backoff: { type: "exponential", delay: 4_000 } });
  expect(outcomes).toEqual(["failed_attempt"]);
  await jobIndex.flush();
  const [first] = await jobIndex.timeline(e.orderId!);
  expect(first).toMatchObject({ note: { attempt: 1, via: "inline", status: 503, error: "merchant endpoint answered 503" } });
  const noted = (first as { note: { nextRetryAt: number } }).note.nextRetryAt;
  expect(noted).toBeGreaterThanOrEqual(startedAt + 2_000);
  expect(noted).toBeLessThanOrEqual(Date.now() + 2_000);
  // The job's and the order's timeline both know it.
  expect(await jobIndex.list(e.orderId!)).toEqual([expect.objectContaining({ queue: QUEUES.merchantWebhooks, jobId: e.id })]);

  // The merchant is back, but the lane waits INLINE_PAUSE_MS before trying in line again.
  answer = 204;
  const next = event(3);
  expect(await merchantLane.deliver(next, true)).toBe("queued");
  expect(merchant.received.length - before).toBe(1);
  expect((await queue.getJob(next.id))?.name).toBe(DELIVER_JOB);
});

it("a retry job's runs are attempts 2, 3 …, with the next retry BullMQ itself schedules, and the last is final", async () => {
  const { merchantLane, jobIndex, outcomes } = lane();
  answer = 500;
  const e = event(4);
  expect(await merchantLane.deliver(e, true)).toBe("queued");
  const worker = new Worker(QUEUES.merchantWebhooks, merchantLane.processor(delivery), { connection: redis, prefix: queue.opts.prefix! });
  try {
    await (await queue.getJob(e.id))!.promote();
    // Attempt 2 fails: BullMQ puts the job back in the delayed set for the time the note says.
    await waitFor(async () => ((await queue.getJob(e.id))!.attemptsMade === 1 ? true : undefined), "attempt 2 made");
    await jobIndex.flush();
    const second = (await jobIndex.timeline(e.orderId!)).find((t) => "note" in t && t.note.attempt === 2) as { note: { nextRetryAt: number; via: string; status: number } };
    expect(second.note).toMatchObject({ via: "job", status: 500 });
    const score = Number(await redis.zscore(queue.toKey("delayed"), e.id));
    // BullMQ's delayed score is the due time × 4096 plus a counter.
    expect(Math.abs(Math.floor(score / 4096) - second.note.nextRetryAt)).toBeLessThan(100);
    answer = 200;
    await (await queue.getJob(e.id))!.promote();
    await waitFor(async () => ((await queue.getJob(e.id))!.finishedOn ? true : undefined), "attempt 3 made");
    await jobIndex.flush();
    const notes = (await jobIndex.timeline(e.orderId!)).flatMap((t) => ("note" in t ? [t.note] : []));
    expect(notes.map((n) => [n.attempt, n.via, n.status, n.final ?? false])).toEqual([
      [1, "inline", 500, false],
      [2, "job", 500, false],
      [3, "job", 200, true],
    ]);
    // In-line attempts are counted by the lane; a job's by the worker's metrics wrapper (main.ts).
    expect(outcomes).toEqual(["failed_attempt"]);
  } finally {
    await worker.close();
  }
});

it("makes no attempt in line for the request–reply lane's events, with MERCHANT_FIRST_ATTEMPT=job, or with a timeout the outbox sweep could overtake", async () => {
  const before = merchant.received.length;
  const cases = [
    { name: "not inline", make: () => lane(), inline: false },
    { name: "first attempt by a job", make: () => lane({ firstAttempt: "job" }), inline: true },
    { name: "timeout past half the outbox grace", make: () => lane({ timeoutMs: OUTBOX_GRACE_MS / 2 + 1 }), inline: true },
  ];
  let n = 10;
  for (const c of cases) {
    const { merchantLane, jobIndex } = c.make();
    const e = event(n++);
    expect([c.name, await merchantLane.deliver(e, c.inline)]).toEqual([c.name, "queued"]);
    const job = (await queue.getJob(e.id)) as Job | undefined;
    expect([c.name, job?.name, job?.opts.attempts]).toEqual([c.name, DELIVER_JOB, 15]);
    await jobIndex.flush();
    expect(await jobIndex.list(e.orderId!)).toEqual([expect.objectContaining({ queue: QUEUES.merchantWebhooks, jobId: e.id })]);
  }
  expect(merchant.received.length).toBe(before);
});

it("computes BullMQ's next retry: exponential from the job's backoff, none after the last attempt", () => {
  const opts = retryJobOptions("evt_x");
  expect(nextRetryAt({ attemptsMade: 0, opts }, new Error("x"), 1_000)).toBe(1_000 + 4_000);
  expect(nextRetryAt({ attemptsMade: 2, opts }, new Error("x"), 1_000)).toBe(1_000 + 16_000);
  expect(nextRetryAt({ attemptsMade: 13, opts }, new Error("x"), 1_000)).toBeUndefined();
  expect(nextRetryAt({ attemptsMade: 0, opts: { attempts: 3, backoff: 500 } }, new Error("x"), 0)).toBe(500);
});
