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
// 2. End to end, as users run it (bench/e2e.js): N signed Payram deliveries (BENCH_E2E_DELIVERIES,
//    default 10,000, after BENCH_E2E_WARMUP warm-up ones), each for an order created beforehand
//    through the admin API, merchant delivery on, to a counting merchant endpoint in a process
//    of its own (bench/merchant-endpoint.js); timed from the first HTTP request until the merchant
//    has received all N distinct events. 1 and 2 workers, Redis appendfsync always and everysec
//    (BENCH_EVERYSEC=0 skips everysec here too); a fresh Redis and processes for every row.
//    BENCH_BASELINE=<git rev> builds that revision in a temporary worktree and runs every row
//    for it too, alternating with the current build (and phase 4 as well); the worktree is
//    removed at the end.
// 3. Payme request–reply (through the queue to a worker and back, 2 workers): as fast as it goes,
//    and at a steady 300 requests/s from an open-loop generator (bench/paced.js; autocannon's
//    overallRate sends each second's quota as a burst at the start of the second).
// 4. Redis commands per acknowledged delivery and per delivered event, and Redis bytes per paid
//    order (bench/redis-commands.js: INFO commandstats deltas, merchant delivery on), on a Redis
//    of their own.
// BENCH_ONLY=ack,e2e,payme,commands (any of them, comma-separated) runs only those phases; such a
// partial run writes its Markdown next to its JSON in bench/results/, not to bench/RESULTS.md.
// Peak RSS (VmHWM) of each process is read from /proc.
// Figures: printed, written as JSON to bench/results/ (git-ignored), and as Markdown to
// bench/RESULTS.md (committed; the README links to it).
const { execFileSync } = require("node:child_process");
const { mkdirSync, writeFileSync } = require("node:fs");
const os = require("node:os");
const { join, resolve } = require("node:path");
const autocannon = require("autocannon");
const { Queue } = require("bullmq");
const { createRedis, QUEUES } = require("../packages/core/dist");
const { freePort, removeRedisServer, spawnNode, startRedisServer, startIngress, startWorker } = require("../packages/testing/dist");
const { paced } = require("./paced");
const { measureRedisCommands } = require("./redis-commands");
const { CURRENT, buildBaseline, endToEndPhase } = require("./e2e");
const { cpuSeconds, peakRssMiB } = require("./proc");
const { routes, BENCH_ENV } = require("./routes");

const DURATION_S = Number(process.env.BENCH_DURATION_S || 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS || 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 2);
const E2E_DELIVERIES = Number(process.env.BENCH_E2E_DELIVERIES || 10_000);
const E2E_WARMUP = Number(process.env.BENCH_E2E_WARMUP ?? Math.min(1_000, Math.ceil(E2E_DELIVERIES / 10)));
const E2E_ROUNDS = Number(process.env.BENCH_E2E_ROUNDS || 1);
const PAYME_RATE = 300;
const PAYME_FIXED_S = Number(process.env.BENCH_PAYME_FIXED_S || 10);
const EVERYSEC = process.env.BENCH_EVERYSEC !== "0";
const BASELINE = process.env.BENCH_BASELINE || null;
const PHASES = ["ack", "e2e", "payme", "commands"];
const ONLY = process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(",").map((p) => p.trim()).filter(Boolean) : PHASES;
for (const p of ONLY) if (!PHASES.includes(p)) throw new Error(`BENCH_ONLY: unknown phase "${p}" (phases: ${PHASES.join(", ")})`);
const runs_ = (phase) => ONLY.includes(phase);
const FULL = PHASES.every(runs_);
const REDIS_PERSISTENCE = "AOF, appendfsync always";
const ASYNC_ROUTES = ["payram", "payske", "robokassa"];
const BUDGET = { rpsRatio: 0.8, p99Ratio: 2, deliveredPerSecond: 1500, commandsPerEvent: 50, paymeP99Ms: 25 };

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

/** Phase 1: each async route and the bare server, alternating; then Payram against appendfsync everysec. */
async function ackPhase({ env, ingress, bare, redis, route }) {
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
  return { bare: bareBest, routes: ack, payramEverysec: everysec, runs };
}

/** Phase 3: Payme CheckPerformTransaction with 2 workers, flat out, then at a fixed rate. */
async function paymePhase({ env, route }) {
  const workers = [await startWorker(env), await startWorker(env)];
  try {
    await route.payme.setup();
    let unanswered = 0;
    const countUnanswered = (client) => client.on("body", (b) => { if (b.includes("-32400")) unanswered++; });
    const flatOut = { ...summary(await load({ ...route.payme.request, setupClient: countUnanswered })), unanswered };
    // At a fixed rate: an open-loop generator (bench/paced.js), one call every 1/rate s, latency
    // from when each call was due. A short run first warms the connections up; its figures are dropped.
    const { url, headers, body } = route.payme.request;
    const paymeCall = () => ({ url, method: "POST", headers, body });
    const answered = (status, text) => status === 200 && text.includes('"result"');
    await paced({ rate: PAYME_RATE, seconds: 2, request: paymeCall, check: answered });
    const fixed = await paced({ rate: PAYME_RATE, seconds: PAYME_FIXED_S, request: paymeCall, check: answered });
    const fixedRate = { rps: fixed.achievedRps, p50: fixed.p50, p99: fixed.p99, p999: fixed.p999, max: fixed.max, non2xx: fixed.failures, errors: fixed.errors, requests: fixed.requests, unanswered: fixed.failures, rate: PAYME_RATE };
    console.log(`Payme CheckPerformTransaction: ${flatOut.rps} req/s flat out; at ${PAYME_RATE}/s p50 ${fixedRate.p50} ms, p99 ${fixedRate.p99} ms`);
    return { flatOut, fixedRate, workersPeakRssMiB: workers.map((w) => peakRssMiB(w.child.pid)) };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
}

const describeCommands = (label, c) =>
  `Redis commands (${label}): per acknowledged delivery ${Object.entries(c.perAck).map(([k, v]) => `${k} ${v.perItem}`).join(", ")}; ` +
  `per delivered event ${c.perEvent.perItem} (processing ${c.processingPerEvent}); per paid order ${JSON.stringify(c.storagePerPaidOrder)}`;

async function main() {
  const startedAt = new Date().toISOString();
  const host = machine();
  console.log(`payhooks bench: phases ${ONLY.join(", ")}${BASELINE ? `; baseline ${BASELINE}` : ""}; load average ${host.loadAverageAtStart.join(" / ")}`);
  const figures = {
    startedAt,
    machine: host,
    phases: ONLY,
    settings: {
      durationSeconds: DURATION_S,
      connections: CONNECTIONS,
      rounds: ROUNDS,
      e2eDeliveries: E2E_DELIVERIES,
      e2eWarmup: E2E_WARMUP,
      e2eRounds: E2E_ROUNDS,
      everysec: EVERYSEC,
      baseline: BASELINE,
      logLevel: "info",
      adminApiAndMetrics: true,
      redis: REDIS_PERSISTENCE,
    },
  };

  // The baseline is built first (a build failure stops the bench before any figure) and its
  // worktree removed whatever happens, Ctrl-C included.
  let baseline = null;
  if (BASELINE && (runs_("e2e") || runs_("commands"))) {
    baseline = buildBaseline(BASELINE);
    const cleanUp = () => baseline?.remove();
    process.once("SIGINT", () => { cleanUp(); process.exit(130); });
    process.once("SIGTERM", () => { cleanUp(); process.exit(143); });
    figures.baseline = { rev: baseline.rev, name: baseline.name };
  }
  try {
    // Phases 1 and 3 share one Redis (as shipped: AOF, appendfsync always) and one ingress.
    if (runs_("ack") || runs_("payme")) {
      const redis = await startRedisServer({ aof: true });
      const env = { ...BENCH_ENV, REDIS_URL: redis.url, LOG_LEVEL: "info" };
      const ingress = await startIngress(env);
      const barePort = await freePort();
      const bare = spawnNode(resolve(__dirname, "bare-server.js"), { PORT: String(barePort) });
      await bare.waitForLine(/bare listening/);
      const route = routes(ingress, `http://127.0.0.1:${barePort}/`);
      try {
        if (runs_("ack")) {
          Object.assign(figures, await ackPhase({ env, ingress, bare, redis, route }));
          // The route runs left their jobs waiting for a worker: clear them before Payme's workers start.
          const conn = createRedis(redis.url, "worker");
          for (const name of [...ASYNC_ROUTES.map((n) => QUEUES[n]), QUEUES.paymentEvents]) {
            const q = new Queue(name, { connection: conn, prefix: BENCH_ENV.QUEUE_PREFIX });
            await q.obliterate({ force: true });
            await q.close();
          }
          conn.disconnect();
        }
        if (runs_("payme")) {
          const { workersPeakRssMiB, ...payme } = await paymePhase({ env, route });
          figures.payme = payme;
          figures.peakRss = { ingressMiB: peakRssMiB(ingress.proc.child.pid), workersMiB: workersPeakRssMiB };
        } else {
          figures.peakRss = { ingressMiB: peakRssMiB(ingress.proc.child.pid), workersMiB: [] };
        }
      } finally {
        await ingress.proc.stop();
        await bare.stop();
        await removeRedisServer(redis);
      }
    }

    // 2. End to end to the merchant endpoint, current and baseline alternating.
    if (runs_("e2e")) {
      figures.endToEnd = await endToEndPhase({
        builds: baseline ? [CURRENT, baseline] : [CURRENT],
        fsyncs: EVERYSEC ? ["always", "everysec"] : ["always"],
        n: E2E_DELIVERIES,
        warmup: E2E_WARMUP,
        connections: CONNECTIONS,
        rounds: E2E_ROUNDS,
      });
    }

    // 4. Redis commands and bytes, on a fresh Redis each.
    if (runs_("commands")) {
      figures.redisCommands = await measureRedisCommands();
      console.log(describeCommands("current", figures.redisCommands));
      if (baseline) {
        figures.redisCommandsBaseline = await measureRedisCommands({ ingressMain: baseline.ingressMain, workerMain: baseline.workerMain });
        console.log(describeCommands(baseline.name, figures.redisCommandsBaseline));
      }
    }
  } finally {
    baseline?.remove();
  }

  figures.budgets = budgets(figures);
  print(figures);

  const resultsDir = join(__dirname, "results");
  mkdirSync(resultsDir, { recursive: true });
  const stem = join(resultsDir, `bench-${startedAt.replace(/[:.]/g, "-")}${FULL ? "" : `-${ONLY.join("+")}`}`);
  writeFileSync(`${stem}.json`, `${JSON.stringify(figures, null, 2)}\n`);
  if (FULL) {
    writeFileSync(join(__dirname, "RESULTS.md"), markdown(figures));
    console.log(`\nwrote ${stem}.json and bench/RESULTS.md`);
  } else {
    writeFileSync(`${stem}.md`, markdown(figures));
    console.log(`\nwrote ${stem}.json and ${stem}.md (a partial run: bench/RESULTS.md is left as it was)`);
  }
}

/** The end-to-end row the delivered budget is judged on: the current build, as shipped (always), 1 worker (best round). */
const headlineRow = (f) =>
  f.endToEnd?.filter((r) => r.build === CURRENT.name && r.fsync === "always" && r.workers === 1).reduce((a, b) => (a && a.eventsPerSecond >= b.eventsPerSecond ? a : b), null);
const baselineOf = (f, row) => f.endToEnd?.find((r) => r.build !== CURRENT.name && r.round === row.round && r.fsync === row.fsync && r.workers === row.workers);

function budgets(f) {
  const b = {};
  if (f.routes) {
    for (const n of ASYNC_ROUTES) {
      const r = f.routes[n];
      b[n] = { rps: `${r.rpsRatio} × bare (≥ ${BUDGET.rpsRatio})`, p99: `${r.p99Ratio} × bare (≤ ${BUDGET.p99Ratio})`, met: r.rpsRatio >= BUDGET.rpsRatio && r.p99Ratio <= BUDGET.p99Ratio };
    }
  }
  const head = headlineRow(f);
  if (head) b.delivered = { eventsPerSecond: head.eventsPerSecond, budget: BUDGET.deliveredPerSecond, met: head.eventsPerSecond >= BUDGET.deliveredPerSecond && head.accepted === head.deliveries };
  if (f.redisCommands) b.commandsPerEvent = { commands: f.redisCommands.perEvent.perItem, budget: BUDGET.commandsPerEvent, met: f.redisCommands.perEvent.perItem <= BUDGET.commandsPerEvent };
  if (f.payme) b.payme = { p99Ms: f.payme.fixedRate.p99, budgetMs: BUDGET.paymeP99Ms, met: f.payme.fixedRate.p99 <= BUDGET.paymeP99Ms && f.payme.fixedRate.unanswered === 0 && f.payme.fixedRate.non2xx === 0 };
  return b;
}

function print(f) {
  console.log(`\npayhooks bench (Redis: ${REDIS_PERSISTENCE} unless a row says otherwise)`);
  const table = {
    ...(f.bare ? { [LABELS.bare]: f.bare, ...Object.fromEntries(ASYNC_ROUTES.map((n) => [LABELS[n], f.routes[n]])) } : {}),
    ...(f.payramEverysec ? { [`${LABELS.payram}, everysec`]: f.payramEverysec } : {}),
    ...(f.payme ? { "Payme CheckPerform, flat out": f.payme.flatOut, [`Payme CheckPerform at ${PAYME_RATE}/s`]: f.payme.fixedRate } : {}),
  };
  if (Object.keys(table).length > 0) console.table(table);
  if (f.endToEnd) {
    console.table(
      f.endToEnd.map((r) => ({
        round: r.round,
        build: r.build,
        fsync: r.fsync,
        workers: r.workers,
        accepted: r.accepted,
        "delivered/s": r.eventsPerSecond,
        "accepted/s": r.acceptedPerSecond,
        "last after ack ms": r.lastDeliveryAfterLastAckMs,
        "merchant POSTs": r.merchantPosts,
        ...Object.fromEntries(Object.entries(r.cpuUsPerEvent).map(([k, v]) => [`µs ${k}`, v])),
      })),
    );
  }
  if (f.peakRss) console.log("peak RSS (ack/Payme phases):", f.peakRss);
  for (const [name, b] of Object.entries(f.budgets)) console.log(`budget ${name}: ${pass(b.met)}`, b);
}

const top = (by) => Object.entries(by).slice(0, 6).map(([k, v]) => `${k} ${v}`).join(", ");

function markdown(f) {
  const n = (x) => x.toLocaleString("en-US");
  const m = f.machine;
  const cpu = (c) => Object.entries(c).map(([k, v]) => `${k} ${v}`).join(", ");
  const row = (label, s, extra = "") => `| ${label} | ${n(s.rps)}${extra} | ${s.p50} ms | ${s.p99} ms | ${s.p999} ms | ${s.non2xx} | ${cpu(s.cpuUsPerRequest)} |`;
  const base = f.baseline;
  const lines = [
    "# Benchmark results",
    "",
    `Written by \`npm run bench\`${FULL ? "" : ` (BENCH_ONLY=${f.phases.join(",")})`} on ${f.startedAt.slice(0, 10)}; the raw figures are in \`bench/results/\` on the machine that ran it.`,
    `Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}, Redis ${m.redis}; load average at start ${m.loadAverageAtStart.join(" / ")}.`,
    ...(base ? [`Baseline: ${base.rev}, built in a temporary worktree and run in the same session, alternating with the current build.`] : []),
    `Redis: ${f.settings.redis ?? "no persistence"} (as \`npm start\` and docker-compose.yml run it), unless a row says otherwise; log level ${f.settings.logLevel}; admin API and metrics on.`,
    "The load generator, Redis, the merchant endpoint and the processes under test share the machine's cores.",
    "",
  ];
  if (f.bare) {
    lines.push(
      "## Acknowledgement throughput (the ingress alone; its jobs wait in Redis)",
      "",
      `Each run: ${f.settings.durationSeconds} s, ${f.settings.connections} connections, best of ${f.settings.rounds} alternating rounds.`,
      "",
      "| route | requests/s | p50 | p99 | p99.9 | non-2xx | CPU µs per request |",
      "| --- | --- | --- | --- | --- | --- | --- |",
      row("bare Express (ceiling)", f.bare),
      ...ASYNC_ROUTES.map((r) => row(LABELS[r], f.routes[r], ` (${f.routes[r].rpsRatio} × bare; p99 ${f.routes[r].p99Ratio} × bare)`)),
      ...(f.payramEverysec
        ? [row(`${LABELS.payram}, Redis appendfsync everysec (one run after a 2 s warm-up, its own Redis and ingress)`, f.payramEverysec, ` (${f.payramEverysec.rpsRatioToAlways} × always)`)]
        : ["", "(The appendfsync everysec comparison was skipped: BENCH_EVERYSEC=0.)"]),
      "",
    );
  }
  if (f.endToEnd) {
    const e = f.endToEnd;
    const vs = (r) => {
      if (!base || r.build !== CURRENT.name) return "";
      const b = baselineOf(f, r);
      return b ? ` (${ratio(r.eventsPerSecond, b.eventsPerSecond)} × baseline)` : "";
    };
    const rounds = f.settings.e2eRounds > 1;
    const sorted = [...e].sort((a, b) => (a.fsync === b.fsync ? 0 : a.fsync === "always" ? -1 : 1) || a.workers - b.workers || a.round - b.round || (a.build === CURRENT.name ? -1 : 1));
    lines.push(
      "## End to end: first HTTP request → the merchant endpoint has received every event",
      "",
      `${n(f.settings.e2eDeliveries)} signed Payram deliveries per row (after ${n(f.settings.e2eWarmup)} untimed warm-up ones), ${f.settings.connections} connections, each for an order created beforehand through the admin API, so each becomes one PaymentEvent POSTed, signed, to a counting merchant endpoint (a process of its own; keep-alive, 200, empty body). Merchant delivery on, the payment-events queue off (the defaults). Every row has a fresh Redis (AOF, the appendfsync shown), ingress, worker(s) and merchant endpoint. "delivered/s": deliveries ÷ the time from the first request until the merchant had every event (distinct webhook-ids); "accepted/s": over the time until the last acknowledgement.`,
      "",
      `| Redis appendfsync | workers |${rounds ? " round |" : ""} build | delivered events/s | accepted/s | last delivery after last ack | ack p99 | non-2xx | merchant POSTs | CPU µs per event |`,
      `| --- | --- |${rounds ? " --- |" : ""} --- | --- | --- | --- | --- | --- | --- | --- |`,
      ...sorted.map(
        (r) =>
          `| ${r.fsync} | ${r.workers} |${rounds ? ` ${r.round} |` : ""} ${r.build} | **${n(r.eventsPerSecond)}**${vs(r)} | ${n(r.acceptedPerSecond)} | ${n(r.lastDeliveryAfterLastAckMs)} ms | ${r.ackP99} ms | ${r.non2xx + r.errors} | ${n(r.merchantPosts)} | ${cpu(r.cpuUsPerEvent)} |`,
      ),
      "",
    );
    const rss = e.find((r) => r.build === CURRENT.name && r.fsync === "always" && r.workers === 2) ?? e.find((r) => r.build === CURRENT.name);
    if (rss) lines.push(`Peak RSS end to end (current build, appendfsync ${rss.fsync}, ${rss.workers} worker(s)): ${cpu(rss.peakRssMiB).replace(/(\d+)(,|$)/g, "$1 MiB$2")}.`, "");
  }
  if (f.payme) {
    lines.push(
      "## Payme request–reply (CheckPerformTransaction through the queue and a worker, 2 workers)",
      "",
      "| load | requests/s | p50 | p99 | p99.9 | not answered with a result |",
      "| --- | --- | --- | --- | --- | --- |",
      `| flat out | ${n(f.payme.flatOut.rps)} | ${f.payme.flatOut.p50} ms | ${f.payme.flatOut.p99} ms | ${f.payme.flatOut.p999} ms | ${f.payme.flatOut.unanswered} |`,
      `| steady ${f.payme.fixedRate.rate}/s (open loop, ${f.payme.fixedRate.requests} calls) | ${n(f.payme.fixedRate.rps)} | ${f.payme.fixedRate.p50} ms | ${f.payme.fixedRate.p99} ms | ${f.payme.fixedRate.p999} ms | ${f.payme.fixedRate.unanswered} |`,
      "",
    );
  }
  if (f.peakRss) lines.push(`Peak RSS in the acknowledgement and Payme phases: ingress ${f.peakRss.ingressMiB} MiB${f.peakRss.workersMiB.length ? `; workers ${f.peakRss.workersMiB.map((w) => `${w} MiB`).join(", ")}` : ""}.`, "");
  if (f.redisCommands) {
    const c = f.redisCommands;
    const b = f.redisCommandsBaseline;
    const bCol = (v) => (b ? ` ${v} |` : "");
    lines.push(
      `## Redis commands (INFO commandstats, ${n(c.deliveries)} deliveries each; merchant delivery on)`,
      "",
      `| | commands | top commands |${b ? ` ${base.name} |` : ""}`,
      `| --- | --- | --- |${b ? " --- |" : ""}`,
      ...ASYNC_ROUTES.map((r) => `| per acknowledged delivery, ${LABELS[r]} | ${c.perAck[r].perItem} | ${top(c.perAck[r].byCommand)} |${bCol(b?.perAck[r]?.perItem)}`),
      `| per delivered event (Payram, order paid, event to the merchant), ack included | ${c.perEvent.perItem} | ${top(c.perEvent.byCommand)} |${bCol(b?.perEvent.perItem)}`,
      `| per delivered event, processing only (less the Payram ack) | ${c.processingPerEvent} | |${bCol(b?.processingPerEvent)}`,
      ...(c.bullmqAlone
        ? [
            `| BullMQ alone, per job: added with the provider jobs' options | ${c.bullmqAlone.add.perItem} | ${top(c.bullmqAlone.add.byCommand)} |${bCol("")}`,
            `| BullMQ alone, per job: worked to completion by a processor that does nothing (concurrency 16) | ${c.bullmqAlone.life.perItem} | ${top(c.bullmqAlone.life.byCommand)} |${bCol("")}`,
            `| per delivered event, payhooks' own work (processing less BullMQ's job life) | ${+(c.processingPerEvent - c.bullmqAlone.life.perItem).toFixed(2)} | |${bCol("")}`,
          ]
        : []),
      "",
    );
    const s = c.storagePerPaidOrder;
    if (s) {
      const bs = b?.storagePerPaidOrder;
      lines.push(
        `Redis storage per paid order, once every event reached the merchant (BullMQ's kept jobs included): ${s.keys} keys (${s.ledgerKeys} of them the ledger's), ${n(s.bytes)} bytes of \`used_memory\`` +
          (bs ? `; ${base.name}: ${bs.keys} keys (${bs.ledgerKeys} the ledger's), ${n(bs.bytes)} bytes.` : "."),
        "",
      );
    }
  }
  const bg = f.budgets;
  lines.push("## Budgets (reported, not asserted)", "", "| budget | figure | |", "| --- | --- | --- |");
  if (f.routes) lines.push(...ASYNC_ROUTES.map((r) => `| ${LABELS[r]}: ≥ ${BUDGET.rpsRatio} × bare requests/s, p99 ≤ ${BUDGET.p99Ratio} × bare p99 | ${bg[r].rps}; ${bg[r].p99} | ${pass(bg[r].met)} |`));
  if (bg.delivered) lines.push(`| accepted → delivered to the merchant, 1 worker, appendfsync always: ≥ ${n(BUDGET.deliveredPerSecond)} events/s | ${n(bg.delivered.eventsPerSecond)} | ${pass(bg.delivered.met)} |`);
  if (bg.commandsPerEvent) lines.push(`| Redis commands per delivered event ≤ ${BUDGET.commandsPerEvent} | ${bg.commandsPerEvent.commands} | ${pass(bg.commandsPerEvent.met)} |`);
  if (bg.payme) lines.push(`| Payme p99 ≤ ${BUDGET.paymeP99Ms} ms at ${PAYME_RATE}/s | ${bg.payme.p99Ms} ms | ${pass(bg.payme.met)} |`);
  lines.push("");
  return lines.join("\n");
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
