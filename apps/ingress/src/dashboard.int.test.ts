/**
 * The dashboard as the admin app serves it, against a private redis-server: every URL under
 * /admin/queues (page, static files, API) needs the admin token, as a Bearer token or as the
 * password of HTTP Basic (a browser's sign-in; a browser without it gets the Basic challenge,
 * an API client the Bearer one); with it, every queue
 * of QUEUES is listed and job data and return values come out of bull-board's own API masked;
 * only reading, retrying and promoting are allowed: every other route of bull-board's table is
 * refused and leaves Redis as it was.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Queue, Worker } from "bullmq";
import { QUEUES, createLedger, createLogger, createRedis, type Envelope, type RedisConnection } from "@payhooks/core";
import { removeRedisServer, startRedisServer, waitFor, type RedisServer } from "@payhooks/testing";
import { createAdminApp } from "./admin";
import { appRoutes } from "@bull-board/api/dist/routes.js";
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
const basic = (username: string, password: string) => `Basic ${Buffer.from(`${username}:${password}`, "utf8").toString("base64")}`;
const BEARER_CHALLENGE = 'Bearer realm="payhooks-admin"';
const BASIC_CHALLENGE = 'Basic realm="payhooks-admin", charset="UTF-8"';
/** What chromium sends when it navigates to a page. */
const BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

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
    const attempts: Array<[Record<string, string>, string]> = [
      [{}, BEARER_CHALLENGE],
      [{ authorization: "Bearer dashboard-test-admin-token-0124" }, BEARER_CHALLENGE],
      [{ authorization: `Bearer ${TOKEN}x` }, BEARER_CHALLENGE],
      [{ authorization: TOKEN }, BEARER_CHALLENGE],
      [{ authorization: `Token ${TOKEN}` }, BEARER_CHALLENGE],
      // Basic, but the token as it is rather than base64("user:token"), the token as the username,
      // no password, a wrong one: each answered with the Basic challenge, so a browser asks again.
      [{ authorization: `Basic ${TOKEN}` }, BASIC_CHALLENGE],
      [{ authorization: basic(TOKEN, "") }, BASIC_CHALLENGE],
      [{ authorization: `Basic ${Buffer.from(TOKEN).toString("base64")}` }, BASIC_CHALLENGE],
      [{ authorization: basic("admin", "dashboard-test-admin-token-0124") }, BASIC_CHALLENGE],
      [{ authorization: basic("admin", `${TOKEN} `) }, BASIC_CHALLENGE],
    ];
    for (const [headers, challenge] of attempts) {
      const res = await call(method, path, headers);
      expect([headers, res.status, res.headers.get("www-authenticate")]).toEqual([headers, 401, challenge]);
      expect(await res.json()).toEqual({ error: "unauthorized" });
    }
  });

  it("changed nothing: no queue was paused", async () => {
    expect(await providerQueues.payske.isPaused()).toBe(false);
    expect(await providerQueues.payram.isPaused()).toBe(false);
  });
});

describe("signing in", () => {
  it("a browser without credentials is asked for Basic ones; an API client gets the Bearer challenge", async () => {
    for (const [accept, challenge] of [
      [BROWSER_ACCEPT, BASIC_CHALLENGE],
      ["text/html", BASIC_CHALLENGE],
      [undefined, BEARER_CHALLENGE],
      ["*/*", BEARER_CHALLENGE],
      ["application/json", BEARER_CHALLENGE],
      ["application/json, text/plain, */*", BEARER_CHALLENGE],
    ] as const) {
      for (const path of ["", "/queue/payram", "/api/queues"]) {
        const res = await call("GET", path, accept === undefined ? {} : { accept });
        expect([accept, path, res.status, res.headers.get("www-authenticate")]).toEqual([accept, path, 401, challenge]);
      }
    }
    const orders = await fetch(`${base}/v1/orders/order-1`, { headers: { accept: BROWSER_ACCEPT } });
    expect([orders.status, orders.headers.get("www-authenticate")]).toEqual([401, BASIC_CHALLENGE]);
  });

  it("HTTP Basic with the admin token as the password, any username, opens the page and the API", async () => {
    for (const username of ["admin", "operator@example.org", ""]) {
      const page = await call("GET", "", { authorization: basic(username, TOKEN), accept: BROWSER_ACCEPT });
      expect([username, page.status]).toEqual([username, 200]);
      expect(await page.text()).toContain(`<base href="${DASHBOARD_PATH}/" />`);
      const api = await call("GET", "/api/queues", { authorization: basic(username, TOKEN) });
      expect([username, api.status]).toEqual([username, 200]);
    }
    // The scheme name is case-insensitive; the password is everything after the first colon.
    expect((await call("GET", "/api/queues", { authorization: basic("admin", TOKEN).replace("Basic", "basic") })).status).toBe(200);
    expect((await call("GET", "/api/queues", { authorization: basic("admin", `${TOKEN}:`) })).status).toBe(401);
    // The rest of the admin port too: an order lookup answers (404: there is no such order).
    const order = await fetch(`${base}/v1/orders/order-404`, { headers: { authorization: basic("admin", TOKEN) } });
    expect(order.status).toBe(404);
  });

  it("Bearer still works, and the Basic sign-in obeys the same allow-list of actions", async () => {
    expect((await call("GET", "/api/queues", auth)).status).toBe(200);
    expect((await call("GET", "/api/queues", { authorization: `bearer ${TOKEN}` })).status).toBe(200);
    const res = await call("PUT", "/api/queues/payske/clean/failed", { authorization: basic("admin", TOKEN) });
    expect([res.status, await res.json()]).toEqual([403, { error: "action_not_allowed" }]);
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
      expect((await providerQueues[job.data.provider as keyof typeof providerQueues].getJob(job.id!))?.data).toEqual(job.data);
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
});

/**
 * Only reading, retrying and promoting are allowed. Every route of bull-board's own API table that
 * is not a GET, other than the four allowed ones, is tried with a valid body against jobs in every
 * state, and must answer 403 and leave Redis as it was — so a route a bull-board upgrade adds is
 * covered by this test, and refused by the dashboard, without either being edited.
 */
describe("the dashboard's actions", () => {
  const Q = QUEUES.merchantWebhooks;
  /** The test's own statement of the allow-list (dashboard.ts' ALLOWED_ACTIONS must agree). */
  const ALLOWED_MUTATIONS = new Set([
    "put /api/queues/:queueName/:jobId/retry",
    "put /api/queues/:queueName/retry/:queueStatus", // only for queueStatus "failed"
    "put /api/queues/:queueName/:jobId/promote",
    "put /api/queues/:queueName/promote",
  ]);
  /** A valid body for each route that takes one, so that without the guard the request would act. */
  const BODIES: Record<string, unknown> = {
    "post /api/queues/:queueName/add": { name: "forged", data: { provider: "payram" }, options: {} },
    "patch /api/queues/:queueName/:jobId/update-data": { jobData: { rawBody: "[redacted]" } },
    "patch /api/queues/:queueName/:jobId/delay": { runAt: NOW_MS },
    "patch /api/queues/:queueName/:jobId/priority": { priority: 5 },
    "put /api/queues/:queueName/concurrency": { concurrency: 1 },
    "put /api/queues/:queueName/rate-limit": { max: 1, duration: 60_000 },
    "put /api/queues/:queueName/obliterate": { force: true },
    "patch /api/queues/:queueName/job-schedulers/:schedulerId": { every: 1_000 },
  };
  // "clean" is a failed job whose id is a route word: `PUT …/clean/retry` is bull-board's "clean
  // all with status retry", not "retry the job clean", and must be refused as such.
  const JOB_IDS = ["done-1", "failed-1", "clean", "waiting-1", "delayed-1"];
  const STATUSES = ["completed", "failed", "active", "delayed", "wait", "waiting", "paused", "prioritized", "waiting-children", "retry"];
  const VALUES: Record<string, readonly string[]> = { queueName: [Q], jobId: JOB_IDS, queueStatus: STATUSES, schedulerId: ["hourly"] };

  let queue: Queue;
  let redis: RedisConnection;

  /** Every key of this test's prefix, with its type and serialized value: Redis as it is. */
  async function redisState(): Promise<Array<[string, string, string]>> {
    const keys = (await redis.keys(`${PREFIX}:*`)).sort();
    return Promise.all(
      keys.map(async (key) => [key, await redis.type(key), ((await redis.dumpBuffer(key)) ?? Buffer.alloc(0)).toString("hex")] as [string, string, string]),
    );
  }

  /** Each concrete request for a route of the table: its parameters filled in every way above. */
  function expand(route: string): string[] {
    let paths = [route];
    for (const [, name] of route.matchAll(/:(\w+)/g)) {
      const values = VALUES[name!];
      if (!values) throw new Error(`no test values for :${name} in ${route}: add some`);
      paths = paths.flatMap((p) => values.map((v) => p.replace(`:${name}`, encodeURIComponent(v))));
    }
    return paths;
  }

  beforeAll(async () => {
    redis = producer;
    queue = new Queue(Q, { connection: producer, prefix: PREFIX });
    const worker = new Worker(
      Q,
      async (job) => {
        await job.log(`attempt for ${job.id}`);
        if (job.name === "bad") throw new Error("merchant endpoint answered 500");
        return { status: 204 };
      },
      { connection: workerConnection, prefix: PREFIX },
    );
    try {
      await queue.add("good", { n: 1 }, { jobId: "done-1" });
      await queue.add("bad", { n: 2 }, { jobId: "failed-1", attempts: 1 });
      await queue.add("bad", { n: 3 }, { jobId: "failed-2", attempts: 1 });
      await queue.add("bad", { n: 4 }, { jobId: "clean", attempts: 1 });
      await waitFor(async () => (await queue.getJobCounts("completed", "failed")).failed === 3, "jobs failed");
      await waitFor(async () => (await queue.getJobState("done-1")) === "completed", "job completed");
    } finally {
      await worker.close();
    }
    await queue.add("good", { n: 5 }, { jobId: "waiting-1" });
    await queue.add("good", { n: 6 }, { jobId: "delayed-1", delay: 3_600_000 });
    await queue.add("good", { n: 7 }, { jobId: "delayed-2", delay: 3_600_000 });
    await queue.upsertJobScheduler("hourly", { every: 3_600_000 }, { name: "good", data: { n: 8 } });
  });

  afterAll(async () => {
    await queue?.close();
  });

  it("refuses every mutating route of bull-board's table but retry and promote, and Redis is left as it was", async () => {
    const mutating = appRoutes.api.flatMap((r) =>
      ([] as string[]).concat(r.method).flatMap((method) => ([] as string[]).concat(r.route).map((route) => `${method} ${route}`)),
    ).filter((key) => !key.startsWith("get "));
    // bull-board 9.10 has 23 mutating routes; fewer would mean the table was not read.
    expect(mutating.length).toBeGreaterThanOrEqual(23);
    for (const allowed of ALLOWED_MUTATIONS) expect(mutating).toContain(allowed);

    const before = await redisState();
    expect(before.some(([key]) => key.endsWith(":failed-1"))).toBe(true);
    const tried: string[] = [];
    for (const key of mutating) {
      const [method, route] = key.split(" ") as [string, string];
      let paths = expand(route);
      if (key === "put /api/queues/:queueName/retry/:queueStatus") paths = paths.filter((p) => !p.endsWith("/failed"));
      else if (ALLOWED_MUTATIONS.has(key)) continue;
      for (const path of paths) {
        const res = await call(method.toUpperCase(), path, auth, BODIES[key] ?? {});
        expect([method, path, res.status, await res.json()]).toEqual([method, path, 403, { error: "action_not_allowed" }]);
        tried.push(`${method} ${path}`);
      }
    }
    expect(tried).toContain(`put /api/queues/${Q}/clean/failed`);
    expect(tried).toContain(`put /api/queues/${Q}/clean/retry`);
    expect(tried).toContain(`put /api/queues/${Q}/retry/completed`);
    expect(tried).toContain(`put /api/queues/${Q}/failed-1/clean`);
    expect(await redisState()).toEqual(before);
    expect(await queue.getJobState("clean")).toBe("failed");
  });

  it("refuses other methods outside bull-board's table, and API paths it does not have", async () => {
    const before = await redisState();
    for (const [method, path] of [
      ["POST", ""],
      ["DELETE", "/"],
      ["PUT", `/queue/${Q}/failed-1`],
      ["DELETE", `/api/queues/${Q}/failed-1`],
      ["POST", `/api/queues/${Q}/failed-1/retry`],
      ["GET", "/api/not-a-route"],
    ] as const) {
      const res = await call(method, path, auth, method === "GET" ? undefined : {});
      expect([method, path, res.status, await res.json()]).toEqual([method, path, 403, { error: "action_not_allowed" }]);
    }
    expect(await redisState()).toEqual(before);
  });

  it("allows reading a job and its logs, retrying a failed job or all of them, promoting a delayed job or all of them", async () => {
    const logs = await call("GET", `/api/queues/${Q}/failed-1/logs`, auth);
    expect(logs.status).toBe(200);
    expect(JSON.stringify(await logs.json())).toContain("attempt for failed-1");

    expect((await call("PUT", `/api/queues/${Q}/failed-1/retry`, auth)).status).toBe(204);
    expect(await queue.getJobState("failed-1")).toBe("waiting");
    expect((await call("PUT", `/api/queues/${Q}/retry/failed`, auth)).status).toBe(200);
    expect(await queue.getJobState("failed-2")).toBe("waiting");
    expect(await queue.getJobState("clean")).toBe("waiting");

    expect((await call("PUT", `/api/queues/${Q}/delayed-1/promote`, auth)).status).toBe(204);
    expect(await queue.getJobState("delayed-1")).toBe("waiting");
    expect((await call("PUT", `/api/queues/${Q}/promote`, auth)).status).toBe(200);
    expect(await queue.getJobState("delayed-2")).toBe("waiting");
    // Nothing was removed by any of it.
    for (const id of ["done-1", "failed-1", "failed-2", "clean", "waiting-1", "delayed-1", "delayed-2"]) expect(await queue.getJob(id)).toBeDefined();
  });
});
