/**
 * Load: a duplicate storm (DESIGN guarantee 2). The same 1,000 signed notifications — Payram,
 * Payske and RoboKassa mixed — are each sent 3 times at the same moment, the copies split across
 * 2 ingress processes, with 2 worker processes consuming; 50 requests in flight at most. Every
 * copy is accepted, and the outcome is exactly 1,000 ledger changes and 1,000 PaymentEvents.
 */
import type { Queue } from "bullmq";
import {
  ASYNC_PROVIDERS,
  CHAOS_PROVIDER_ENV,
  auditPayments,
  drained,
  mapLimit,
  openPipelineStore,
  paymentNotification,
  processGroup,
  removeRedisServer,
  startIngress,
  startRedisServer,
  startWorker,
  type PipelineStore,
  type RedisServer,
} from "@payhooks/testing";

const PREFIX = "storm";
const NOTIFICATIONS = 1_000;
const COPIES = 3;
const IN_FLIGHT = 50;

let redis: RedisServer;
let store: PipelineStore;
const processes = processGroup();
let ingresses: Array<Awaited<ReturnType<typeof startIngress>>> = [];
let providerQueues: Queue[];

beforeAll(async () => {
  redis = await startRedisServer();
  store = openPipelineStore(redis.url, PREFIX);
  providerQueues = store.queuesOf(ASYNC_PROVIDERS);
  const env = { REDIS_URL: redis.url, QUEUE_PREFIX: PREFIX, ...CHAOS_PROVIDER_ENV };
  [ingresses] = await Promise.all([
    Promise.all([processes.add(startIngress(env)), processes.add(startIngress(env))]),
    processes.add(startWorker(env)),
    processes.add(startWorker(env)),
  ]);
}, 20_000);

afterAll(async () => {
  await processes.stopAll();
  await store?.close();
  if (redis) await removeRedisServer(redis);
});

it("turns 3 concurrent copies of 1,000 notifications across 2 ingresses and 2 workers into exactly 1,000 ledger changes and 1,000 events", async () => {
  const started = Date.now();
  const { ledger, paymentEvents } = store;
  const notifications = Array.from({ length: NOTIFICATIONS }, (_, n) => paymentNotification("storm", n));
  await mapLimit(notifications, 20, (n) => ledger.putOrder(n.orderId, n.order));

  // Each notification's copies leave together, to both ingresses (copy k → ingress (n + k) mod 2).
  const sendStarted = Date.now();
  const statuses = await mapLimit(notifications, Math.floor(IN_FLIGHT / COPIES), (n, i) =>
    Promise.all(Array.from({ length: COPIES }, (_, k) => n.send(ingresses[(i + k) % 2]!.url))),
  );
  const sendMs = Date.now() - sendStarted;
  expect(statuses.flat().filter((s) => s !== 200)).toEqual([]);
  await drained(providerQueues);
  const doneMs = Date.now() - sendStarted;

  // The queue deduplicated the copies by job id: one job per notification, each completed once.
  const completed = (await Promise.all(providerQueues.map((q) => q.getJobs(["completed"], 0, -1)))).flat();
  expect(completed.map((j) => j.id).sort()).toEqual(notifications.map((n) => n.jobId).sort());
  expect(completed.filter((j) => j.attemptsStarted !== 1)).toEqual([]);
  expect(new Set(completed.map((j) => j.processedBy)).size).toBe(2);

  const problems = await auditPayments(store, notifications.map((n) => n.expected));
  expect(problems).toEqual([]);
  expect(await paymentEvents.count()).toBe(NOTIFICATIONS);
  expect(await Promise.all([...providerQueues, paymentEvents].map((q) => q.getFailedCount()))).toEqual([0, 0, 0, 0]);

  console.info(
    `duplicate storm: ${NOTIFICATIONS} notifications × ${COPIES} copies = ${NOTIFICATIONS * COPIES} requests, ${IN_FLIGHT - (IN_FLIGHT % COPIES)} in flight, ` +
      `sent in ${sendMs} ms, all applied ${doneMs} ms after the first; test took ${Date.now() - started} ms`,
  );
}, 45_000);
