import type { Server } from "node:http";
import { Queue, QueueEvents } from "bullmq";
import { QUEUES, createJobIndex, createLedger, createLogger, createRedis, keyPrefix } from "@payhooks/core";
import { MODULES, SECRET_HEADERS, enabledProviders, loadConfigOrExit } from "@payhooks/providers";
import { createAdminApp } from "./admin";
import { createDashboard, type Dashboard, type QueueKey } from "./dashboard";
import { createApp } from "./app";
import { CONSOLE_PATH, createConsole } from "./console";
import { createIngressMetrics } from "./metrics";
import { createProviderRuntimes } from "./providers";
import { checkRedisDurability } from "./redis-durability";

/** How long SIGTERM waits for in-flight requests before closing the remaining sockets. */
const DRAIN_TIMEOUT_MS = 10_000;

/** How long start-up waits for Redis before serving anyway (then /readyz and webhooks answer 503). */
const REDIS_READY_WAIT_MS = 5_000;

function whenReady(redis: ReturnType<typeof createRedis>, timeoutMs: number): Promise<boolean> {
  if (redis.status === "ready") return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    redis.once("ready", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * Logs one warning per Redis setting that can lose an acknowledged webhook (redis-durability.ts).
 * Never throws: a failed check is itself one warning. Logs neither REDIS_URL nor its credentials.
 */
async function warnAboutDurability(redis: ReturnType<typeof createRedis>, logger: ReturnType<typeof createLogger>): Promise<void> {
  try {
    for (const { message, ...fields } of await checkRedisDurability(redis)) {
      logger.warn({ check: "redis-durability", ...fields }, message);
    }
  } catch (err) {
    logger.warn(
      { check: "redis-durability", setting: "unchecked", value: err instanceof Error ? err.message : String(err) },
      "could not check Redis durability settings; check appendonly yes, appendfsync always and maxmemory-policy noeviction yourself",
    );
  }
}

async function main(): Promise<void> {
  const config = loadConfigOrExit("ingress");
  const logger = createLogger({ level: config.LOG_LEVEL, name: "ingress", secretHeaders: SECRET_HEADERS });
  const redis = createRedis(config.REDIS_URL, "producer", "payhooks-ingress");
  /** QUEUE_PREFIX, hash-tagged against a Redis Cluster */
  const prefix = keyPrefix(config);
  redis.on("error", (err) => logger.warn({ err: { message: err.message } }, "redis connection error"));

  const enabled = enabledProviders(config);
  // One Queue per queue on the producer connection, shared by the routes, the dashboard and /metrics.
  const queues = Object.fromEntries(
    (Object.entries(QUEUES) as Array<[QueueKey, string]>).map(([key, name]) => {
      const queue = new Queue(name, { connection: redis, prefix });
      queue.on("error", (err) => logger.warn({ err: { message: err.message }, queue: name }, "queue error"));
      return [key, queue];
    }),
  ) as Record<QueueKey, Queue>;

  // Request–reply providers (Payme, Click) hear their answers through one QueueEvents each, on
  // one blocking connection of their own, opened only when such a provider is configured.
  const lanes = MODULES.filter((m) => m.ingress.requestReply && enabled[m.id]);
  const eventsRedis = lanes.length > 0 ? createRedis(config.REDIS_URL, "worker", "payhooks-ingress-events") : null;
  eventsRedis?.on("error", () => undefined); // reported through the producer connection's errors
  const events = new Map(
    lanes.map((m) => {
      const listener = new QueueEvents(QUEUES[m.id], { connection: eventsRedis!, prefix });
      listener.on("error", (err) => logger.warn({ err: { message: err.message }, provider: m.id }, "queue events error"));
      return [m.id, listener] as const;
    }),
  );
  const providers = createProviderRuntimes(config, { redis, prefix, logger, queues, events });

  // Metrics are served on the admin port only, so they are counted only when it is on.
  const metrics = config.ADMIN_TOKEN
    ? createIngressMetrics({ redis, prefix, queues: Object.values(queues), defaultMetrics: true })
    : null;
  const app = createApp({
    logger,
    redis,
    ...(metrics ? { metrics } : {}),
    bodyLimit: config.BODY_LIMIT,
    trustProxy: config.TRUST_PROXY,
    providers,
  });
  // The producer connection has no offline queue: a request served before it is ready would fail.
  // QueueEvents reads new events only: it must be listening before the first call is enqueued.
  const eventsReady = Promise.race([
    Promise.all([...events.values()].map((e) => e.waitUntilReady())).then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), REDIS_READY_WAIT_MS)),
  ]);
  const redisReady = await whenReady(redis, REDIS_READY_WAIT_MS);
  if (!redisReady || !(await eventsReady)) {
    logger.warn({ waitedMs: REDIS_READY_WAIT_MS }, "redis not reachable yet; serving anyway (webhooks answer 503 until it is)");
  }
  // Before "ingress listening" when Redis is up; otherwise once it first is.
  if (redisReady) await warnAboutDurability(redis, logger);
  else redis.once("ready", () => void warnAboutDurability(redis, logger));
  const servers: Server[] = [];
  const server = app.listen(config.PORT, () => {
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : config.PORT;
    logger.info({ url: `http://localhost:${port}`, providers: enabled }, "ingress listening");
  });
  servers.push(server);

  let dashboard: Dashboard | null = null;
  if (config.ADMIN_TOKEN) {
    const ledger = createLedger({ redis, prefix });
    // bull-board at /admin/queues over every queue.
    dashboard = createDashboard({
      queues,
      redisUrl: config.REDIS_URL,
      prefix,
      logger,
    });
    // The operator console at /console: reads the ledger, the job index and jobs by id.
    const consoleRouter = createConsole({
      ledger,
      queues,
      redis,
      prefix,
      jobIndex: createJobIndex({ redis, prefix }),
      logger,
      now: Date.now,
      adminToken: config.ADMIN_TOKEN,
    });
    const admin = createAdminApp({
      ledger,
      token: config.ADMIN_TOKEN,
      logger,
      dashboard,
      console: { basePath: CONSOLE_PATH, router: consoleRouter },
      ...(metrics ? { metrics } : {}),
    }).listen(config.ADMIN_PORT, config.ADMIN_HOST, () => {
      const address = admin.address();
      const port = typeof address === "object" && address ? address.port : config.ADMIN_PORT;
      logger.info({ url: `http://${config.ADMIN_HOST}:${port}` }, "admin listening");
    });
    servers.push(admin);
  } else {
    logger.info("admin API disabled: set ADMIN_TOKEN to enable it");
  }

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "draining in-flight requests");
    const force = setTimeout(() => servers.forEach((s) => s.closeAllConnections()), DRAIN_TIMEOUT_MS);
    force.unref();
    // Closing the queues waits for Redis; with Redis down it would wait forever.
    setTimeout(() => {
      logger.error({ waitedMs: DRAIN_TIMEOUT_MS + 5_000 }, "shutdown did not finish; exiting");
      process.exit(1);
    }, DRAIN_TIMEOUT_MS + 5_000).unref();
    // A keep-alive connection whose request finished during the drain goes idle; close it then
    // rather than waiting for its keep-alive timeout.
    const idle = setInterval(() => servers.forEach((s) => s.closeIdleConnections()), 50);
    idle.unref();
    void Promise.all(
      servers.map((s) => new Promise<void>((resolve) => { s.close(() => resolve()); s.closeIdleConnections(); })),
    )
      // The activity counts of the last answers (the overview's), still in memory.
      .then(() => metrics?.flush())
      .then(() => Promise.all([...Object.values(queues).map((q) => q.close()), ...[...events.values()].map((e) => e.close()), dashboard?.close()]))
      .then(() => Promise.all([redis, eventsRedis].map((r) => r?.quit().catch(() => undefined))))
      .then(() => {
        logger.info("ingress stopped");
        process.exit(0);
      });
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

void main();
