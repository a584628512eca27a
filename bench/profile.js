// node bench/profile.js [payram|payske|robokassa|payme]   (BENCH_RATE=300 for a fixed rate) — a CPU profile of the ingress under load.
// Starts a private Redis and one ingress with --cpu-prof (no worker: the ingress alone), drives
// one route with autocannon, stops the ingress and prints the functions with the most self time.
// Open the .cpuprofile it names in Chrome DevTools or speedscope for the flame graph.
const { readdirSync, readFileSync, mkdtempSync } = require("node:fs");
const { tmpdir } = require("node:os");
const { join } = require("node:path");
const autocannon = require("autocannon");
const { spawn } = require("node:child_process");
const { freePort, removeRedisServer, startRedisServer, startWorker, waitFor, INGRESS_MAIN } = require("../packages/testing/dist");
const { cpuSeconds } = require("./proc");
const { routes, BENCH_ENV } = require("./routes");

const DURATION_S = Number(process.env.BENCH_DURATION_S || 6);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS || 50);

function selfTimes(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const dt = profile.timeDeltas;
  let total = 0;
  profile.samples.forEach((id, i) => {
    const f = byId.get(id).callFrame;
    const where = f.url ? `${f.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*\/(apps|packages)\//, "$1/")}:${f.lineNumber + 1}` : "";
    const key = `${f.functionName || "(anonymous)"} ${where}`;
    self.set(key, (self.get(key) || 0) + (dt[i] || 0));
    total += dt[i] || 0;
  });
  return { total, rows: [...self].sort((a, b) => b[1] - a[1]) };
}

async function main() {
  const name = process.argv[2] || "payram";
  const redis = await startRedisServer();
  const dir = mkdtempSync(join(tmpdir(), "payhooks-prof-"));
  const [port, adminPort] = [await freePort(), await freePort()];
  const env = { ...BENCH_ENV, PATH: process.env.PATH, REDIS_URL: redis.url, LOG_LEVEL: process.env.LOG_LEVEL || "info", PORT: String(port), ADMIN_PORT: String(adminPort) };
  // --cpu-prof is not allowed in NODE_OPTIONS: it goes on the command line.
  const profiling = process.env.PROFILE !== "0";
  const child = spawn(process.execPath, [...(profiling ? ["--cpu-prof", `--cpu-prof-dir=${dir}`] : []), INGRESS_MAIN], { env, stdio: ["ignore", "ignore", "inherit"] });
  const ingress = { url: `http://127.0.0.1:${port}`, adminUrl: `http://127.0.0.1:${adminPort}` };
  process.on("exit", () => child.kill("SIGKILL"));
  await waitFor(() => fetch(`${ingress.url}/readyz`).then((r) => r.ok), "the ingress to be ready", 30_000);
  await waitFor(() => fetch(ingress.adminUrl).then(() => true), "the admin port", 10_000);
  // Payme is request–reply: it needs a worker to answer.
  const worker = name === "payme" ? await startWorker({ ...BENCH_ENV, REDIS_URL: redis.url }) : null;
  const route = routes(ingress)[name];
  if (route.setup) await route.setup();
  const cpuBefore = cpuSeconds(child.pid);
  const r = await new Promise((ok, fail) => autocannon({ duration: DURATION_S, connections: CONNECTIONS, ...(process.env.BENCH_RATE ? { overallRate: Number(process.env.BENCH_RATE) } : {}), ...route.request }, (e, x) => (e ? fail(e) : ok(x))));
  const cpuUs = ((cpuSeconds(child.pid) - cpuBefore) * 1e6) / r.requests.total;
  console.log(`${name}: ${Math.round(r.requests.average)} req/s, p99 ${r.latency.p99} ms, non-2xx ${r.non2xx}, ingress CPU ${cpuUs.toFixed(0)} µs/request`);
  if (!profiling) {
    child.kill("SIGTERM");
    await worker?.stop();
    return void (await removeRedisServer(redis));
  }
  await new Promise((done) => { child.once("exit", done); child.kill("SIGTERM"); });
  await worker?.stop();
  const file = join(dir, readdirSync(dir).find((f) => f.endsWith(".cpuprofile")));
  const { total, rows } = selfTimes(JSON.parse(readFileSync(file, "utf8")));
  console.log(`profile: ${file}\nself time, top 30 of ${(total / 1e6).toFixed(1)} s:`);
  for (const [k, us] of rows.slice(0, 30)) console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`);
  await removeRedisServer(redis);
}

main().catch((err) => { console.error(err); process.exit(1); });
