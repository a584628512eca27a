// npm run bench — prints figures and asserts nothing. Loopback only, bounded in time.
//
// 1. Ack throughput: one ingress against a bare Express server that answers a POST of the same
//    size with 200 (the ceiling on this machine). Each provider route and the bare server are
//    driven by autocannon for the same duration and connections, in alternating order. No worker
//    consumes during these runs: the ingress is measured alone, as it is deployed (workers are
//    separate processes, usually on other machines); its jobs wait in Redis. Redis runs as
//    shipped (npm start, docker-compose.yml): AOF with appendfsync always, so every ack waits for
//    an fsync. Then one more Payram run (after a 2 s warm-up) against a second ingress and Redis
//    with appendfsync everysec, for the cost of that fsync (BENCH_EVERYSEC=0 skips it; ~10 s).
// 2. End to end: a fixed number of signed Payram deliveries, from the first HTTP request to the
//    last PaymentEvent queued, with 1 and then 2 worker processes running.
// 3. Payme request–reply (through the queue to a worker and back): as fast as it goes, and at a
//    steady 300 requests/s from an open-loop generator (bench/paced.js; autocannon's overallRate
//    sends each second's quota as a burst at the start of the second).
// 4. Redis commands per acknowledged delivery and per delivered event (bench/redis-commands.js:
//    INFO commandstats deltas, merchant delivery on), on a Redis of their own.
// Peak RSS (VmHWM) of the ingress and of each worker is read from /proc at the end.
// Figures: printed, written as JSON to bench/results/ (git-ignored), and as Markdown to
// bench/RESULTS.md (committed; the README links to it).
const { execFileSync } = require("node:child_process");
const { mkdirSync, writeFileSync } = require("node:fs");
const os = require("node:os");
const { join, resolve } = require("node:path");
const autocannon = require("autocannon");
const { Queue } = require("bullmq");
const { createRedis, QUEUES } = require("../packages/core/dist");
const { freePort, removeRedisServer, spawnNode, startRedisServer, startIngress, startWorker, waitFor } = require("../packages/testing/dist");
const { paced } = require("./paced");
const { measureRedisCommands } = require("./redis-commands");
const { cpuSeconds, peakRssMiB } = require("./proc");
const { routes, BENCH_ENV } = require("./routes");

const DURATION_S = Number(process.env.BENCH_DURATION_S || 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS || 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 2);
const E2E_DELIVERIES = Number(process.env.BENCH_E2E_DELIVERIES || 20_000);
const PAYME_RATE = 300;
const PAYME_FIXED_S = Number(process.env.BENCH_PAYME_FIXED_S || 10);
const EVERYSEC = process.env.BENCH_EVERYSEC !== "0";
const REDIS_PERSISTENCE = "AOF, appendfsync always";
const ASYNC_ROUTES = ["payram", "payske", "robokassa"];
const BUDGET = { rpsRatio: 0.8, p99Ratio: 2, eventsPerSecond: 2000, paymeP99Ms: 25 };

const LABELS = {
  bare: "bare Express (ceiling)",
  payram: "POST /webhooks/payram",
  payske: "POST /webhooks/payske",
  robokassa: "POST /webhooks/robokassa/result",
};

function load(opts) {
  return new Promise((done, fail) => autocannon({ duration: DURATION_S, connections: CONNECTIONS, ...opts }, (e, r) => (e ? fail(e) : done(r))));
}
const summary = (r) => ({
  rps: Math.round(r.requests.average),
  p50: r.latency.p50,
  p99: r.latency.p99,
  p999: r.latency.p99_9,
  non2xx: r.non2xx,
  errors: r.errors + r.timeouts,
  requests: r.requests.total,
});

/**
 * Where the CPU went during `work`: microseconds of CPU per request for each named process
 * (the load generator is this process). On a 2-core machine the sum bounds the throughput.
 */
async function withCpu(pids, work) {
  const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
  const self = process.cpuUsage();
  const result = await work();
  const own = process.cpuUsage(self);
  const n = result.requests.total || 1;
  const cpuUsPerRequest = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, Math.round(((cpuSeconds(pid) - before[k]) * 1e6) / n)]));
  cpuUsPerRequest.loadGenerator = Math.round((own.user + own.system) / n);
  return { result, cpuUsPerRequest };
}

function machine() {
  const cpus = os.cpus();
  let redisVersion = "";
  try {
    redisVersion = /v=([\d.]+)/.exec(execFileSync("redis-server", ["--version"], { encoding: "utf8" }))?.[1] ?? "";
  } catch {}
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model?.trim() ?? "unknown",
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    redis: redisVersion,
    loadAverageAtStart: os.loadavg().map((l) => +l.toFixed(2)),
  };
}

const ratio = (a, b) => +(a / b).toFixed(2);
const pass = (ok) => (ok ? "met" : "not met");

async function main() {
  const startedAt = new Date().toISOString();
  const host = machine();
  // As shipped: AOF with appendfsync always (its temp dir, removed at the end).
  const redis = await startRedisServer({ aof: true });
  const env = { ...BENCH_ENV, REDIS_URL: redis.url, LOG_LEVEL: "info" };
  const ingress = await startIngress(env);
  const barePort = await freePort();
  const bare = spawnNode(resolve(__dirname, "bare-server.js"), { PORT: String(barePort) });
  await bare.waitForLine(/bare listening/);
  const route = routes(ingress, `http://127.0.0.1:${barePort}/`);
  const conn = createRedis(redis.url, "worker");
  const queue = (name) => new Queue(name, { connection: conn, prefix: BENCH_ENV.QUEUE_PREFIX });
  const events = queue(QUEUES.paymentEvents);

  // 1. Ack throughput, alternating the order each round to spread warm-up and noise.
  const names = ["bare", ...ASYNC_ROUTES];
  const runs = Object.fromEntries(names.map((n) => [n, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of round % 2 === 0 ? names : [...names].reverse()) {
      const pids = name === "bare" ? { server: bare.child.pid } : { server: ingress.proc.child.pid, redis: redis.pid() };
      const { result, cpuUsPerRequest } = await withCpu(pids, () => load(route[name].request));
      const s = { ...summary(result), cpuUsPerRequest };
      runs[name].push(s);
      console.log(`round ${round + 1}: ${LABELS[name].padEnd(32)} ${String(s.rps).padStart(6)} req/s  p99 ${s.p99} ms  non-2xx ${s.non2xx}  CPU µs/request ${JSON.stringify(cpuUsPerRequest)}`);
    }
  }
  const best = (rs) => rs.reduce((a, b) => (b.rps > a.rps ? b : a));
  const bareBest = best(runs.bare);
  const ack = Object.fromEntries(
    ASYNC_ROUTES.map((name) => {
      const b = best(runs[name]);
      return [name, { ...b, rpsRatio: ratio(b.rps, bareBest.rps), p99Ratio: ratio(b.p99, bareBest.p99) }];
    }),
  );
  // The same Payram load against appendfsync everysec: a second Redis and ingress of their own.
  let everysec = null;
  if (EVERYSEC) {
    const lazyRedis = await startRedisServer({ args: ["--appendonly", "yes", "--appendfsync", "everysec"] });
    const lazyIngress = await startIngress({ ...env, REDIS_URL: lazyRedis.url });
    const request = routes(lazyIngress, "").payram.request;
    await load({ ...request, duration: 2 }); // warm-up, dropped
    const { result, cpuUsPerRequest } = await withCpu({ server: lazyIngress.proc.child.pid, redis: lazyRedis.pid() }, () => load(request));
    everysec = { ...summary(result), cpuUsPerRequest, rpsRatioToAlways: ratio(result.requests.average, ack.payram.rps) };
    console.log(`${LABELS.payram} with appendfsync everysec: ${everysec.rps} req/s  p99 ${everysec.p99} ms (${everysec.rpsRatioToAlways} × always)`);
    await lazyIngress.proc.stop();
    await removeRedisServer(lazyRedis);
  }

  // The route runs left their jobs waiting for a worker: clear them so the next phases start empty.
  for (const name of [...ASYNC_ROUTES.map((n) => QUEUES[n]), QUEUES.paymentEvents]) {
    const q = queue(name);
    await q.obliterate({ force: true });
    await q.close();
  }

  // 2. End to end with 1, then 2 workers: the clock runs from the first request to the moment
  // the last delivery's PaymentEvent is queued.
  const workers = [];
  const endToEnd = [];
  for (const count of [1, 2]) {
    while (workers.length < count) workers.push(await startWorker(env));
    const before = await events.getJobCountByTypes("waiting", "completed", "active", "delayed");
    const t0 = performance.now();
    const pids = { ingress: ingress.proc.child.pid, workers: workers.map((w) => w.child.pid), redis: redis.pid() };
    const cpu = (pid) => (Array.isArray(pid) ? pid.reduce((a, p) => a + cpuSeconds(p), 0) : cpuSeconds(pid));
    const cpuBefore = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpu(pid)]));
    const r = await new Promise((done, fail) =>
      autocannon({ ...route.payram.request, connections: CONNECTIONS, amount: E2E_DELIVERIES }, (e, x) => (e ? fail(e) : done(x))),
    );
    const accepted = r["2xx"];
    const ackSeconds = (performance.now() - t0) / 1000;
    await waitFor(async () => (await events.getJobCountByTypes("waiting", "completed", "active", "delayed")) - before >= accepted || undefined, "every PaymentEvent", 300_000);
    const cpuUsPerEvent = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, Math.round(((cpu(pid) - cpuBefore[k]) * 1e6) / accepted)]));
    const seconds = (performance.now() - t0) / 1000;
    endToEnd.push({
      workers: count,
      deliveries: E2E_DELIVERIES,
      accepted,
      eventsPerSecond: Math.round(accepted / seconds),
      acceptedPerSecond: Math.round(accepted / ackSeconds),
      seconds: +seconds.toFixed(2),
      lastEventAfterLastAckMs: Math.round((seconds - ackSeconds) * 1000),
      cpuUsPerEvent,
    });
    console.log(`end to end, ${count} worker(s): ${accepted} deliveries → ${accepted} PaymentEvents in ${seconds.toFixed(2)} s`);
  }

  // 3. Payme request–reply with the 2 workers: flat out, then at a fixed rate.
  await route.payme.setup();
  let unanswered = 0;
  const countUnanswered = (client) => client.on("body", (b) => { if (b.includes("-32400")) unanswered++; });
  const paymeMax = { ...summary(await load({ ...route.payme.request, setupClient: countUnanswered })), unanswered };
  // At a fixed rate: an open-loop generator (bench/paced.js), one call every 1/rate s, latency
  // from when each call was due. A short run first warms the connections up; its figures are dropped.
  const { url, headers, body } = route.payme.request;
  const paymeCall = () => ({ url, method: "POST", headers, body });
  const answered = (status, text) => status === 200 && text.includes('"result"');
  await paced({ rate: PAYME_RATE, seconds: 2, request: paymeCall, check: answered });
  const fixed = await paced({ rate: PAYME_RATE, seconds: PAYME_FIXED_S, request: paymeCall, check: answered });
  const paymeFixed = { rps: fixed.achievedRps, p50: fixed.p50, p99: fixed.p99, p999: fixed.p999, max: fixed.max, non2xx: fixed.failures, errors: fixed.errors, requests: fixed.requests, unanswered: fixed.failures, rate: PAYME_RATE };
  console.log(`Payme CheckPerformTransaction: ${paymeMax.rps} req/s flat out; at ${PAYME_RATE}/s p50 ${paymeFixed.p50} ms, p99 ${paymeFixed.p99} ms`);

  const rss = { ingressMiB: peakRssMiB(ingress.proc.child.pid), workersMiB: workers.map((w) => peakRssMiB(w.child.pid)) };
  await Promise.all([ingress.proc.stop(), ...workers.map((w) => w.stop())]);

  // 4. Redis commands per acknowledged delivery and per delivered event, on a fresh Redis.
  const redisCommands = await measureRedisCommands();
  console.log(
    `Redis commands: per acknowledged delivery ${Object.entries(redisCommands.perAck).map(([k, v]) => `${k} ${v.perItem}`).join(", ")}; ` +
      `per delivered event ${redisCommands.perEvent.perItem} (processing ${redisCommands.processingPerEvent}); ` +
      `per paid order ${JSON.stringify(redisCommands.storagePerPaidOrder)}`,
  );
  const e2eBest = endToEnd.reduce((a, b) => (b.eventsPerSecond > a.eventsPerSecond ? b : a));
  const budgets = {
    ...Object.fromEntries(
      ASYNC_ROUTES.map((n) => [
        n,
        { rps: `${ack[n].rpsRatio} × bare (≥ ${BUDGET.rpsRatio})`, p99: `${ack[n].p99Ratio} × bare (≤ ${BUDGET.p99Ratio})`, met: ack[n].rpsRatio >= BUDGET.rpsRatio && ack[n].p99Ratio <= BUDGET.p99Ratio },
      ]),
    ),
    endToEnd: { eventsPerSecond: e2eBest.eventsPerSecond, budget: BUDGET.eventsPerSecond, met: e2eBest.eventsPerSecond >= BUDGET.eventsPerSecond },
    payme: { p99Ms: paymeFixed.p99, budgetMs: BUDGET.paymeP99Ms, met: paymeFixed.p99 <= BUDGET.paymeP99Ms && paymeFixed.unanswered === 0 && paymeFixed.non2xx === 0 },
  };
  const figures = {
    startedAt,
    machine: host,
    settings: { durationSeconds: DURATION_S, connections: CONNECTIONS, rounds: ROUNDS, e2eDeliveries: E2E_DELIVERIES, logLevel: env.LOG_LEVEL, adminApiAndMetrics: true, redis: REDIS_PERSISTENCE },
    bare: bareBest,
    routes: ack,
    payramEverysec: everysec,
    runs,
    endToEnd,
    payme: { flatOut: paymeMax, fixedRate: paymeFixed },
    peakRss: rss,
    redisCommands,
    budgets,
  };

  console.log(`\npayhooks bench (Redis: ${REDIS_PERSISTENCE})`);
  console.table({
    [LABELS.bare]: bareBest,
    ...Object.fromEntries(ASYNC_ROUTES.map((n) => [LABELS[n], ack[n]])),
    ...(everysec ? { [`${LABELS.payram}, everysec`]: everysec } : {}),
    "Payme CheckPerform, flat out": paymeMax,
    [`Payme CheckPerform at ${PAYME_RATE}/s`]: paymeFixed,
  });
  console.table(endToEnd);
  console.log("peak RSS:", rss);
  for (const [name, b] of Object.entries(budgets)) console.log(`budget ${name}: ${pass(b.met)}`, b);

  const resultsDir = join(__dirname, "results");
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `bench-${startedAt.replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, `${JSON.stringify(figures, null, 2)}\n`);
  writeFileSync(join(__dirname, "RESULTS.md"), markdown(figures));
  console.log(`\nwrote ${file} and bench/RESULTS.md`);

  await events.close();
  conn.disconnect();
  await bare.stop();
  await removeRedisServer(redis);
}

const top = (by) => Object.entries(by).slice(0, 6).map(([k, v]) => `${k} ${v}`).join(", ");

function markdown(f) {
  const n = (x) => x.toLocaleString("en-US");
  const m = f.machine;
  const cpu = (c) => Object.entries(c).map(([k, v]) => `${k} ${v}`).join(", ");
  const row = (label, s, extra = "") => `| ${label} | ${n(s.rps)}${extra} | ${s.p50} ms | ${s.p99} ms | ${s.p999} ms | ${s.non2xx} | ${cpu(s.cpuUsPerRequest)} |`;
  const lines = [
    "# Benchmark results",
    "",
    `Written by \`npm run bench\` on ${f.startedAt.slice(0, 10)}; the raw figures are in \`bench/results/\` on the machine that ran it.`,
    `Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}, Redis ${m.redis}; load average at start ${m.loadAverageAtStart.join(" / ")}.`,
    `Each run: ${f.settings.durationSeconds} s, ${f.settings.connections} connections, best of ${f.settings.rounds} alternating rounds; log level ${f.settings.logLevel}; admin API and metrics on.`,
    `Redis: ${f.settings.redis ?? "no persistence"} (as \`npm start\` and docker-compose.yml run it), unless a row says otherwise.`,
    "The load generator, Redis and the process under test share the machine's cores.",
    "",
    "## Acknowledgement throughput (the ingress alone; its jobs wait in Redis)",
    "",
    "| route | requests/s | p50 | p99 | p99.9 | non-2xx | CPU µs per request |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    row("bare Express (ceiling)", f.bare),
    ...ASYNC_ROUTES.map((r) => row(LABELS[r], f.routes[r], ` (${f.routes[r].rpsRatio} × bare; p99 ${f.routes[r].p99Ratio} × bare)`)),
    ...(f.payramEverysec
      ? [row(`${LABELS.payram}, Redis appendfsync everysec (one run after a 2 s warm-up, its own Redis and ingress)`, f.payramEverysec, ` (${f.payramEverysec.rpsRatioToAlways} × always)`)]
      : ["", "(The appendfsync everysec comparison was skipped: BENCH_EVERYSEC=0.)"]),
    "",
    "## End to end: first HTTP request → last PaymentEvent queued",
    "",
    "| workers | deliveries | events/s | accepted/s | last event after last ack | CPU µs per event |",
    "| --- | --- | --- | --- | --- | --- |",
    ...f.endToEnd.map((e) => `| ${e.workers} | ${n(e.accepted)} | ${n(e.eventsPerSecond)} | ${n(e.acceptedPerSecond)} | ${n(e.lastEventAfterLastAckMs)} ms | ${cpu(e.cpuUsPerEvent)} |`),
    "",
    "## Payme request–reply (CheckPerformTransaction through the queue and a worker, 2 workers)",
    "",
    "| load | requests/s | p50 | p99 | p99.9 | not answered with a result |",
    "| --- | --- | --- | --- | --- | --- |",
    `| flat out | ${n(f.payme.flatOut.rps)} | ${f.payme.flatOut.p50} ms | ${f.payme.flatOut.p99} ms | ${f.payme.flatOut.p999} ms | ${f.payme.flatOut.unanswered} |`,
    `| steady ${f.payme.fixedRate.rate}/s (open loop, ${f.payme.fixedRate.requests} calls) | ${n(f.payme.fixedRate.rps)} | ${f.payme.fixedRate.p50} ms | ${f.payme.fixedRate.p99} ms | ${f.payme.fixedRate.p999} ms | ${f.payme.fixedRate.unanswered} |`,
    "",
    `Peak RSS: ingress ${f.peakRss.ingressMiB} MiB; workers ${f.peakRss.workersMiB.map((w) => `${w} MiB`).join(", ")}.`,
    "",
    `## Redis commands (INFO commandstats, ${n(f.redisCommands.deliveries)} deliveries each; merchant delivery on)`,
    "",
    "| | commands | top commands |",
    "| --- | --- | --- |",
    ...ASYNC_ROUTES.map((r) => `| per acknowledged delivery, ${LABELS[r]} | ${f.redisCommands.perAck[r].perItem} | ${top(f.redisCommands.perAck[r].byCommand)} |`),
    `| per delivered event (Payram, order paid, event to the merchant), ack included | ${f.redisCommands.perEvent.perItem} | ${top(f.redisCommands.perEvent.byCommand)} |`,
    `| per delivered event, processing only (less the Payram ack) | ${f.redisCommands.processingPerEvent} | |`,
    "",
    ...(f.redisCommands.storagePerPaidOrder
      ? [
          `Redis storage per paid order, once every event reached the merchant (BullMQ's kept jobs included): ${f.redisCommands.storagePerPaidOrder.keys} keys (${f.redisCommands.storagePerPaidOrder.ledgerKeys} of them the ledger's), ${n(f.redisCommands.storagePerPaidOrder.bytes)} bytes of \`used_memory\`.`,
          "",
        ]
      : []),
    "## Budgets (reported, not asserted)",
    "",
    "| budget | figure | |",
    "| --- | --- | --- |",
    ...ASYNC_ROUTES.map((r) => `| ${LABELS[r]}: ≥ ${BUDGET.rpsRatio} × bare requests/s, p99 ≤ ${BUDGET.p99Ratio} × bare p99 | ${f.budgets[r].rps}; ${f.budgets[r].p99} | ${pass(f.budgets[r].met)} |`),
    `| end to end ≥ ${n(BUDGET.eventsPerSecond)} events/s | ${n(f.budgets.endToEnd.eventsPerSecond)} | ${pass(f.budgets.endToEnd.met)} |`,
    `| Payme p99 ≤ ${BUDGET.paymeP99Ms} ms at ${PAYME_RATE}/s | ${f.budgets.payme.p99Ms} ms | ${pass(f.budgets.payme.met)} |`,
    "",
  ];
  return lines.join("\n");
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
