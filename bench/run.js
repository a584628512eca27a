// npm run bench — prints figures; asserts nothing. Loopback only, bounded in time.
// Runs a private Redis, one ingress and one worker process, and a bare Express server, then
// drives each with autocannon (same duration and connections) and reports the ratio.
const { createHmac } = require("node:crypto");
const { mkdirSync, writeFileSync } = require("node:fs");
const os = require("node:os");
const { join, resolve } = require("node:path");
const autocannon = require("autocannon");
const { Queue } = require("bullmq");
const IORedis = require("ioredis");
const { freePort, removeRedisServer, spawnNode, startRedisServer, startIngress, startWorker, waitFor } = require("../packages/testing/dist");

const DURATION_S = Number(process.env.BENCH_DURATION_S || 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS || 50);
const SECRET = "bench-payram-key";
const PAYME_KEY = "bench-payme-key";

function run(opts) {
  return new Promise((done, fail) => autocannon({ duration: DURATION_S, connections: CONNECTIONS, ...opts }, (e, r) => (e ? fail(e) : done(r))));
}
const summary = (r) => ({ rps: Math.round(r.requests.average), p50: r.latency.p50, p99: r.latency.p99, p999: r.latency.p99_9, non2xx: r.non2xx, errors: r.errors + r.timeouts });

async function main() {
  const redis = await startRedisServer();
  const env = { REDIS_URL: redis.url, PAYRAM_WEBHOOK_SECRET: SECRET, PAYME_KEY, ADMIN_TOKEN: "bench-admin-token-0123456789", LOG_LEVEL: "warn", QUEUE_PREFIX: "bench" };
  const [ingress, worker] = await Promise.all([startIngress({ ...env, LOG_LEVEL: "info" }), startWorker({ ...env, LOG_LEVEL: "info" })]);
  const barePort = await freePort();
  const bare = spawnNode(resolve(__dirname, "bare-server.js"), { PORT: String(barePort) });
  await bare.waitForLine(/bare listening/);

  let n = 0;
  let paymeUnanswered = 0;
  const payram = {
    url: `${ingress.url}/webhooks/payram`,
    method: "POST",
    // Every request is a new payment, so every one is a real enqueue and a real ledger change.
    requests: [{
      setupRequest: (req) => {
        const body = JSON.stringify({ reference_id: `bench-${process.pid}-${++n}`, status: "FILLED", amount: "49.99", filled_amount: "49.99", currency: "USD" });
        const sig = createHmac("sha256", SECRET).update(body).digest("hex");
        return { ...req, body, headers: { "content-type": "application/json", "x-payram-signature": `sha256=${sig}` } };
      },
    }],
  };
  const bareOpts = { url: `http://127.0.0.1:${barePort}/`, method: "POST", body: JSON.stringify({ reference_id: "x", status: "FILLED", amount: "49.99" }), headers: { "content-type": "application/json" } };

  // Alternate the order to spread warm-up and machine noise over both.
  const results = { bare: [], payram: [] };
  for (const order of [["bare", "payram"], ["payram", "bare"]]) {
    for (const name of order) results[name].push(summary(await run(name === "bare" ? bareOpts : payram)));
  }
  const best = (rs) => rs.reduce((a, b) => (b.rps > a.rps ? b : a));
  const bareBest = best(results.bare);
  const payramBest = best(results.payram);

  // End to end: from the first accepted webhook to the last job processed by the one worker.
  const conn = new IORedis({ path: redis.socketPath, maxRetriesPerRequest: null });
  const queue = new Queue("payram", { connection: conn, prefix: "bench" });
  const started = Date.now();
  const drained = await waitFor(async () => {
    const c = await queue.getJobCounts("waiting", "active", "completed");
    return c.waiting + c.active === 0 ? c.completed : undefined;
  }, "queue drained", 300_000);
  const drainAfterLoadMs = Date.now() - started;
  const events = await new Queue("payment-events", { connection: conn, prefix: "bench" }).getJobCountByTypes("waiting");

  // Payme request–reply: every call goes through the queue to the worker and back (one shared
  // QueueEvents in the ingress), CONNECTIONS calls in flight at once.
  await fetch(`${ingress.adminUrl}/v1/orders/bench-payme`, {
    method: "PUT",
    headers: { authorization: "Bearer bench-admin-token-0123456789", "content-type": "application/json" },
    body: JSON.stringify({ amount: 500000, currency: "UZS" }),
  });
  const paymeResult = await run({
    url: `${ingress.url}/webhooks/payme`,
    method: "POST",
    headers: { "content-type": "text/json", authorization: `Basic ${Buffer.from(`Paycom:${PAYME_KEY}`).toString("base64")}` },
    body: JSON.stringify({ id: 1, method: "CheckPerformTransaction", params: { amount: 500000, account: { order_id: "bench-payme" } } }),
    // A -32400 (unanswered within the bound) is still HTTP 200: count it from the body.
    setupClient: (client) => client.on("body", (b) => { if (b.includes("-32400")) paymeUnanswered++; }),
  });
  const paymeBest = summary(paymeResult);


  const figures = {
    machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
    durationS: DURATION_S,
    connections: CONNECTIONS,
    bare: bareBest,
    payram: { ...payramBest, ratioToBare: +(payramBest.rps / bareBest.rps).toFixed(2) },
    paymeCheckPerform: { ...paymeBest, unanswered: paymeUnanswered, ratioToBare: +(paymeBest.rps / bareBest.rps).toFixed(2) },
    endToEnd: { jobsCompleted: drained, paymentEventsQueued: events, drainAfterLoadMs },
  };
  console.log("\npayhooks bench (figures only; see issue 7 for the full benchmark)");
  console.table({ bare: bareBest, "POST /webhooks/payram": payramBest, "Payme CheckPerformTransaction (request–reply)": paymeBest });
  console.log(JSON.stringify(figures, null, 2));
  mkdirSync(join(__dirname, "results"), { recursive: true });
  writeFileSync(join(__dirname, "results", `bench-${Date.now()}.json`), JSON.stringify(figures, null, 2));

  await Promise.all([queue.close()]);
  conn.disconnect();
  await Promise.all([ingress.proc.stop(), worker.stop(), bare.stop()]);
  await removeRedisServer(redis);
}

main().catch((err) => { console.error(err); process.exit(1); });
