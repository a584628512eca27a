/**
 * Chaos: a worker process is SIGKILLed while its first merchant delivery attempt, made in line
 * by the notification's job, waits for the merchant (README guarantee 3). The event was written
 * to the ledger's outbox with the change and must stay there until the merchant has it or its
 * retry job exists. A second worker takes the dead one's job over (BullMQ's stalled-job check,
 * WORKER_LOCK_MS short) and finds the event still claimed by the dead attempt (for the attempt's
 * timeout and 5 s more), so it leaves it; the outbox sweep sends it once it is due
 * (OUTBOX_GRACE_MS after the change) and the claim has lapsed. The merchant gets the same
 * webhook-id again (at least once), the order is paid once, and the outbox ends empty.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { randomBytes } from "node:crypto";
import {
  CHAOS_PROVIDER_ENV,
  openPipelineStore,
  paymentNotification,
  processGroup,
  removeRedisServer,
  startIngress,
  startRedisServer,
  startWorker,
  waitFor,
  type PipelineStore,
  type RedisServer,
} from "@payhooks/testing";
import { OUTBOX_GRACE_MS, QUEUES } from "@payhooks/core";
import { Queue } from "bullmq";

const PREFIX = "mkill";
const LOCK_MS = 1_000;

let redis: RedisServer;
let store: PipelineStore;
const processes = processGroup();
/** webhook-ids of the requests the merchant received, and of those it answered 2xx */
const received: string[] = [];
const delivered: string[] = [];
/** while true, the merchant holds every request without answering */
let holding = true;
const held: ServerResponse[] = [];
const sockets = new Set<Socket>();
const merchant = createServer((req: IncomingMessage, res: ServerResponse) => {
  req.resume();
  req.on("end", () => {
    const id = String(req.headers["webhook-id"]);
    received.push(id);
    if (holding) return void held.push(res);
    delivered.push(id);
    res.statusCode = 204;
    res.end();
  });
});
merchant.on("connection", (s: Socket) => {
  sockets.add(s);
  s.on("close", () => sockets.delete(s));
});

beforeAll(async () => {
  redis = await startRedisServer();
  store = openPipelineStore(redis.url, PREFIX);
  await new Promise<void>((r) => merchant.listen(0, "127.0.0.1", r));
}, 20_000);

afterAll(async () => {
  await processes.stopAll();
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => merchant.close(() => r()));
  await store?.close();
  if (redis) await removeRedisServer(redis);
});

it("delivers the event of a worker killed mid-attempt: kept in the outbox, sent by the next worker, the order paid once", async () => {
  const env = {
    REDIS_URL: redis.url,
    QUEUE_PREFIX: PREFIX,
    ...CHAOS_PROVIDER_ENV,
    WORKER_LOCK_MS: String(LOCK_MS),
    MERCHANT_WEBHOOK_URL: `http://127.0.0.1:${(merchant.address() as AddressInfo).port}/hooks`,
    MERCHANT_WEBHOOK_SECRET: `whsec_${randomBytes(32).toString("base64")}`,
    // the dead attempt's claim lapses 6 s after it began, well before the sweep sends the event
    MERCHANT_WEBHOOK_TIMEOUT_MS: "1000",
  };
  const ingress = await processes.add(startIngress(env));
  const n = paymentNotification("mk", 1, "payram");
  await store.ledger.putOrder(n.orderId, n.order);
  expect(await n.send(ingress.url)).toBe(200);

  const doomed = await processes.add(startWorker(env));
  await waitFor(() => received.length >= 1 || undefined, "the first attempt at the merchant");
  const eventId = received[0]!;
  await doomed.stop("SIGKILL");
  // What the kill left: the change recorded, its event still in the outbox, no delivery job.
  const order = await store.ledger.getOrder(n.orderId);
  expect(order?.status).toBe("paid");
  expect(await store.redis.zscore(`${PREFIX}:ledger:outbox`, eventId)).not.toBeNull();
  const deliveries = new Queue(QUEUES.merchantWebhooks, { connection: store.redis, prefix: PREFIX });
  try {
    expect(await deliveries.getJob(eventId)).toBeUndefined();

    holding = false;
    for (const res of held.splice(0)) res.destroy();
    await processes.add(startWorker(env));
    await waitFor(() => delivered.includes(eventId) || undefined, "the event delivered by the next worker", OUTBOX_GRACE_MS + 15_000);
    await waitFor(async () => ((await store.redis.zcard(`${PREFIX}:ledger:outbox`)) === 0 ? true : undefined), "the outbox emptied");
    // One event, at least once, the same webhook-id every time; the order paid once.
    expect(new Set(received)).toEqual(new Set([eventId]));
    expect(received.length).toBeGreaterThanOrEqual(2);
    const after = await store.ledger.getOrder(n.orderId);
    expect(after?.paidAmount).toBe(n.order.amount);
    expect(after?.payments).toHaveLength(1);
  } finally {
    await deliveries.close();
  }
}, OUTBOX_GRACE_MS + 40_000);
