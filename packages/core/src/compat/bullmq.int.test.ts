/**
 * Fails when a BullMQ upgrade changes what ./bullmq.ts reads or mirrors: a real Queue and Worker
 * on the test Redis.
 */
import { Queue, UnrecoverableError, Worker, type Job } from "bullmq";
import { startTestRedis, waitFor, type TestRedis } from "@payhooks/testing";
import type { RedisConnection } from "../redis";
import { canBeJobId, delayedUntil, duplicateAdds, isFinalAttempt, oldestWaitingAt, storedJobTimestamp } from "./bullmq";

let testRedis: TestRedis;
let connection: RedisConnection;
let queue: Queue;
let testNo = 0;
const closing: Array<{ close(): Promise<unknown> }> = [];

beforeAll(async () => {
  testRedis = await startTestRedis();
  connection = testRedis.client("bullmq-compat");
});

afterAll(async () => {
  await testRedis.remove();
});

beforeEach(() => {
  queue = new Queue(`compat${++testNo}`, { connection, prefix: testRedis.prefix("compat") });
  closing.push(queue);
});

afterEach(async () => {
  for (const c of closing.splice(0).reverse()) await c.close();
});

const tick = () => new Promise((r) => setTimeout(r, 5));

it("stores a job's creation time in the job hash's timestamp, and keeps the first add's for a taken id", async () => {
  const first = await queue.add("j", { n: 1 }, { jobId: "same" });
  expect(await connection.hget(queue.toKey("same"), "timestamp")).toBe(String(first.timestamp));
  expect(await storedJobTimestamp(connection, queue, "same")).toBe(first.timestamp);

  await tick();
  const again = await queue.add("j", { n: 2 }, { jobId: "same" });
  // The add of a taken id still returns a Job of its own making: only the stored timestamp tells.
  expect(again.id).toBe("same");
  expect(again.timestamp).toBeGreaterThan(first.timestamp);
  expect(await storedJobTimestamp(connection, queue, "same")).toBe(first.timestamp);

  expect(await storedJobTimestamp(connection, queue, "never-added")).toBeNull();
});

it("tells duplicate adds from new ones in one pipeline", async () => {
  const a = await queue.add("j", {}, { jobId: "a" });
  await tick();
  const aAgain = await queue.add("j", {}, { jobId: "a" });
  const b = await queue.add("j", {}, { jobId: "b" });
  const noId = { id: undefined, timestamp: Date.now() };
  expect(await duplicateAdds(connection, [a, aAgain, b, noId].map((job) => ({ queue, job })))).toEqual([false, true, false, false]);
});

it("reads when a delayed job is due from the delayed set's score, also after a retry's backoff (where timestamp + delay is wrong)", async () => {
  const job = await queue.add("j", {}, { jobId: "later", delay: 60_000 });
  expect(await delayedUntil(connection, queue, "later")).toBe(job.timestamp + 60_000);
  expect(await delayedUntil(connection, queue, "never-added")).toBeNull();
  // A failed attempt with backoff: BullMQ moves it back to the delayed set for failedAt + backoff.
  const retried = await queue.add("j", {}, { jobId: "retried", attempts: 3, backoff: { type: "fixed", delay: 60_000 } });
  await tick();
  const worker = new Worker(queue.name, async () => { throw new Error("no"); }, { connection, prefix: queue.opts.prefix!, autorun: true });
  closing.push(worker);
  let due: number | null = null;
  for (let i = 0; i < 400 && due === null; i++) {
    due = await delayedUntil(connection, queue, "retried");
    if (due === null) await tick();
  }
  const failedAt = (await queue.getJob("retried"))!.processedOn!;
  expect(due).not.toBeNull();
  expect(due!).toBeGreaterThanOrEqual(failedAt + 60_000);
  expect(due!).toBeGreaterThan(retried.timestamp + 60_000);
});

it("tells a job id from the names of a queue's own keys", () => {
  for (const id of ["payram-ref-1~FILLED~49.99", "evt_0123456789abcdef0123456789abcdef", "stripe-evt_1", "9"]) expect([id, canBeJobId(id)]).toEqual([id, true]);
  for (const id of ["wait", "meta", "events", "id", "delayed", "failed", "evt_x:lock", "", "x".repeat(513)]) expect([id, canBeJobId(id)]).toEqual([id, false]);
});

it("finds the oldest waiting job at the tail of the wait list", async () => {
  expect(await oldestWaitingAt(connection, queue)).toBeNull();
  const oldest = await queue.add("j", {});
  for (let i = 0; i < 3; i++) {
    await tick();
    await queue.add("j", {});
  }
  expect(await oldestWaitingAt(connection, queue)).toBe(oldest.timestamp);
});

it("retries as isFinalAttempt says: a plain Error until attempts run out, an UnrecoverableError never", async () => {
  const named = Object.assign(new Error("unrecoverable by name"), { name: "UnrecoverableError" });
  const errors: Record<string, () => Error> = {
    plain: () => new Error("try again"),
    unrecoverable: () => new UnrecoverableError("never again"),
    named: () => named,
  };
  /** Per job: what isFinalAttempt said at each attempt, in the processor (where failureKind runs). */
  const said = new Map<string, boolean[]>();
  const worker = new Worker(
    queue.name,
    async (job: Job<{ error: string }>) => {
      const err = errors[job.data.error]!();
      said.set(job.id!, [...(said.get(job.id!) ?? []), isFinalAttempt(job, err)]);
      throw err;
    },
    { connection, prefix: testRedis.prefix("compat") },
  );
  closing.push(worker);
  const cases = [
    { id: "plain-2", error: "plain", attempts: 2, expected: [false, true] },
    { id: "plain-3", error: "plain", attempts: 3, expected: [false, false, true] },
    { id: "plain-1", error: "plain", attempts: 1, expected: [true] },
    { id: "unrecoverable-2", error: "unrecoverable", attempts: 2, expected: [true] },
    { id: "named-3", error: "named", attempts: 3, expected: [true] },
  ];
  for (const c of cases) {
    await queue.add("j", { error: c.error }, { jobId: c.id, attempts: c.attempts, backoff: { type: "exponential", delay: 10 } });
  }
  for (const c of cases) {
    // The state first, then the job: a job read before its last attempt ended would show the
    // attempts made so far next to a state read after it.
    await waitFor(async () => (await queue.getJobState(c.id)) === "failed" || undefined, `${c.id} failed for good`);
    const job = (await queue.getJob(c.id))!;
    // What BullMQ did: as many attempts as isFinalAttempt allowed, the last one the only final.
    expect([c.id, job.attemptsMade]).toEqual([c.id, c.expected.length]);
    expect([c.id, said.get(c.id)]).toEqual([c.id, c.expected]);
  }
});
