/**
 * `npm start`: the whole pipeline on one machine. Uses REDIS_URL when set; otherwise starts a
 * private redis-server (AOF on with appendfsync always, data in .data/redis or PAYHOOKS_DATA_DIR) on a free port. Then one ingress and one
 * worker process. Ctrl-C stops them, then Redis, cleanly.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { findRedisServer, freePort, startRedisServer, type RedisServer } from "@payhooks/core";
import { maskUrlCredentials } from "./mask-url";

const ROOT = resolve(__dirname, "../../..");
const INGRESS_MAIN = join(ROOT, "apps/ingress/dist/main.js");
const WORKER_MAIN = join(ROOT, "apps/worker/dist/main.js");

async function main(): Promise<void> {
  let redis: RedisServer | null = null;
  let redisUrl = process.env["REDIS_URL"];
  // REDIS_CLUSTER_NODES names a Redis Cluster: the services read it themselves.
  if (!redisUrl && !process.env["REDIS_CLUSTER_NODES"]) {
    if (!findRedisServer()) {
      console.error(
        "payhooks: no redis-server found and REDIS_URL is not set: install Redis (apt-get install redis-server) or set REDIS_URL=redis://host:6379",
      );
      process.exit(1);
    }
    const dataDir = process.env["PAYHOOKS_DATA_DIR"] || join(ROOT, ".data", "redis");
    mkdirSync(dataDir, { recursive: true });
    redis = await startRedisServer({ port: await freePort(), dataDir });
    redisUrl = redis.url;
    console.log(`payhooks: started redis-server at ${redisUrl} (AOF with appendfsync always, in ${dataDir})`);
  }

  const env = { ...process.env, ...(redisUrl ? { REDIS_URL: redisUrl } : {}) };
  const children: ChildProcess[] = [
    spawn(process.execPath, [INGRESS_MAIN], { env, stdio: "inherit" }),
    spawn(process.execPath, [WORKER_MAIN], { env, stdio: "inherit" }),
  ];
  const port = process.env["PORT"] || "3000";
  console.log(`payhooks: ingress http://localhost:${port}  (webhooks under /webhooks/*, health /healthz, /readyz)`);
  if (redisUrl) {
    // Never a credential on the terminal (or in a CI log): the password shows as ***.
    const shown = maskUrlCredentials(redisUrl);
    console.log(`payhooks: for the CLI in another shell: export REDIS_URL=${shown}${shown !== redisUrl ? "  (*** is your REDIS_URL's password)" : ""}`);
  }
  if (process.env["ADMIN_TOKEN"]) {
    const admin = `http://${process.env["ADMIN_HOST"] || "127.0.0.1"}:${process.env["ADMIN_PORT"] || "3001"}`;
    console.log(`payhooks: admin   ${admin}  (orders /v1/orders/:orderId, dashboard /admin/queues, metrics /metrics; ADMIN_TOKEN as Bearer, or as the Basic password in a browser)`);
  }

  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            child.once("exit", () => done());
            child.kill("SIGTERM");
          }),
      ),
    );
    if (redis) await redis.stop();
    console.log("payhooks: stopped");
    process.exit(code);
  };
  for (const child of children) {
    child.once("exit", (exitCode, signal) => {
      if (stopping) return;
      console.error(`payhooks: a process exited unexpectedly (${signal ?? exitCode}); stopping everything`);
      void stop(1);
    });
  }
  process.on("SIGINT", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));
}

main().catch((err: unknown) => {
  console.error(`payhooks: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
