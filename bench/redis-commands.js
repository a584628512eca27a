// Redis work per webhook, counted by Redis itself (INFO commandstats: every command a client
// sent and every command a Lua script ran). Counts, not timings: the same build gives nearly the
// same figures on any machine, so two builds can be compared side by side.
//
// - per acknowledged delivery: the ingress alone (no worker), N signed deliveries of each
//   asynchronous route; (commands after − before) / N.
// - per delivered event: N Payram payments, each for an order created beforehand (so every
//   payment is attached and counted), with one worker and merchant delivery on, from the first
//   request until the merchant has received all N events; includes the acknowledgements.
//   "processing" is that figure less the Payram acknowledgement.
// - storage per paid order: after the delivered-event phase (outbox empty), DBSIZE and INFO
//   memory used_memory less their values before the orders were created, / N; the ledger's own
//   keys counted apart. It includes the BullMQ jobs kept for deduplication (7 days).
//   BENCH_PAYMENT_EVENTS_QUEUE=true also produces the payment-events queue (off by default, as
//   in production).
//
// `node bench/redis-commands.js` runs it alone and prints JSON (`BENCH_COMMANDS_N` deliveries,
// default 2,000); `npm run bench` runs it as its last phase, for the current build and, with
// BENCH_BASELINE, for the baseline's (measureRedisCommands({ ingressMain, workerMain })).
const { randomBytes } = require("node:crypto");
const { createRedis } = require("../packages/core/dist");
const { removeRedisServer, startMerchantEndpoint, startRedisServer, waitFor, INGRESS_MAIN, WORKER_MAIN } = require("../packages/testing/dist");
const { startIngressAt, startWorkerAt } = require("./e2e");
const { routes, payramBody, BENCH_ENV, ADMIN_TOKEN, SECRETS } = require("./routes");
const { signForTest: signPayram } = require("../packages/payram/dist");

const N = Number(process.env.BENCH_COMMANDS_N || 2_000);
const CONCURRENCY = 20;

/** Every command Redis has run so far, by name, and their sum. */
async function commandstats(conn) {
  const text = await conn.info("commandstats");
  const by = {};
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) by[m[1]] = Number(m[2]);
  return { total: Object.values(by).reduce((a, b) => a + b, 0), by };
}

/** DBSIZE, the ledger's keys and INFO memory used_memory. */
async function storage(conn) {
  const info = await conn.info("memory");
  let ledgerKeys = 0;
  let cursor = "0";
  do {
    const [next, batch] = await conn.scan(cursor, "MATCH", "*:ledger:*", "COUNT", 1000);
    cursor = next;
    ledgerKeys += batch.length;
  } while (cursor !== "0");
  return { keys: await conn.dbsize(), ledgerKeys, usedMemory: Number(/used_memory:(\d+)/.exec(info)[1]) };
}

function delta(before, after, n) {
  const by = {};
  for (const [k, v] of Object.entries(after.by)) {
    const d = v - (before.by[k] ?? 0);
    if (d > 0) by[k] = +(d / n).toFixed(2);
  }
  // The measuring connection's own INFO calls are not the pipeline's.
  delete by.info;
  const total = Object.values(by).reduce((a, b) => a + b, 0);
  return { perItem: +total.toFixed(2), byCommand: Object.fromEntries(Object.entries(by).sort((a, b) => b[1] - a[1])) };
}

async function sendAll(count, make) {
  let next = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) {
        const { url, body, headers } = make(next++);
        const res = await fetch(url, { method: "POST", headers, body });
        await res.arrayBuffer();
        if (res.status !== 200) failed++;
      }
    }),
  );
  if (failed > 0) throw new Error(`${failed} of ${count} deliveries were not acknowledged`);
}

/**
 * BullMQ on its own, as payhooks uses it: N jobs of a notification's size added with the provider
 * jobs' options (kept for deduplication), then worked by one Worker (concurrency 16) whose
 * processor does nothing. Commands per job for the add and for the rest of its life: the floor
 * any design with one BullMQ job per event pays, before payhooks does any work of its own.
 */
async function measureBullmqAlone(redisUrl, n) {
  const { Queue, Worker } = require("bullmq");
  const { JOB_OPTIONS } = require("../packages/core/dist");
  const conn = createRedis(redisUrl, "worker");
  const name = `bullmq-alone-${Date.now().toString(36)}`;
  const queue = new Queue(name, { connection: conn, prefix: "floor" });
  const data = { provider: "payram", receivedAt: Date.now(), rawBody: "x".repeat(400), headers: { "content-type": "application/json" } };
  try {
    await queue.waitUntilReady();
    let before = await commandstats(conn);
    for (let i = 0; i < n; i += CONCURRENCY) {
      await Promise.all(Array.from({ length: Math.min(CONCURRENCY, n - i) }, (_, j) => queue.add("notification", data, { ...JOB_OPTIONS.provider, jobId: `floor-${i + j}` })));
    }
    const add = delta(before, await commandstats(conn), n);
    before = await commandstats(conn);
    let done = 0;
    const worker = new Worker(name, async () => ({ outcome: "applied", orderId: "o" }), { connection: conn, prefix: "floor", concurrency: 16 });
    worker.on("completed", () => done++);
    await waitFor(() => done >= n || undefined, "every job completed", 120_000);
    await worker.close();
    const life = delta(before, await commandstats(conn), n);
    return { add, life };
  } finally {
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    conn.disconnect();
  }
}

/** From an autocannon route option (bench/routes.js), one request: url, body, headers. */
const fromRoute = (route) => (n) => ({ url: route.request.url, ...route.request.requests[0].setupRequest({}, n) });

/** `ingressMain`, `workerMain`: the built entry points to run (default: this tree's). */
async function measure({ n = N, ingressMain = INGRESS_MAIN, workerMain = WORKER_MAIN } = {}) {
  const redis = await startRedisServer();
  const merchant = await startMerchantEndpoint(() => 204);
  const env = {
    ...BENCH_ENV,
    REDIS_URL: redis.url,
    LOG_LEVEL: "info",
    MERCHANT_WEBHOOK_URL: merchant.url,
    MERCHANT_WEBHOOK_SECRET: `whsec_${randomBytes(32).toString("base64")}`,
    PAYMENT_EVENTS_QUEUE: process.env.BENCH_PAYMENT_EVENTS_QUEUE === "true" ? "true" : "false",
  };
  const conn = createRedis(redis.url, "worker");
  const ingress = await startIngressAt(ingressMain, env);
  const route = routes(ingress, "http://127.0.0.1:9/");
  const result = { deliveries: n, perAck: {}, perEvent: null, processingPerEvent: null, storagePerPaidOrder: null, bullmqAlone: null };
  try {
    // Acknowledgements alone: no worker consumes.
    for (const name of ["payram", "payske", "robokassa"]) {
      const before = await commandstats(conn);
      await sendAll(n, fromRoute(route[name]));
      // Work done just after the answers (the duplicate checks, batched every 50 ms) is counted too.
      await new Promise((r) => setTimeout(r, 300));
      result.perAck[name] = delta(before, await commandstats(conn), n);
    }
    await conn.flushall();
    result.bullmqAlone = await measureBullmqAlone(redis.url, n);
    await conn.flushall();
    const storageBefore = await storage(conn);

    // Delivered events: orders first (not counted), then the payments, one worker, merchant on.
    const run = `cmd${Date.now().toString(36)}`;
    const refOf = (i) => `bench-${run}-${i}`;
    for (let i = 0; i < n; i += CONCURRENCY) {
      await Promise.all(
        Array.from({ length: Math.min(CONCURRENCY, n - i) }, (_, j) =>
          fetch(`${ingress.adminUrl}/v1/orders/${run}-${i + j}`, {
            method: "PUT",
            headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
            body: JSON.stringify({ amount: 4999, currency: "USD", references: { payram: refOf(i + j) } }),
          }).then((r) => r.arrayBuffer()),
        ),
      );
    }
    const worker = await startWorkerAt(workerMain, env);
    try {
      await new Promise((r) => setTimeout(r, 500)); // the worker's start-up commands are not per event
      const before = await commandstats(conn);
      const received = merchant.received.length;
      await sendAll(n, (i) => {
        const body = payramBody(i).replace(/"reference_id":"[^"]*"/, `"reference_id":"${refOf(i)}"`);
        return { url: `${ingress.url}/webhooks/payram`, body, headers: signPayram(body, SECRETS.payram, "signature") };
      });
      await waitFor(() => merchant.received.length - received >= n || undefined, "every event delivered to the merchant", 300_000);
      // The last jobs' completion and the job index's last 250 ms window are counted too.
      await new Promise((r) => setTimeout(r, 500));
      result.perEvent = delta(before, await commandstats(conn), n);
      result.processingPerEvent = +(result.perEvent.perItem - result.perAck.payram.perItem).toFixed(2);
      // Storage once every event has left the outbox (the worker clears it right after the enqueue).
      await waitFor(async () => ((await conn.zcard(`${BENCH_ENV.QUEUE_PREFIX ?? "payhooks"}:ledger:outbox`)) === 0 ? true : undefined), "outbox empty");
      const after = await storage(conn);
      result.storagePerPaidOrder = {
        paymentEventsQueue: env.PAYMENT_EVENTS_QUEUE === "true",
        keys: +((after.keys - storageBefore.keys) / n).toFixed(2),
        ledgerKeys: +((after.ledgerKeys - storageBefore.ledgerKeys) / n).toFixed(2),
        bytes: Math.round((after.usedMemory - storageBefore.usedMemory) / n),
      };
    } finally {
      await worker.stop();
    }
  } finally {
    conn.disconnect();
    await ingress.proc.stop();
    await merchant.close();
    await removeRedisServer(redis);
  }
  return result;
}

module.exports = { measureRedisCommands: measure };

if (require.main === module) {
  measure().then(
    (r) => console.log(JSON.stringify(r, null, 2)),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
