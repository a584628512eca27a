/**
 * The operator console over real HTTP (loopback) against a real redis-server and real BullMQ
 * jobs: sign-in is required on every route, every state change refuses cross-site requests and
 * acts (with an audit line) only with the page's token from the same origin, search finds an
 * order by each kind of id without scanning, and no page shows a secret or unmasked personal
 * data (the HTML is grepped).
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Queue, UnrecoverableError, Worker, type Job } from "bullmq";
import type { Redis } from "ioredis";
import pino from "pino";
import {
  EVENT_TYPE_FOR_STATUS,
  QUEUES,
  createJobIndex,
  createLedger,
  type Ledger,
  type PaymentDecision,
  type PaymentFacts,
  type ProviderId,
  type RedisConnection,
} from "@payhooks/core";
import { startTestRedis, waitFor, type TestRedis } from "@payhooks/testing";
import { createAdminApp } from "./admin";
import { CONSOLE_PATH, createConsole } from "./console";
import { csrfToken } from "./console/csrf";
import type { QueueKey } from "./dashboard";

const TOKEN = "console-int-admin-token-0123456789";
const PAYRAM_API_KEY = "payram-int-api-key-5f1e2d3c4b5a";
const MERCHANT_SECRET = "whsec_Y29uc29sZS1pbnQtbWVyY2hhbnQtc2VjcmV0";
const EMAIL = "jane.doe@example.org";
const CARD = "4111 1111 1111 1111";
const PHONE = "+15555550123";
const ORDER = "order-int-1";
const PREFIX = "console-int";
const AT = "2026-03-01T12:00:00.000Z";

let testRedis: TestRedis;
let redis: RedisConnection;
let server: Server;
let base: string;
let ledger: Ledger;
let queues: Record<QueueKey, Queue>;
const logLines: string[] = [];
const ids = { payramJob: "", payskeJob: "", quarantinedJob: "payram-quarantined~1", failedDelivery: "", delayedDelivery: "", payramEvent: "", payskeEvent: "" };

const basic = (token = TOKEN) => `Basic ${Buffer.from(`admin:${token}`).toString("base64")}`;
const get = (path: string, headers: Record<string, string> = { authorization: basic() }) => fetch(`${base}${path}`, { headers, redirect: "manual" });
function post(path: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  return fetch(`${base}${path}`, {
    method: "POST",
    headers: { authorization: basic(), "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(form).toString(),
    redirect: "manual",
  });
}

const facts = (settled: number): PaymentFacts => ({ status: "succeeded", currency: "USD", requested: settled, settled, refunded: 0, livemode: true });
const paid =
  (f: PaymentFacts): ((c: unknown) => PaymentDecision) =>
  () => ({
    kind: "applied",
    payment: { facts: f, providerStatus: "PAID", at: AT, state: {} },
    events: [{ type: EVENT_TYPE_FOR_STATUS[f.status], amount: f.settled || f.requested, currency: f.currency, occurredAt: AT, data: {} }],
  });

/** An envelope as the ingress would queue it, with personal data in the payload and a secret in a header. */
const envelope = (provider: ProviderId, deliveryId: string, receivedAt: number) => ({
  provider,
  deliveryId,
  receivedAt,
  rawBody: JSON.stringify({ email: EMAIL, card: CARD }),
  payload: { customer: { email: EMAIL, phone: PHONE }, memo: EMAIL, note: CARD, amount: "60.00" },
  // The ingress keeps no secret header (envelope.ts); were one kept, its key marks it sensitive.
  headers: { "api-key": PAYRAM_API_KEY, "webhook-secret": MERCHANT_SECRET },
});

beforeAll(async () => {
  testRedis = await startTestRedis("single");
  redis = testRedis.client("console-int");
  ledger = createLedger({ redis, prefix: PREFIX });
  queues = Object.fromEntries((Object.keys(QUEUES) as QueueKey[]).map((k) => [k, new Queue(QUEUES[k], { connection: redis, prefix: PREFIX })])) as Record<QueueKey, Queue>;
  const jobIndex = createJobIndex({ redis, prefix: PREFIX, flushMs: 60_000 });

  // An order tried through two providers: the Payram payment failed, the Payske one paid it.
  await ledger.putOrder(ORDER, { amount: 10_000, currency: "USD" });
  const a = await ledger.applyPayment({ provider: "payram", providerPaymentId: "ref-int-A", orderId: ORDER, decide: paid({ ...facts(0), status: "failed", requested: 10_000 }) });
  const b = await ledger.applyPayment({ provider: "payske", providerPaymentId: "pi_int_B", orderId: ORDER, decide: paid(facts(10_000)) });
  if (a.kind !== "applied" || b.kind !== "applied") throw new Error("payments not applied");
  ids.payramEvent = a.events[0]!.id;
  ids.payskeEvent = b.events[0]!.id;
  ids.payramJob = "payram-ref-int-A~FAILED~100.00";
  ids.payskeJob = "payske-evt_int_B";
  ids.failedDelivery = ids.payskeEvent;
  ids.delayedDelivery = ids.payramEvent;

  // Real jobs, run by real BullMQ workers standing in for the payhooks worker.
  const providerRun = async (job: Job) => {
    if (job.id === ids.quarantinedJob) throw new UnrecoverableError(`quarantined: payload.amount: expected a decimal, got ${EMAIL}`);
    const [paymentId, events] = job.name === "payram" ? ["ref-int-A", [ids.payramEvent]] : ["pi_int_B", [ids.payskeEvent]];
    return { outcome: "applied", paymentId, orderId: ORDER, events };
  };
  const workers = [
    new Worker(QUEUES.payram, providerRun, { connection: redis, prefix: PREFIX }),
    new Worker(QUEUES.payske, providerRun, { connection: redis, prefix: PREFIX }),
    new Worker(QUEUES.merchantWebhooks, async () => { throw new Error("merchant endpoint answered 500"); }, { connection: redis, prefix: PREFIX }),
  ];
  const t = Date.now();
  await queues.payram.add("payram", envelope("payram", "d1", t - 10_000), { jobId: ids.payramJob });
  await queues.payske.add("payske", envelope("payske", "d2", t - 8_000), { jobId: ids.payskeJob });
  await queues.payram.add("payram", envelope("payram", "d3", t - 6_000), { jobId: ids.quarantinedJob, attempts: 3 });
  await queues.merchantWebhooks.add("merchant.retry", b.events[0], { jobId: ids.failedDelivery, attempts: 1 });
  await queues.merchantWebhooks.add("merchant.retry", a.events[0], { jobId: ids.delayedDelivery, delay: 3_600_000, attempts: 5 });
  await waitFor(async () => (await queues.payram.getJobState(ids.payramJob)) === "completed", "payram job");
  await waitFor(async () => (await queues.payske.getJobState(ids.payskeJob)) === "completed", "payske job");
  await waitFor(async () => (await queues.payram.getJobState(ids.quarantinedJob)) === "failed", "quarantined job");
  await waitFor(async () => (await queues.merchantWebhooks.getJobState(ids.failedDelivery)) === "failed", "failed delivery");
  // No worker from here on: a job the console retries stays waiting, for the test to see.
  await Promise.all(workers.map((w) => w.close()));

  // The order's timeline, as the worker writes it.
  const now = Date.now();
  jobIndex.add(ORDER, QUEUES.payram, ids.payramJob, t - 10_000);
  jobIndex.add(ORDER, QUEUES.payske, ids.payskeJob, t - 8_000);
  jobIndex.note(ORDER, { kind: "attempt", eventId: ids.payramEvent, attempt: 1, via: "inline", status: 500, durationMs: 12, error: "merchant endpoint answered 500", nextRetryAt: now + 2_000 }, now);
  jobIndex.add(ORDER, QUEUES.merchantWebhooks, ids.delayedDelivery, now);
  jobIndex.note(ORDER, { kind: "attempt", eventId: ids.payskeEvent, attempt: 1, via: "inline", status: 500, durationMs: 9, error: `merchant endpoint answered 500 for ${EMAIL}` }, now + 1);
  jobIndex.add(ORDER, QUEUES.merchantWebhooks, ids.failedDelivery, now + 1);
  expect(await jobIndex.flush()).toBe(true);

  const logger = pino({ level: "info" }, { write: (line: string) => void logLines.push(line) });
  const router = createConsole({ ledger, queues, redis, prefix: PREFIX, jobIndex, logger, now: Date.now, adminToken: TOKEN });
  const app = createAdminApp({ ledger, token: TOKEN, logger, console: { basePath: CONSOLE_PATH, router } });
  server = app.listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 30_000);

afterAll(async () => {
  if (server) await new Promise((r) => server.close(r));
  await Promise.all(Object.values(queues ?? {}).map((q) => q.close()));
  await testRedis?.remove();
});

/** Every console page (GET) the fixture has: overview, search, order, each job, each confirmation. */
const pages = () => [
  `${CONSOLE_PATH}`,
  `${CONSOLE_PATH}/search`,
  `${CONSOLE_PATH}/search?q=nothing-like-this`,
  `${CONSOLE_PATH}/orders/${ORDER}`,
  `${CONSOLE_PATH}/jobs/payram/${ids.payramJob}`,
  `${CONSOLE_PATH}/jobs/payske/${ids.payskeJob}`,
  `${CONSOLE_PATH}/jobs/payram/${encodeURIComponent(ids.quarantinedJob)}`,
  `${CONSOLE_PATH}/jobs/merchant-webhooks/${ids.failedDelivery}`,
  `${CONSOLE_PATH}/jobs/merchant-webhooks/${ids.delayedDelivery}`,
  `${CONSOLE_PATH}/confirm?action=retry&queue=merchant-webhooks&jobId=${ids.failedDelivery}`,
  `${CONSOLE_PATH}/confirm?action=run-now&queue=merchant-webhooks&jobId=${ids.delayedDelivery}`,
  `${CONSOLE_PATH}/confirm?action=reprocess&queue=payram&jobId=${encodeURIComponent(ids.quarantinedJob)}`,
];

describe("sign-in", () => {
  it("refuses every console route without the admin token, or with a wrong one (401, Basic challenge for a browser)", async () => {
    const routes = [...pages(), "/"];
    for (const path of routes) {
      const tries: Array<Record<string, string>> = [{ accept: "text/html" }, { accept: "text/html", authorization: basic("wrong-token") }, { authorization: `Bearer ${TOKEN}x` }];
      for (const headers of tries) {
        const res = await get(path, headers);
        expect([path, res.status]).toEqual([path, 401]);
        expect(await res.text()).not.toContain("<html");
      }
    }
    expect((await get(CONSOLE_PATH, { accept: "text/html" })).headers.get("www-authenticate")).toBe('Basic realm="payhooks-admin", charset="UTF-8"');
    const anonymousPost = await fetch(`${base}${CONSOLE_PATH}/actions`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ action: "retry", queue: "merchant-webhooks", jobId: ids.failedDelivery, csrf: csrfToken(TOKEN) }).toString(),
    });
    expect(anonymousPost.status).toBe(401);
    expect(await queues.merchantWebhooks.getJobState(ids.failedDelivery)).toBe("failed");
  });

  it("signed in, every page answers 200 HTML with a strict CSP, and / redirects to the console", async () => {
    for (const path of pages()) {
      const res = await get(path);
      expect([path, res.status]).toEqual([path, path.includes("nothing-like-this") ? 404 : 200]);
      expect(res.headers.get("content-type")).toMatch(/^text\/html/);
      expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
      expect(res.headers.get("cache-control")).toBe("no-store");
    }
    const root = await get("/");
    expect(root.status).toBe(302);
    expect(root.headers.get("location")).toBe(CONSOLE_PATH);
  });

  it("refuses every page a browser says another site asked for (a link or a form elsewhere), signed in or not; a typed address or a bookmark reads it", async () => {
    for (const path of pages()) {
      for (const site of ["cross-site", "same-site"]) {
        const res = await get(path, { authorization: basic(), "sec-fetch-site": site });
        expect([path, site, res.status]).toEqual([path, site, 403]);
        expect(await res.text()).not.toContain("<html");
      }
      expect([path, (await get(path, { authorization: basic(), "sec-fetch-site": "none" })).status]).toEqual([path, path.includes("nothing-like-this") ? 404 : 200]);
      expect([path, (await get(path, { authorization: basic(), "sec-fetch-site": "same-origin" })).status]).toEqual([path, path.includes("nothing-like-this") ? 404 : 200]);
    }
  });
});

describe("no secret and no personal data on any page", () => {
  it("greps the HTML of every page", async () => {
    for (const path of pages()) {
      const body = await (await get(path)).text();
      for (const secret of [TOKEN, PAYRAM_API_KEY, MERCHANT_SECRET, EMAIL, CARD, CARD.replace(/ /g, ""), PHONE, "jane.doe"]) {
        expect([path, secret, body.includes(secret)]).toEqual([path, secret, false]);
      }
    }
    // The job pages do show the job, masked: what is there is visibly redacted, not dropped.
    const job = await (await get(`${CONSOLE_PATH}/jobs/payram/${ids.payramJob}`)).text();
    expect(job).toContain("[redacted: ");
    expect(job).toMatch(/&quot;memo&quot;: &quot;\[redacted\]&quot;/);
    expect(job).toMatch(/&quot;note&quot;: &quot;\[redacted\]&quot;/);
    expect(job).toContain("&quot;amount&quot;: &quot;60.00&quot;");
  });
});

describe("search: by key, never a scan", () => {
  const q = (text: string) => get(`${CONSOLE_PATH}/search?q=${encodeURIComponent(text)}`);

  it("goes to the order page from an order id, either provider's payment id, an event id, or a job id", async () => {
    for (const text of [ORDER, "ref-int-A", "pi_int_B", ids.payramEvent, ids.payskeEvent, ids.payramJob, ids.failedDelivery]) {
      const res = await q(text);
      expect([text, res.status, res.headers.get("location")]).toEqual([text, 303, `${CONSOLE_PATH}/orders/${ORDER}`]);
    }
  });

  it("goes to the job page from a quarantined job's id (it names no order), and says when nothing matches", async () => {
    const res = await q(ids.quarantinedJob);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`${CONSOLE_PATH}/jobs/payram/${encodeURIComponent(ids.quarantinedJob)}`);
    const none = await q("no-such-thing");
    expect(none.status).toBe(404);
    expect(await none.text()).toContain("Nothing found for");
    // The names of a queue's own keys are not job ids: nothing found, not an error or a fake job.
    for (const name of ["wait", "meta", "events", "id", `${ids.payramJob}:lock`]) expect([name, (await q(name)).status]).toEqual([name, 404]);
  });

  it("issues no SCAN, KEYS or queue listing while searching", async () => {
    // MONITOR opens a connection of its own (single-node Redis here).
    const monitor = await (redis as Redis).monitor();
    const commands: string[] = [];
    monitor.on("monitor", (_t: string, args: string[]) => void commands.push(String(args[0]).toLowerCase()));
    try {
      for (const text of [ORDER, "ref-int-A", ids.payramEvent, ids.payramJob, "no-such-thing"]) await q(text);
      await get(`${CONSOLE_PATH}/orders/${ORDER}`);
    } finally {
      await new Promise((r) => setTimeout(r, 100));
      monitor.disconnect();
    }
    expect(commands.length).toBeGreaterThan(0);
    expect(commands.filter((c) => ["scan", "keys", "lrange", "zrange", "smembers", "sscan", "hscan", "zscan"].includes(c))).toEqual([]);
  });
});

describe("the order page", () => {
  it("shows the order, both payments and one timeline: deliveries, ledger changes, events, attempts and delivery jobs", async () => {
    const body = await (await get(`${CONSOLE_PATH}/orders/${ORDER}`)).text();
    expect(body).toContain("100.00 USD"); // amount and paid
    expect(body).toMatch(/Status<\/dt><dd><span class="badge ok">paid<\/span>/);
    expect(body).toMatch(/Paid<\/dt><dd>100.00 USD/);
    for (const text of ["ref-int-A", "pi_int_B", "payment.failed", "payment.succeeded", ">failed</span>", ">succeeded</span>"]) expect(body).toContain(text);
    for (const kind of ["received", "ledger", "event", "attempt", "delivery-job"]) expect(body).toContain(`data-kind="${kind}"`);
    expect(body).toContain("HTTP 500");
    expect(body).toContain("merchant endpoint answered 500");
    // The attempt whose error named an e-mail address is masked whole.
    expect(body).toContain("[redacted]");
    // Buttons: retry the failed delivery, run the delayed one now — links to their confirmation.
    expect(body).toContain(`/console/confirm?action=retry&amp;queue=merchant-webhooks&amp;jobId=${ids.failedDelivery}`);
    expect(body).toContain(`/console/confirm?action=run-now&amp;queue=merchant-webhooks&amp;jobId=${ids.delayedDelivery}`);
    // Oldest first: the Payram delivery's row comes before the Payske delivery's.
    expect(body.indexOf(ids.payramJob)).toBeLessThan(body.indexOf(ids.payskeJob));
  });
});

describe("actions: confirmed, same-origin, with the page's token, audited", () => {
  const retryForm = () => ({ action: "retry", queue: "merchant-webhooks", jobId: ids.failedDelivery, csrf: csrfToken(TOKEN) });

  it("refuses cross-site requests with 403 and retries nothing", async () => {
    const attempts: Array<[string, Record<string, string>, Record<string, string>]> = [
      ["another Origin", retryForm(), { origin: "https://evil.example" }],
      ["an opaque Origin", retryForm(), { origin: "null" }],
      ["Sec-Fetch-Site cross-site", retryForm(), { "sec-fetch-site": "cross-site", origin: base }],
      ["Sec-Fetch-Site same-site", retryForm(), { "sec-fetch-site": "same-site" }],
      ["no token", { ...retryForm(), csrf: "" }, { origin: base, "sec-fetch-site": "same-origin" }],
      ["a wrong token", { ...retryForm(), csrf: csrfToken("another-token") }, { origin: base, "sec-fetch-site": "same-origin" }],
      ["the admin token as the form token", { ...retryForm(), csrf: TOKEN }, { origin: base }],
    ];
    for (const [what, form, headers] of attempts) {
      const res = await post(`${CONSOLE_PATH}/actions`, form, headers);
      expect([what, res.status]).toEqual([what, 403]);
    }
    // Any other POST under the console is refused the same way before reaching a route.
    expect((await post(`${CONSOLE_PATH}/orders/${ORDER}`, {}, { origin: "https://evil.example" })).status).toBe(403);
    expect(await queues.merchantWebhooks.getJobState(ids.failedDelivery)).toBe("failed");
    expect(logLines.filter((l) => l.includes('"action":"retry"') && l.includes('"was"'))).toEqual([]);
  });

  it("the confirmation page carries the token; its POST retries the failed delivery, logs an audit line and redirects to the order", async () => {
    const confirm = await (await get(`${CONSOLE_PATH}/confirm?action=retry&queue=merchant-webhooks&jobId=${ids.failedDelivery}`)).text();
    const token = /name="csrf" value="([^"]+)"/.exec(confirm)?.[1];
    expect(token).toBe(csrfToken(TOKEN));
    expect(confirm).toContain(`action="/console/actions"`);
    const res = await post(`${CONSOLE_PATH}/actions`, { ...retryForm(), csrf: token! }, { origin: base, "sec-fetch-site": "same-origin" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`${CONSOLE_PATH}/orders/${ORDER}?done=retried`);
    expect(await queues.merchantWebhooks.getJobState(ids.failedDelivery)).toBe("waiting");
    const audit = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l["audit"] === true && l["was"] === "failed");
    expect(audit).toEqual([expect.objectContaining({ action: "retry", queue: "merchant-webhooks", jobId: ids.failedDelivery, orderId: ORDER })]);
    expect(logLines.join("\n")).not.toContain(TOKEN);
    expect(logLines.join("\n")).not.toContain(token!);
    // The page it lands on says so; pressing again finds nothing to retry.
    expect(await (await get(res.headers.get("location")!)).text()).toContain("Retried: the job is waiting for a worker.");
    const again = await post(`${CONSOLE_PATH}/actions`, retryForm(), { origin: base });
    expect(again.headers.get("location")).toBe(`${CONSOLE_PATH}/orders/${ORDER}?done=stale`);
  });

  it("takes a same-host Origin whatever its scheme (a TLS-terminating proxy in front), with the token", async () => {
    const host = new URL(base).host;
    const res = await post(`${CONSOLE_PATH}/actions`, { action: "run-now", queue: "merchant-webhooks", jobId: "no-such-job", csrf: csrfToken(TOKEN) }, { origin: `https://${host}`, "sec-fetch-site": "same-origin" });
    expect(res.status).not.toBe(403);
    const other = await post(`${CONSOLE_PATH}/actions`, { action: "run-now", queue: "merchant-webhooks", jobId: "no-such-job", csrf: csrfToken(TOKEN) }, { origin: `https://${host}.evil.example` });
    expect(other.status).toBe(403);
  });

  it("runs a delayed delivery now, and re-processes a quarantined job (a client without Origin still needs the token)", async () => {
    const runNow = await post(`${CONSOLE_PATH}/actions`, { action: "run-now", queue: "merchant-webhooks", jobId: ids.delayedDelivery, csrf: csrfToken(TOKEN) });
    expect(runNow.status).toBe(303);
    expect(await queues.merchantWebhooks.getJobState(ids.delayedDelivery)).toBe("waiting");
    const reprocess = await post(`${CONSOLE_PATH}/actions`, { action: "reprocess", queue: "payram", jobId: ids.quarantinedJob, csrf: csrfToken(TOKEN) });
    expect(reprocess.status).toBe(303);
    expect(reprocess.headers.get("location")).toBe(`${CONSOLE_PATH}/jobs/payram/${encodeURIComponent(ids.quarantinedJob)}?done=reprocessed`);
    expect(await queues.payram.getJobState(ids.quarantinedJob)).toBe("waiting");
    const actions = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l["audit"] === true && l["was"]);
    expect(actions.map((a) => a["action"])).toEqual(["retry", "run-now", "reprocess"]);
  });
});
