/**
 * The dashboard as the admin app serves it, against a private redis-server: every URL under
 * /admin/queues (page, static files, API) needs the admin bearer token; with it, every queue
 * of QUEUES is listed and job data and return values come out of bull-board's own API masked;
 * the routes that would write masked data back or drop accepted webhooks are refused.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Queue, Worker } from "bullmq";
import { QUEUES, createLedger, createLogger, createRedis, type Envelope, type RedisConnection } from "@payhooks/core";
import { removeRedisServer, startRedisServer, waitFor, type RedisServer } from "@payhooks/testing";
import { createAdminApp } from "./admin";
import { DASHBOARD_PATH, createDashboard, type Dashboard } from "./dashboard";

const TOKEN = "dashboard-test-admin-token-0123";
const PREFIX = "dashboard-test";
// Fixed clock: ms since epoch, 2023-11-14T22:13:20Z.
const NOW_MS = 1_700_000_000_000;

let redisServer: RedisServer;
let producer: RedisConnection;
let workerConnection: RedisConnection;
let providerQueues: { payme: Queue; payram: Queue; payske: Queue; robokassa: Queue };
let dashboard: Dashboard;
let server: Server;
let base: string;

beforeAll(async () => {
  redisServer = await startRedisServer();
  producer = createRedis(redisServer.url, "producer", "dashboard-test");
  producer.on("error", () => undefined);
  workerConnection = createRedis(redisServer.url, "worker", "dashboard-test-worker");
  workerConnection.on("error", () => undefined);
  await waitFor(() => producer.status === "ready", "redis ready");
  // As main.ts does: the provider queues on the producer connection; the dashboard opens the rest.
  providerQueues = {
    payme: new Queue(QUEUES.payme, { connection: producer, prefix: PREFIX }),
    payram: new Queue(QUEUES.payram, { connection: producer, prefix: PREFIX }),
    payske: new Queue(QUEUES.payske, { connection: producer, prefix: PREFIX }),
    robokassa: new Queue(QUEUES.robokassa, { connection: producer, prefix: PREFIX }),
  };
  const logger = createLogger({ level: "silent", name: "test" });
  dashboard = createDashboard({ queues: providerQueues, redisUrl: redisServer.url, prefix: PREFIX, logger });
  const admin = createAdminApp({ ledger: createLedger({ redis: producer, prefix: PREFIX }), token: TOKEN, logger, dashboard });
  server = await new Promise<Server>((resolve) => {
    const s = admin.listen(0, "127.0.0.1", () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await dashboard?.close();
  await Promise.all(Object.values(providerQueues ?? {}).map((q) => q.close()));
  producer?.disconnect();
  workerConnection?.disconnect();
  if (redisServer) await removeRedisServer(redisServer);
});

const call = (method: string, path: string, headers: Record<string, string> = {}, body?: unknown) =>
  fetch(`${base}${DASHBOARD_PATH}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
const auth = { authorization: `Bearer ${TOKEN}` };

function envelope(provider: Envelope["provider"], rawBody: string, payload: unknown): Envelope {
  return { provider, deliveryId: `${provider}-d1`, receivedAt: NOW_MS, rawBody, payload, headers: { "content-type": "application/json" } };
}

const payske = {
  id: "evt_1QdashA",
  object: "event",
  type: "charge.refunded",
  created: 1_700_000_000,
  livemode: true,
  data: {
    object: {
      id: "ch_3QdashB",
      object: "charge",
      amount: 4999,
      amount_refunded: 4999,
      currency: "usd",
      payment_intent: "pi_3QdashC",
      receipt_email: "jane.doe@example.org",
      billing_details: { email: "jane.doe@example.org", name: "Jane Doe", phone: "+15555550123" },
      payment_method_details: { type: "card", card: { brand: "visa", last4: "4242", fingerprint: "Xt5EWLLDS7FJjR1c" } },
      metadata: { order_id: "order-3003" },
    },
  },
};
const robokassa = {
  OutSum: "1500.000000",
  InvId: "5001",
  EMail: "pokupatel@example.ru",
  SignatureValue: "8C6A1B3F0D2E4A5B6C7D8E9F0A1B2C3D",
  Shp_lang: "ru",
};
const payram = { reference_id: "3f6c1a52-9b7e-4d1a-8c2e-5a0f7e9d2b41", customer_email: "buyer@example.com", status: "FILLED", amount: "25.00", currency: "USDT" };
const payme = { id: 2, method: "CreateTransaction", params: { id: "5305e3bab097f420a62ced0b", time: NOW_MS, amount: 500000, account: { order_id: "order-2002" } } };
/** every value that must never reach an operator's screen */
const SECRETS = [
  "jane.doe@example.org",
  "Jane Doe",
  "+15555550123",
  "Xt5EWLLDS7FJjR1c",
  "pokupatel",
  "8C6A1B3F0D2E4A5B6C7D8E9F0A1B2C3D",
  "buyer@example.com",
  "order-2002",
];

describe("without the admin token", () => {
  const routes: Array<[string, string]> = [
    ["GET", ""],
    ["GET", "/"],
    ["GET", "/queue/payram"],
    ["GET", "/queue/merchant-webhooks/evt_0123456789abcdef0123456789abcdef"],
    ["GET", "/static/favicon-32x32.png"],
    ["GET", "/api/queues"],
    ["GET", "/api/redis/stats"],
    ["GET", "/api/queues/payske/payske-evt_1QdashA"],
    ["GET", "/api/queues/payske/payske-evt_1QdashA/logs"],
    ["PUT", "/api/queues/payske/payske-evt_1QdashA/retry"],
    ["PUT", "/api/queues/payske/retry/failed"],
    ["PUT", "/api/queues/payske/clean/failed"],
    ["PUT", "/api/queues/payske/pause"],
    ["PUT", "/api/queues/pause"],
    ["POST", "/api/queues/payske/add"],
  ];

  it.each(routes)("%s /admin/queues%s answers 401 with no token, a wrong one or another scheme", async (method, path) => {
    const attempts: Array<Record<string, string>> = [{}, { authorization: "Bearer dashboard-test-admin-token-0124" }, { authorization: `Basic ${TOKEN}` }, { authorization: TOKEN }];
    for (const headers of attempts) {
      const res = await call(method, path, headers);
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="payhooks-admin"');
      expect(await res.json()).toEqual({ error: "unauthorized" });
    }
  });

  it("changed nothing: no queue was paused", async () => {
    expect(await providerQueues.payske.isPaused()).toBe(false);
    expect(await providerQueues.payram.isPaused()).toBe(false);
  });
});

describe("with the admin token", () => {
  it("serves the page and its static files", async () => {
    const page = await call("GET", "", auth);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain(`<base href="${DASHBOARD_PATH}/" />`);
    const favicon = await call("GET", "/static/favicon-32x32.png", auth);
    expect(favicon.status).toBe(200);
  });

  it("lists every queue of QUEUES", async () => {
    const res = await call("GET", "/api/queues", auth);
    expect(res.status).toBe(200);
    const { queues } = (await res.json()) as { queues: Array<{ name: string }> };
    expect(queues.map((q) => q.name).sort()).toEqual(Object.values(QUEUES).sort());
  });

  it("masks job data in the job view and in the queue listing, for every provider's envelope", async () => {
    const added = await Promise.all([
      providerQueues.payske.add(payske.type, envelope("payske", JSON.stringify(payske), payske), { jobId: "payske-evt_1QdashA" }),
      providerQueues.robokassa.add("robokassa.result", envelope("robokassa", new URLSearchParams(robokassa).toString(), robokassa), {
        jobId: "robokassa-live-5001",
      }),
      providerQueues.payram.add("payram.notification", envelope("payram", JSON.stringify(payram), payram), { jobId: "payram-dash-1" }),
      providerQueues.payme.add("CreateTransaction", envelope("payme", JSON.stringify(payme), payme), { jobId: "payme-dash-1" }),
    ]);
    for (const job of added) {
      const res = await call("GET", `/api/queues/${job.queueName}/${job.id}`, auth);
      expect(res.status).toBe(200);
      const text = await res.text();
      for (const secret of SECRETS) expect(text).not.toContain(secret);
      const shown = (JSON.parse(text) as { job: { data: Envelope } }).job.data;
      expect(shown.rawBody).toMatch(/^\[redacted: \d+ bytes\]$/);
      expect(shown.provider).toBe(job.data.provider);
      // The job in Redis is untouched: a retry processes what the provider sent.
      expect((await providerQueues[job.data.provider as Envelope["provider"]].getJob(job.id!))?.data).toEqual(job.data);
    }
    const payskeShown = ((await (await call("GET", "/api/queues/payske/payske-evt_1QdashA", auth)).json()) as { job: { data: Envelope } }).job
      .data.payload as typeof payske;
    expect(payskeShown.data.object).toMatchObject({ amount: 4999, amount_refunded: 4999, billing_details: "[redacted]", receipt_email: "[redacted]" });
    expect(payskeShown.data.object.payment_method_details).toEqual({ type: "card", card: "[redacted]" });

    const listing = await call("GET", "/api/queues?activeQueue=robokassa&status=waiting&page=1&jobsPerPage=10", auth);
    expect(listing.status).toBe(200);
    const body = (await listing.json()) as { queues: Array<{ name: string; jobs: Array<{ data: Envelope }> }> };
    const jobs = body.queues.find((q) => q.name === "robokassa")!.jobs;
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.data.payload).toEqual({ ...robokassa, EMail: "[redacted]", SignatureValue: "[redacted]" });
    expect(JSON.stringify(body)).not.toContain("pokupatel");
  });

  it("masks return values: a completed Payme GetStatement shows no account", async () => {
    const statement = { id: 7, method: "GetStatement", params: { from: NOW_MS - 1, to: NOW_MS + 1 } };
    const job = await providerQueues.payme.add("GetStatement", envelope("payme", JSON.stringify(statement), statement), { jobId: "payme-dash-2" });
    // A real BullMQ worker completes it with the shape the Payme processor returns.
    const worker = new Worker(
      QUEUES.payme,
      async (j) =>
        j.id === "payme-dash-2"
          ? { reply: { result: { transactions: [{ id: "5305e3bab097f420a62ced0b", amount: 500000, account: { order_id: "order-2002" }, state: 2 }] } }, outcome: "read", events: [] }
          : Promise.reject(new Error("not this test's job")),
      { connection: workerConnection, prefix: PREFIX },
    );
    try {
      await waitFor(async () => (await providerQueues.payme.getJobState(job.id!)) === "completed", "GetStatement job completed");
    } finally {
      await worker.close();
    }
    const res = await call("GET", `/api/queues/payme/${job.id}`, auth);
    const text = await res.text();
    expect(text).not.toContain("order-2002");
    expect((JSON.parse(text) as { job: { returnValue: unknown } }).job.returnValue).toEqual({
      reply: { result: { transactions: [{ id: "5305e3bab097f420a62ced0b", amount: 500000, account: "[redacted]", state: 2 }] } },
      outcome: "read",
      events: [],
    });
  });

  it("refuses adding jobs, editing job data, emptying and obliterating, and changes nothing", async () => {
    const job = await providerQueues.payram.add("payram.notification", envelope("payram", JSON.stringify(payram), payram), { jobId: "payram-dash-2" });
    const countsBefore = await providerQueues.payram.getJobCounts();
    const refused: Array<[string, string, unknown]> = [
      ["POST", "/api/queues/payram/add", { name: "payram.notification", data: { provider: "payram" }, options: {} }],
      ["PATCH", `/api/queues/payram/${job.id}/update-data`, { data: { provider: "payram", rawBody: "[redacted]" } }],
      ["PUT", "/api/queues/payram/empty", undefined],
      ["PUT", "/api/queues/payram/obliterate", { force: true }],
    ];
    for (const [method, path, body] of refused) {
      const res = await call(method, path, auth, body);
      expect([method, path, res.status]).toEqual([method, path, 403]);
    }
    expect(await providerQueues.payram.getJobCounts()).toEqual(countsBefore);
    expect((await providerQueues.payram.getJob(job.id!))?.data).toEqual(job.data);
  });
});
