import { hostname } from "node:os";
import { Queue, Worker, type Job } from "bullmq";
import { LEDGER_COMPACTION_SCHEDULER, MAINTENANCE_QUEUE, QUEUES, createJobIndex, createLedger, createLogger, createRedis, keyPrefix } from "@payhooks/core";
import { MODULES, SECRET_HEADERS, loadConfigOrExit } from "@payhooks/providers";
import { createMerchantDeliveryProcessor } from "./delivery";
import { createEmitter } from "./emitter";
import { createMerchantLane } from "./merchant";
import { createWorkerMetrics } from "./metrics";
import { createProviderProcessor } from "./processor";

/**
 * How often every worker sends the outbox entries that are due: events an order PUT wrote (the
 * merchant learns within about this long that a new order's payments arrived before it), and
 * events a dead worker left behind (due OUTBOX_GRACE_MS after their write).
 */
const OUTBOX_SWEEP_EVERY_MS = 1_000;
/** SIGTERM gives active jobs this long (a merchant delivery may take MERCHANT_WEBHOOK_TIMEOUT_MS). */
const SHUTDOWN_TIMEOUT_MS = 30_000;
const DAY_MS = 86_400_000;

function main(): void {
  const config = loadConfigOrExit("worker");
  const logger = createLogger({ level: config.LOG_LEVEL, name: "worker", secretHeaders: SECRET_HEADERS });
  const connection = createRedis(config.REDIS_URL, "worker", "payhooks-worker");
  connection.on("error", (err) => logger.warn({ err: { message: err.message } }, "redis connection error"));
  /** QUEUE_PREFIX, hash-tagged against a Redis Cluster */
  const prefix = keyPrefix(config);
  /** recorded on each job it processes (BullMQ's processedBy), so an operator sees which process ran it */
  const workerName = `payhooks-worker-${hostname()}-${process.pid}`;
  /**
   * The ledger's, the job index's and the metrics' own connection. BullMQ loads its ~40 scripts
   * onto the connection it is given, and ioredis copies every loaded script into each pipeline
   * or MULTI made on that connection: on BullMQ's, a MULTI cost about 60 µs of CPU before a
   * command was sent (bench/, the worker's profile). Here they cost what their commands do.
   */
  const ledgerConnection = createRedis(config.REDIS_URL, "worker", "payhooks-worker-ledger");
  ledgerConnection.on("error", (err) => logger.warn({ err: { message: err.message } }, "redis connection error"));
  const ledger = createLedger({ redis: ledgerConnection, prefix });
  /** job durations, failures and merchant deliveries, summed in Redis for the ingress's /metrics */
  const metrics = createWorkerMetrics({ redis: ledgerConnection, prefix, logger });

  // Produced only on request: payhooks never consumes it, so without a consumer it would only grow.
  const paymentEvents = config.PAYMENT_EVENTS_QUEUE ? new Queue(QUEUES.paymentEvents, { connection, prefix }) : null;
  // Merchant delivery is on when both are set (the config schema requires the secret with the URL).
  const merchant =
    config.MERCHANT_WEBHOOK_URL && config.MERCHANT_WEBHOOK_SECRET
      ? { url: config.MERCHANT_WEBHOOK_URL, secret: config.MERCHANT_WEBHOOK_SECRET }
      : null;
  const merchantWebhooks = merchant ? new Queue(QUEUES.merchantWebhooks, { connection, prefix }) : null;
  const queues = [...(paymentEvents ? [paymentEvents] : []), ...(merchantWebhooks ? [merchantWebhooks] : [])];
  /** written in batches every quarter second, off the jobs' path */
  const jobIndex = createJobIndex({ redis: ledgerConnection, prefix, flushMs: 250, logger });
  /** the merchant's keep-alive pool; one attempt per call, in line (first attempts) or by a job (retries) */
  const delivery = merchant
    ? createMerchantDeliveryProcessor({
        ...merchant,
        timeoutMs: config.MERCHANT_WEBHOOK_TIMEOUT_MS,
        maxResponseBytes: config.MERCHANT_WEBHOOK_MAX_RESPONSE_BYTES,
        // A connection for every attempt that can be under way at once (an attempt waiting for
        // a connection spends its own deadline): each notification queue's jobs make first
        // attempts in line, the merchant-webhooks queue's the retries. Opened only as needed.
        connections: config.WORKER_CONCURRENCY * (MODULES.filter((m) => m.worker.kind === "notification").length + 1),
      })
    : null;
  const merchantLane =
    delivery && merchantWebhooks
      ? createMerchantLane({
          delivery,
          queue: merchantWebhooks,
          claim: ledger.claimEvent,
          timeoutMs: config.MERCHANT_WEBHOOK_TIMEOUT_MS,
          firstAttempt: config.MERCHANT_FIRST_ATTEMPT,
          jobIndex,
          metrics,
        })
      : null;
  const emitter = createEmitter({ ledger, paymentEvents, merchant: merchantLane, logger, jobIndex });

  // Every provider queue is worked whether or not the ingress has that provider's secrets:
  // jobs already queued must never be stranded by a configuration change.
  const clock = () => Date.now() + config.CLOCK_OFFSET_MS;
  /** A job whose worker died (its lock not renewed) runs again within about 2 × WORKER_LOCK_MS. */
  const locking = { lockDuration: config.WORKER_LOCK_MS, stalledInterval: config.WORKER_LOCK_MS };
  const workers: Worker[] = MODULES.map(
    (module) =>
      new Worker(QUEUES[module.id], metrics.instrument(QUEUES[module.id], createProviderProcessor(module, { ledger, emitter, config, clock })), {
        name: workerName,
        connection,
        prefix,
        concurrency: config.WORKER_CONCURRENCY,
        ...locking,
      }),
  );
  /** closes the merchant delivery's connection pool at shutdown, once the workers have closed */
  let closeDelivery = async (): Promise<void> => undefined;
  if (delivery && merchantLane) {
    closeDelivery = () => delivery.close();
    workers.push(
      new Worker(QUEUES.merchantWebhooks, metrics.instrumentDelivery(QUEUES.merchantWebhooks, merchantLane.processor(delivery)), {
        name: workerName,
        connection,
        prefix,
        concurrency: config.WORKER_CONCURRENCY,
        ...locking,
      }),
    );
  } else {
    logger.info("merchant webhook delivery disabled: set MERCHANT_WEBHOOK_URL and MERCHANT_WEBHOOK_SECRET to enable it");
    if (!paymentEvents) {
      // Nothing would receive a PaymentEvent: each is recorded with its change, then dropped.
      logger.warn(
        { check: "payment-events" },
        "PaymentEvents have no destination and are dropped: set MERCHANT_WEBHOOK_URL (and MERCHANT_WEBHOOK_SECRET), or PAYMENT_EVENTS_QUEUE=true for your own consumers of the payment-events queue",
      );
    }
  }
  // Retention: once a day one worker compacts what settled more than LEDGER_RETENTION_DAYS ago.
  // upsertJobScheduler is idempotent, so every worker declares the same scheduler.
  const maintenance = new Queue(MAINTENANCE_QUEUE, { connection, prefix });
  queues.push(maintenance);
  maintenance
    .upsertJobScheduler(
      LEDGER_COMPACTION_SCHEDULER,
      { every: DAY_MS },
      { name: "compact", opts: { removeOnComplete: { count: 30 }, removeOnFail: { count: 30 } } },
    )
    .catch((err: Error) => logger.warn({ err: { message: err.message } }, "ledger compaction not scheduled"));
  const maintenanceWorker = new Worker(
    MAINTENANCE_QUEUE,
    async () => {
      const result = await ledger.compact(config.LEDGER_RETENTION_DAYS * DAY_MS);
      logger.info({ ...result, retentionDays: config.LEDGER_RETENTION_DAYS }, "ledger compacted");
      return result;
    },
    { name: workerName, connection, prefix, concurrency: 1, ...locking },
  );
  maintenanceWorker.on("error", (err) => logger.warn({ err: { message: err.message }, queue: MAINTENANCE_QUEUE }, "worker error"));
  maintenanceWorker.on("failed", (job, err) => logger.warn({ queue: MAINTENANCE_QUEUE, jobId: job?.id, err: { message: err.message } }, "ledger compaction failed"));
  for (const worker of workers) {
    worker.on("error", (err) => logger.warn({ err: { message: err.message }, queue: worker.name }, "worker error"));
    // A provider job is findable by the order it turned out to concern (event jobs are indexed when added).
    worker.on("completed", (job, result: unknown) => {
      const orderId = (result as { orderId?: unknown } | null)?.orderId;
      if (typeof orderId === "string" && job.id) {
        jobIndex.add(orderId, worker.name, job.id, job.timestamp);
      }
    });
    worker.on("failed", (job, err) =>
      logger.warn({ queue: worker.name, jobId: job?.id, attempts: job?.attemptsMade, err: { message: err.message } }, "job failed"),
    );
  }
  for (const queue of queues) queue.on("error", (err) => logger.warn({ err: { message: err.message } }, "queue error"));

  /** the sweep under way, awaited at shutdown */
  let sweeping: Promise<unknown> = Promise.resolve();
  const sweeper = setInterval(() => {
    sweeping = emitter.sweep().catch((err: Error) => logger.warn({ err: { message: err.message } }, "outbox sweep failed"));
  }, OUTBOX_SWEEP_EVERY_MS);

  void Promise.all(workers.map((w) => w.waitUntilReady())).then(
    () => logger.info({ queues: workers.map((w) => w.name), concurrency: config.WORKER_CONCURRENCY }, "worker ready"),
    (err: Error) => logger.error({ err: { message: err.message } }, "worker could not start"),
  );
  // A ledger written before the order model: payments recorded before their order wait for it,
  // and every record can be reached by the retention compaction.
  ledger.upgradeLedger().then(
    (done) => (done.waiting > 0 || done.activity > 0) && logger.info(done, "ledger written by an earlier version upgraded"),
    (err: Error) => logger.warn({ err: { message: err.message } }, "ledger upgrade not finished; the next worker start tries again"),
  );

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    clearInterval(sweeper);
    logger.info({ signal }, "finishing active jobs");
    // Closing waits for Redis; with Redis down it would wait forever. Jobs not finished by then
    // are picked up again by another worker once their lock expires.
    setTimeout(() => {
      logger.error({ waitedMs: SHUTDOWN_TIMEOUT_MS }, "shutdown did not finish; exiting");
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS).unref();
    // Worker.close() waits for the jobs in progress, then stops taking new ones.
    void Promise.all([...workers, maintenanceWorker].map((w) => w.close()))
      .then(() => metrics.flush()) // the job figures summed since the last write
      .then(() => sweeping) // a sweep under way adds its events' index entries too
      .then(() => jobIndex.flush())
      .then((written) => written || logger.warn("job index entries not written at shutdown"))
      .then(() => closeDelivery().catch(() => undefined))
      .then(() => Promise.all(queues.map((q) => q.close())))
      .then(() => Promise.all([connection, ledgerConnection].map((c) => c.quit().catch(() => undefined))))
      .then(() => {
        logger.info("worker stopped");
        process.exit(0);
      });
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

main();
