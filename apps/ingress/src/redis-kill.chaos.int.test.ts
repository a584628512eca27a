/**
 * Chaos: Redis (AOF on, appendfsync always) is SIGKILLed under continuous traffic and restarted
 * (DESIGN guarantee 1, "Redis unavailable 503, the provider retries: nothing lost"). Payram,
 * Payske and RoboKassa notifications and Payme Create/Perform calls flow through a real ingress
 * and worker; Redis dies while accepted jobs still wait in the queue; requests during the outage
 * are refused; traffic resumes after the restart; every refused request is retried as the
 * provider would. Then every request ever answered 2xx (or with a Payme result) is in the ledger
 * exactly once with its events, and no order or payment is left half-applied.
 */
import {
  ASYNC_PROVIDERS,
  CHAOS_PAYME_KEY,
  CHAOS_PROVIDER_ENV,
  auditPayments,
  drained,
  mapLimit,
  openPipelineStore,
  paymeCall,
  paymeId,
  paymentNotification,
  processGroup,
  removeRedisServer,
  startIngress,
  startRedisServer,
  startWorker,
  waitFor,
  type ExpectedPayment,
  type PaymentNotification,
  type PipelineStore,
  type RedisServer,
} from "@payhooks/testing";

const PREFIX = "rkill";
const NOTIFICATIONS = 240;
const PAYME_ORDERS = 40;
const PAYME_AMOUNT = 500_000;
/** Requests sent while Redis is down; the traffic lanes hold back after these until the restart. */
const OUTAGE_SENDS = 30;
const LANES = 12;
/** accepted before the kill, of which this many still wait in the queues when Redis dies */
const ACCEPTED_BEFORE_KILL = 60;
const BACKLOG_AT_KILL = 5;

let redis: RedisServer;
let store: PipelineStore;
const processes = processGroup();
let ingress: Awaited<ReturnType<typeof startIngress>>;

beforeAll(async () => {
  redis = await startRedisServer({ aof: true });
  store = openPipelineStore(redis.url, PREFIX);
  const env = { REDIS_URL: redis.url, QUEUE_PREFIX: PREFIX, ...CHAOS_PROVIDER_ENV, PAYME_RPC_TIMEOUT_MS: "3000" };
  // Two jobs at a time per queue, so accepted notifications pile up in the queue before the kill.
  // A job moved to active just as Redis died, whose reply the worker never got, is held by no
  // one until its lock expires and the stalled-job check re-queues it: a short lock keeps that
  // within seconds.
  const workerEnv = { ...env, WORKER_CONCURRENCY: "2", WORKER_LOCK_MS: "3000" };
  [ingress] = await Promise.all([processes.add(startIngress(env)), processes.add(startWorker(workerEnv))]);
}, 20_000);

afterAll(async () => {
  await processes.stopAll();
  await store?.close();
  if (redis) await removeRedisServer(redis);
});

/** One request a provider makes; `next` is what it sends once this one is accepted. */
type Task = { name: string; payment: ExpectedPayment; send(): Promise<{ accepted: boolean; answer: string }>; next?: () => Task };
/** One request sent: `outage` when it went out while Redis was down. */
type Attempt = { task: string; outage: boolean; startedAt: number; endedAt: number; accepted: boolean; answer: string };

function notificationTask(notification: PaymentNotification): Task {
  return {
    name: `${notification.provider}/${notification.paymentId}`,
    payment: notification.expected,
    send: async () => {
      const status = await notification.send(ingress.url);
      if (status !== 200 && status !== 503) throw new Error(`${notification.provider} answered ${status}`);
      return { accepted: status === 200, answer: String(status) };
    },
  };
}

/** Payme: CreateTransaction, then PerformTransaction once it was answered with a result. */
function paymeTasks(orderId: string): Task {
  const id = paymeId();
  const time = Date.now();
  const payment: ExpectedPayment = { provider: "payme", paymentId: id, orderId, changes: 2 };
  const call = (method: string, params: Record<string, unknown>) => async () => {
    const answer = await paymeCall(ingress.url, CHAOS_PAYME_KEY, method, params);
    if (answer.error && answer.error.code !== -32400) throw new Error(`${method} answered ${answer.error.code}`);
    return { accepted: answer.result !== undefined, answer: answer.error ? String(answer.error.code) : "result" };
  };
  return {
    name: `payme/${id}/create`,
    payment,
    send: call("CreateTransaction", { id, time, amount: PAYME_AMOUNT, account: { order_id: orderId } }),
    next: () => ({ name: `payme/${id}/perform`, payment, send: call("PerformTransaction", { id }) }),
  };
}

it("keeps every 2xx across a Redis SIGKILL and restart, refuses requests during the outage, and leaves nothing half-applied", async () => {
  const started = Date.now();
  const pending: Task[] = [];
  const payments: ExpectedPayment[] = [];
  const orders: Array<[string, { amount: number; currency: string }]> = [];
  for (let n = 0; n < NOTIFICATIONS; n++) {
    const notification = paymentNotification("rk", n);
    orders.push([notification.orderId, notification.order]);
    pending.push(notificationTask(notification));
    // Payme flows interleaved with the notifications.
    if (n % (NOTIFICATIONS / PAYME_ORDERS) === 0) {
      const orderId = `rk-payme-${n}`;
      orders.push([orderId, { amount: PAYME_AMOUNT, currency: "UZS" }]);
      pending.push(paymeTasks(orderId));
    }
  }
  for (const task of pending) payments.push(task.payment);
  await mapLimit(orders, 20, ([orderId, order]) => store.ledger.putOrder(orderId, order));

  // Traffic: LANES requests in flight; while Redis is down only OUTAGE_SENDS go out.
  const attempts: Attempt[] = [];
  const refused: Task[] = [];
  let outage: { sends: number; over: Promise<void> } | null = null;
  let resume = () => {};
  const lane = async () => {
    for (let task = pending.shift(); task; task = pending.shift()) {
      while (outage && outage.sends >= OUTAGE_SENDS) await outage.over;
      if (outage) outage.sends++;
      const during = outage !== null;
      const startedAt = Date.now();
      const { accepted, answer } = await task.send();
      attempts.push({ task: task.name, outage: during, startedAt, endedAt: Date.now(), accepted, answer });
      if (!accepted) refused.push(task);
      else if (task.next) pending.unshift(task.next());
    }
  };
  const traffic = Promise.all(Array.from({ length: LANES }, lane));

  const asyncQueues = store.queuesOf(ASYNC_PROVIDERS);
  const backlog = async () => (await Promise.all(asyncQueues.map((q) => q.getWaitingCount()))).reduce((a, b) => a + b, 0);
  await waitFor(
    async () => (attempts.filter((a) => a.accepted).length >= ACCEPTED_BEFORE_KILL && (await backlog()) >= BACKLOG_AT_KILL) || undefined,
    "accepted notifications waiting in the queue",
  );
  const backlogAtKill = await backlog();
  const killStartedAt = Date.now();
  await redis.stop("SIGKILL");
  const killedAt = Date.now();
  outage = { sends: 0, over: new Promise<void>((r) => (resume = r)) };
  await waitFor(
    () => attempts.filter((a) => a.outage).length === OUTAGE_SENDS || undefined,
    "the requests sent during the outage answered",
  );
  const restartAt = Date.now();
  await redis.restart();
  const redisUpAt = Date.now();
  // Traffic resumes once the ingress has its Redis connection back (it reconnects on its own).
  await waitFor(async () => (await fetch(`${ingress.url}/readyz`)).status === 200 || undefined, "the ingress ready again");
  const upAt = Date.now();
  outage = null;
  resume();
  await traffic;

  // As a provider does: every refused request is sent again until it is accepted (with the
  // Payme Performs whose Create was accepted as the last lanes stopped).
  const retried = refused.length;
  refused.push(...pending.splice(0));
  await mapLimit(refused, LANES, async (first) => {
    for (let task: Task | undefined = first; task; ) {
      const current: Task = task;
      await waitFor(async () => (await current.send()).accepted || undefined, `${current.name} accepted on retry`, 15_000);
      task = current.next?.();
    }
  });
  await drained(Object.values(store.queues));

  const acceptedBeforeKill = attempts.filter((a) => a.accepted && a.endedAt <= killStartedAt).length;
  const duringOutage = attempts.filter((a) => a.outage);
  expect(duringOutage.every((a) => a.startedAt >= killedAt && a.endedAt <= restartAt)).toBe(true);
  // Requests wholly inside the outage were all refused: 503, or -32400 for Payme.
  expect(duringOutage).toHaveLength(OUTAGE_SENDS);
  expect(duringOutage.filter((a) => a.accepted || !(a.answer === "503" || a.answer === "-32400"))).toEqual([]);
  expect(acceptedBeforeKill).toBeGreaterThanOrEqual(ACCEPTED_BEFORE_KILL);
  expect(backlogAtKill).toBeGreaterThanOrEqual(BACKLOG_AT_KILL);
  // Traffic went on after the restart, not only the retries.
  expect(attempts.filter((a) => a.accepted && a.startedAt >= upAt).length).toBeGreaterThan(0);

  // Everything ever accepted — before, around and after the crash, and every retried refusal —
  // is in the ledger exactly once with its events; nothing half-applied.
  const problems = await auditPayments(store, payments);
  expect(problems).toEqual([]);
  expect(await Promise.all(asyncQueues.map((q) => q.getFailedCount()))).toEqual([0, 0, 0]);

  const refusals = (answer: string) => duringOutage.filter((a) => a.answer === answer).length;
  const jobs = (await Promise.all(Object.values(store.queues).map((q) => q.getJobs(["completed"], 0, -1)))).flat();
  const restalled = jobs.filter((j) => j.stalledCounter > 0).length;
  const acrossKill = attempts.filter((a) => a.startedAt < killedAt && a.endedAt >= killStartedAt);
  console.info(
    `redis kill: ${NOTIFICATIONS} notifications + ${PAYME_ORDERS} Payme Create/Perform flows, ${attempts.length} requests in traffic; ` +
      `${acceptedBeforeKill} accepted before the kill with ${backlogAtKill} still queued; ` +
      `${acrossKill.length} in flight across the kill (${acrossKill.filter((a) => a.accepted).length} accepted); ` +
      `outage ${upAt - killedAt} ms (Redis restarted in ${redisUpAt - restartAt} ms, the ingress ready ${upAt - redisUpAt} ms later): ${refusals("503")} × 503 and ${refusals("-32400")} × -32400; ` +
      `${retried} refused requests retried until accepted; ${restalled} jobs orphaned by the crash re-run as stalled; test took ${Date.now() - started} ms`,
  );
}, 45_000);
