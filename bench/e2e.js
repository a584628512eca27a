// End to end as users run it: signed Payram deliveries → ingress → Redis → worker(s) → a merchant
// endpoint (bench/merchant-endpoint.js, a process of its own), merchant delivery on, the
// payment-events queue off (the production default).
//
// One run (runDelivered): a fresh Redis (AOF, appendfsync always or everysec), the merchant
// endpoint, one ingress and 1 or 2 workers of a build (the current tree, or a baseline built by
// buildBaseline). First N + warm-up orders are created through the admin API (not timed), each
// with a Payram reference, so every payment is attached to its order and becomes one PaymentEvent.
// Then a warm-up of W deliveries, waited for at the merchant (not timed), then N deliveries by
// autocannon; the clock runs from the first HTTP request until the merchant has received N
// distinct webhook-ids. CPU per event (from /proc) for the ingress, each worker, Redis, the
// merchant endpoint and the load generator (this process). run.js runs the phase (BENCH_ONLY=e2e
// for it alone).
const { execFileSync } = require("node:child_process");
const { randomBytes } = require("node:crypto");
const { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync } = require("node:fs");
const { tmpdir } = require("node:os");
const { join, resolve } = require("node:path");
const autocannon = require("autocannon");
const { freePort, removeRedisServer, spawnNode, startRedisServer } = require("../packages/testing/dist");
const { signForTest: signPayram } = require("../packages/payram/dist");
const { startMerchantEndpoint } = require("./merchant-endpoint");
const { cpuSeconds, peakRssMiB } = require("./proc");
const { payramBody, BENCH_ENV, ADMIN_TOKEN, SECRETS } = require("./routes");

const ROOT = resolve(__dirname, "..");

/** The build under test: this tree's dist. */
const CURRENT = {
  name: "current",
  rev: "working tree",
  ingressMain: join(ROOT, "apps/ingress/dist/main.js"),
  workerMain: join(ROOT, "apps/worker/dist/main.js"),
};

/** Starts an ingress from `main` (like @payhooks/testing's startIngress, for any build's dist). */
async function startIngressAt(main, env) {
  const port = await freePort();
  const adminPort = await freePort();
  const proc = spawnNode(main, { LOG_LEVEL: "info", ...env, PORT: String(port), ADMIN_PORT: String(adminPort) });
  await proc.waitForLine(/"msg":"ingress listening"/, 30_000);
  if (env.ADMIN_TOKEN) await proc.waitForLine(/"msg":"admin listening"/, 30_000);
  return { proc, url: `http://127.0.0.1:${port}`, adminUrl: `http://127.0.0.1:${adminPort}` };
}

/** Starts a worker from `main` and waits until its queues are open. */
async function startWorkerAt(main, env) {
  const proc = spawnNode(main, { LOG_LEVEL: "info", ...env });
  await proc.waitForLine(/"msg":"worker ready"/, 30_000);
  return proc;
}

const git = (args, cwd = ROOT) => execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();

/**
 * Builds `rev` in a temporary detached worktree. node_modules: when its package-lock.json is this
 * tree's, every entry is a symlink to this tree's node_modules except the workspace packages
 * (@payhooks/*), which point at the worktree's own packages; otherwise `npm ci` there. Then
 * `npx tsc -b`. Returns a build ({ name, rev, ingressMain, workerMain }) and remove().
 */
function buildBaseline(rev, log = console.log) {
  const sha = git(["rev-parse", "--verify", `${rev}^{commit}`]);
  const parent = mkdtempSync(join(tmpdir(), "payhooks-baseline-"));
  const dir = join(parent, "tree");
  const started = performance.now();
  git(["worktree", "add", "--detach", dir, sha]);
  const remove = () => {
    try {
      git(["worktree", "remove", "--force", dir]);
    } catch {}
    rmSync(parent, { recursive: true, force: true });
    try {
      git(["worktree", "prune"]);
    } catch {}
  };
  try {
    const sameLock = readFileSync(join(dir, "package-lock.json"), "utf8") === readFileSync(join(ROOT, "package-lock.json"), "utf8");
    if (sameLock && existsSync(join(ROOT, "node_modules"))) {
      linkNodeModules(ROOT, dir);
      log(`baseline ${sha.slice(0, 7)}: same package-lock.json, node_modules linked; building`);
      execFileSync("npx", ["tsc", "-b"], { cwd: dir, stdio: ["ignore", "inherit", "inherit"] });
    } else {
      log(`baseline ${sha.slice(0, 7)}: package-lock.json differs, npm ci (it builds)`);
      execFileSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
      execFileSync("npx", ["tsc", "-b"], { cwd: dir, stdio: ["ignore", "inherit", "inherit"] });
    }
  } catch (err) {
    remove();
    throw err;
  }
  log(`baseline ${sha.slice(0, 7)} built in ${((performance.now() - started) / 1000).toFixed(0)} s at ${dir}`);
  return {
    name: `baseline ${sha.slice(0, 7)}`,
    rev: `${rev} (${sha.slice(0, 7)})`,
    ingressMain: join(dir, "apps/ingress/dist/main.js"),
    workerMain: join(dir, "apps/worker/dist/main.js"),
    dir,
    remove,
  };
}

/** node_modules of `to` from those of `from`: external packages shared, workspace links its own. */
function linkNodeModules(from, to) {
  const linkDir = (src, dst) => {
    mkdirSync(dst, { recursive: true });
    for (const entry of readdirSync(src)) {
      if (entry === "@payhooks") {
        // Relative links (../../packages/core): copied as they are, they resolve inside `to`.
        mkdirSync(join(dst, entry));
        for (const pkg of readdirSync(join(src, entry))) symlinkSync(readlinkSync(join(src, entry, pkg)), join(dst, entry, pkg));
      } else {
        symlinkSync(join(src, entry), join(dst, entry));
      }
    }
  };
  linkDir(join(from, "node_modules"), join(to, "node_modules"));
  for (const group of ["apps", "packages"]) {
    if (!existsSync(join(from, group))) continue;
    for (const ws of readdirSync(join(from, group))) {
      const nested = join(from, group, ws, "node_modules");
      if (existsSync(nested) && existsSync(join(to, group, ws)) && !existsSync(join(to, group, ws, "node_modules"))) linkDir(nested, join(to, group, ws, "node_modules"));
    }
  }
}

/**
 * autocannon until `amount` responses; resolves with its result and `lastResponseAt` (hrtime, ns):
 * autocannon calls back only at its next 1 s sample tick, so its own end time is up to 1 s late.
 */
function blast(opts) {
  return new Promise((done, fail) => {
    let lastResponseAt = null;
    const instance = autocannon(opts, (e, r) => (e ? fail(e) : done({ ...r, lastResponseAt })));
    instance.on("response", () => {
      lastResponseAt = process.hrtime.bigint();
    });
  });
}

/** PUTs orders `${run}-${from}` … `${run}-${to - 1}`, each with Payram reference refOf(i). */
async function createOrders(ingress, run, refOf, from, to) {
  let i = from;
  const r = await blast({
    url: ingress.adminUrl,
    connections: 20,
    amount: to - from,
    requests: [
      {
        setupRequest: (req) => {
          const n = i++;
          return {
            ...req,
            method: "PUT",
            path: `/v1/orders/${run}-${n}`,
            headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
            body: JSON.stringify({ amount: 4999, currency: "USD", references: { payram: refOf(n) } }),
          };
        },
      },
    ],
  });
  if (r["2xx"] !== to - from) throw new Error(`creating orders: ${r["2xx"]} of ${to - from} answered 2xx (non-2xx ${r.non2xx}, errors ${r.errors})`);
}

/** Sends deliveries for orders from … from + amount - 1 (Payram, signed), `connections` at a time. */
function deliver(ingress, refOf, from, amount, connections) {
  let i = from;
  return blast({
    url: `${ingress.url}/webhooks/payram`,
    method: "POST",
    connections,
    amount,
    requests: [
      {
        setupRequest: (req) => {
          const body = payramBody(i).replace(/"reference_id":"[^"]*"/, `"reference_id":"${refOf(i)}"`);
          i++;
          return { ...req, body, headers: signPayram(body, SECRETS.payram, "signature") };
        },
      },
    ],
  });
}

/**
 * One end-to-end run. `build`: CURRENT or buildBaseline(); `fsync`: "always" | "everysec";
 * `workers`: how many worker processes; `n`: timed deliveries; `warmup`: deliveries before the clock.
 */
async function runDelivered({ build, fsync, workers: workerCount, n, warmup, connections }) {
  const redis = await startRedisServer({ aof: true, args: ["--appendfsync", fsync] });
  const secret = `whsec_${randomBytes(32).toString("base64")}`;
  const merchant = await startMerchantEndpoint({ secret });
  const env = {
    ...BENCH_ENV,
    REDIS_URL: redis.url,
    LOG_LEVEL: "info",
    MERCHANT_WEBHOOK_URL: merchant.url,
    MERCHANT_WEBHOOK_SECRET: secret,
    PAYMENT_EVENTS_QUEUE: "false",
  };
  const procs = [];
  try {
    const ingress = await startIngressAt(build.ingressMain, env);
    procs.push(ingress.proc);
    const run = `e2e${Date.now().toString(36)}`;
    const refOf = (i) => `bench-${run}-${i}`;
    // autocannon may build a request or two past `amount`: a few spare orders.
    await createOrders(ingress, run, refOf, 0, warmup + n + connections);
    const workers = [];
    for (let k = 0; k < workerCount; k++) workers.push(await startWorkerAt(build.workerMain, env));
    procs.push(...workers);

    if (warmup > 0) {
      const reached = merchant.waitFor(warmup, 120_000);
      const w = await deliver(ingress, refOf, 0, warmup, connections);
      if (w["2xx"] !== warmup) throw new Error(`warm-up: ${w["2xx"]} of ${warmup} deliveries acknowledged (non-2xx ${w.non2xx}, errors ${w.errors})`);
      await reached;
    }
    await merchant.reset();

    const pids = { ingress: ingress.proc.child.pid, ...Object.fromEntries(workers.map((w, k) => [`worker${k + 1}`, w.child.pid])), redis: redis.pid(), merchant: merchant.pid };
    const cpuBefore = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
    const selfBefore = process.cpuUsage();
    const timeoutMs = Math.max(120_000, n * 10);
    const t0 = process.hrtime.bigint();
    const reached = merchant.waitFor(n, timeoutMs);
    reached.catch(() => {});
    const r = await deliver(ingress, refOf, warmup, n, connections);
    const ackEnd = r.lastResponseAt ?? process.hrtime.bigint();
    const accepted = r["2xx"];
    if (accepted !== n) {
      // Fewer acknowledged than sent: wait for those that were (the run is reported, flagged).
      console.warn(`end to end: only ${accepted} of ${n} deliveries acknowledged (non-2xx ${r.non2xx}, errors ${r.errors + r.timeouts})`);
    }
    const last = accepted === n ? await reached : await merchant.waitFor(accepted, timeoutMs);
    const self = process.cpuUsage(selfBefore);
    const cpuUsPerEvent = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, Math.round(((cpuSeconds(pid) - cpuBefore[k]) * 1e6) / accepted)]));
    cpuUsPerEvent.loadGenerator = Math.round((self.user + self.system) / accepted);
    cpuUsPerEvent.total = Object.values(cpuUsPerEvent).reduce((a, b) => a + b, 0);
    const seconds = Number(last.at - t0) / 1e9;
    const ackSeconds = Number(ackEnd - t0) / 1e9;
    // A moment for stray duplicates (retries) to show in the totals.
    await new Promise((ok) => setTimeout(ok, 200));
    const counts = await merchant.count();
    const peakRss = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, peakRssMiB(pid)]));
    return {
      build: build.name,
      rev: build.rev,
      fsync,
      workers: workerCount,
      deliveries: n,
      warmup,
      accepted,
      non2xx: r.non2xx,
      errors: r.errors + r.timeouts,
      eventsPerSecond: Math.round(accepted / seconds),
      acceptedPerSecond: Math.round(accepted / ackSeconds),
      ackP99: r.latency.p99,
      seconds: +seconds.toFixed(2),
      lastDeliveryAfterLastAckMs: Math.round((seconds - ackSeconds) * 1000),
      merchantDistinct: counts.distinct,
      merchantPosts: counts.total,
      signatureChecked: counts.signature,
      cpuUsPerEvent,
      peakRssMiB: peakRss,
    };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await merchant.stop();
    await removeRedisServer(redis);
  }
}

/**
 * The whole phase: `rounds` times, for each fsync mode, 1 then 2 workers, each build in turn (the
 * order alternating from one pairing to the next). Returns the rows (each with its round).
 */
async function endToEndPhase({ builds, fsyncs, workerCounts = [1, 2], n, warmup, connections, rounds = 1, log = console.log }) {
  const pairings = [];
  for (let round = 1; round <= rounds; round++) for (const fsync of fsyncs) for (const workers of workerCounts) pairings.push({ round, fsync, workers });
  const rows = [];
  for (const [step, { round, fsync, workers }] of pairings.entries()) {
    for (const build of step % 2 === 0 ? builds : [...builds].reverse()) {
      const row = { round, ...(await runDelivered({ build, fsync, workers, n, warmup, connections })) };
      rows.push(row);
      log(
        `end to end${rounds > 1 ? ` (round ${round})` : ""}, ${build.name.padEnd(16)} appendfsync ${fsync.padEnd(8)} ${workers} worker(s): ${row.accepted} deliveries → ${row.merchantDistinct} events at the merchant in ${row.seconds} s: ` +
          `${row.eventsPerSecond} events/s delivered, ${row.acceptedPerSecond}/s accepted, last delivery ${row.lastDeliveryAfterLastAckMs} ms after the last ack; ` +
          `CPU µs/event ${JSON.stringify(row.cpuUsPerEvent)}`,
      );
    }
  }
  return rows;
}

module.exports = { CURRENT, buildBaseline, endToEndPhase, runDelivered, startIngressAt, startWorkerAt };
