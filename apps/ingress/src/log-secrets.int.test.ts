/**
 * No secret and no personal data in any log line: every ingress route (Payme, RoboKassa
 * Result/Success/Fail by GET and POST, Payram, Payske, the admin API, the dashboard and /metrics)
 * is driven at LOG_LEVEL=info against real ingress and worker processes, with secrets and
 * personal data in the query, the body and the headers, accepted and refused; then every line
 * either process printed is searched for each of those values.
 */
import { QUEUES } from "@payhooks/core";
import { signForTest as payskeSignForTest } from "@payhooks/payske";
import { signForTest as payramSign } from "@payhooks/payram";
import { signForTest as robokassaSign } from "@payhooks/robokassa";
import { paymeAuth, paymeCall, removeRedisServer, startIngress, startRedisServer, startWorker, waitFor, type NodeProcess, type RedisServer } from "@payhooks/testing";
import { Queue } from "bullmq";

const PREFIX = "logs";
const EMAIL = "ivan.petrov.pii@example.org";
const PHONE = "+79161234567";
const PAYME_KEY = "payme-key-Zq7xW2";
const NEW_PAYME_KEY = "new-payme-pass-Bc81Ve";
const PAYRAM_KEY = "payram-key-Kp93mV";
const WRONG_API_KEY = "wrong-api-key-Xe19Pd";
const PAYSKE_SECRET = "whsec_payske-Yt5nQ8";
const RK_PASSWORD1 = "rk-pass1-Hd62Lc";
const RK_PASSWORD2 = "rk-pass2-Wn48Ub";
const ADMIN_TOKEN = "admin-token-Jr35Tx0123456789";
const WRONG_ADMIN_TOKEN = "wrong-admin-token-Qa64Hy";
const SHP_VALUE = "shp-value-Gm27Fa";
const QUERY_TOKEN = "query-token-Rv52Ns";
/** the query every request also carries: what a misconfigured sender or a curious visitor could add */
const QUERY = `email=${encodeURIComponent(EMAIL)}&token=${QUERY_TOKEN}&phone=${encodeURIComponent(PHONE)}`;

let redis: RedisServer;
let ingress: Awaited<ReturnType<typeof startIngress>>;
let worker: NodeProcess;
/** every value that must never be logged, filled in as the requests are made */
const secrets = new Set<string>([EMAIL, PHONE, PAYME_KEY, NEW_PAYME_KEY, PAYRAM_KEY, WRONG_API_KEY, PAYSKE_SECRET, RK_PASSWORD1, RK_PASSWORD2, ADMIN_TOKEN, WRONG_ADMIN_TOKEN, SHP_VALUE, QUERY_TOKEN]);

beforeAll(async () => {
  redis = await startRedisServer();
  const env = {
    REDIS_URL: redis.url,
    QUEUE_PREFIX: PREFIX,
    LOG_LEVEL: "info",
    PAYME_KEY,
    PAYRAM_WEBHOOK_SECRET: PAYRAM_KEY,
    PAYSKE_WEBHOOK_SECRET: PAYSKE_SECRET,
    ROBOKASSA_PASSWORD1: RK_PASSWORD1,
    ROBOKASSA_PASSWORD2: RK_PASSWORD2,
    ROBOKASSA_ORDER_PARAM: "Shp_order",
    ADMIN_TOKEN,
  };
  [ingress, worker] = await Promise.all([startIngress(env), startWorker(env)]);
}, 30_000);

afterAll(async () => {
  await Promise.all([ingress?.proc.stop(), worker?.stop()]);
  await removeRedisServer(redis);
});

async function send(path: string, init: RequestInit & { admin?: boolean } = {}): Promise<number> {
  const base = init.admin ? ingress.adminUrl : ingress.url;
  const res = await fetch(`${base}${path}${path.includes("?") ? "&" : "?"}${QUERY}`, { redirect: "manual", ...init });
  await res.arrayBuffer();
  return res.status;
}

/** A RoboKassa notice with the payer's e-mail and Shp_ values, signed with `password`. */
function rkNotice(invId: string, password: string): Record<string, string> {
  const params = robokassaSign({ OutSum: "100.00", InvId: invId, Shp_order: `rk-${invId}`, Shp_secret: SHP_VALUE, Shp_email: EMAIL }, password);
  secrets.add(params["SignatureValue"]!);
  return { ...params, EMail: EMAIL, IncCurrLabel: "BankCard" };
}

it("no log line of the ingress or the worker holds a secret or personal data", async () => {
  // Payme: Basic auth (right and wrong), personal data in the account, a new password.
  secrets.add(paymeAuth(PAYME_KEY).slice("Basic ".length));
  secrets.add(paymeAuth(WRONG_API_KEY).slice("Basic ".length));
  const payme = (key: string, method: string, params: Record<string, unknown>) =>
    send("/webhooks/payme", {
      method: "POST",
      headers: { "content-type": "text/json", authorization: paymeAuth(key) },
      body: JSON.stringify({ id: 1, method, params }),
    });
  const account = { order_id: "logs-payme-1", email: EMAIL, phone: PHONE };
  expect(await payme(PAYME_KEY, "CheckPerformTransaction", { amount: 100_000, account })).toBe(200);
  expect(await payme(WRONG_API_KEY, "CheckPerformTransaction", { amount: 100_000, account })).toBe(200);
  expect(await payme(PAYME_KEY, "CreateTransaction", { id: "65a1b2c3d4e5f60718293a4b", time: Date.now(), amount: 100_000, account })).toBe(200);
  expect((await paymeCall(ingress.url, PAYME_KEY, "ChangePassword", { password: NEW_PAYME_KEY })).result).toEqual({ success: true });

  // RoboKassa: every route by GET (all in the query) and POST (all in the form body), signed and not.
  const form = (params: Record<string, string>) => ({
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(params).toString(),
  });
  const query = (params: Record<string, string>) => `?${new URLSearchParams(params).toString()}`;
  expect(await send(`/webhooks/robokassa/result${query(rkNotice("8001", RK_PASSWORD2))}`)).toBe(200);
  expect(await send("/webhooks/robokassa/result", form(rkNotice("8002", RK_PASSWORD2)))).toBe(200);
  expect(await send(`/webhooks/robokassa/result${query(rkNotice("8003", "not-the-password"))}`)).toBe(400);
  expect(await send("/webhooks/robokassa/result", form(rkNotice("8004", "not-the-password")))).toBe(400);
  for (const route of ["success", "fail"]) {
    expect(await send(`/webhooks/robokassa/${route}${query(rkNotice("8005", RK_PASSWORD1))}`)).toBeLessThan(500);
    expect(await send(`/webhooks/robokassa/${route}`, form(rkNotice("8006", RK_PASSWORD1)))).toBeLessThan(500);
    expect(await send(`/webhooks/robokassa/${route}${query(rkNotice("8007", "not-the-password"))}`)).toBeLessThan(500);
  }

  // Payram: signature and API-Key headers (right and wrong), the payer's e-mail in the body.
  const payramBody = JSON.stringify({ reference_id: "logs-payram-1", status: "FILLED", amount: "10.00", currency: "USD", customer_email: EMAIL, customer_id: PHONE });
  const payramHeaders = payramSign(payramBody, PAYRAM_KEY);
  secrets.add(payramHeaders["x-payram-signature"]!.slice("sha256=".length));
  expect(await send("/webhooks/payram", { method: "POST", headers: payramHeaders, body: payramBody })).toBe(200);
  expect(await send("/webhooks/payram", { method: "POST", headers: { "content-type": "application/json", "api-key": WRONG_API_KEY }, body: payramBody })).toBe(401);

  // Payske: a signed event with the customer's e-mail, and one with a wrong signature.
  const t = Math.floor(Date.now() / 1000);
  const payskeBody = JSON.stringify({
    id: "evt_logs1",
    object: "event",
    type: "payment_intent.succeeded",
    created: t,
    livemode: true,
    data: { object: { id: "pi_logs1", object: "payment_intent", amount: 1000, amount_received: 1000, currency: "usd", receipt_email: EMAIL, metadata: { order_id: "logs-payske-1", phone: PHONE } } },
  });
  const signature = payskeSignForTest(payskeBody, PAYSKE_SECRET, t);
  secrets.add(signature.split("v1=")[1]!);
  expect(await send("/webhooks/payske", { method: "POST", headers: { "content-type": "application/json", "payske-signature": signature }, body: payskeBody })).toBe(200);
  const forged = `t=${t},v1=${"ab12".repeat(16)}`;
  secrets.add("ab12".repeat(16));
  expect(await send("/webhooks/payske", { method: "POST", headers: { "content-type": "application/json", "payske-signature": forged }, body: payskeBody })).toBe(400);

  // Admin: orders with personal data in their items, the dashboard, /metrics, a wrong token.
  const bearer = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const order = { amount: 10_000, currency: "RUB", items: [{ title: "Subscription", buyer: EMAIL, phone: PHONE }] };
  expect(await send("/v1/orders/logs-admin-1", { admin: true, method: "PUT", headers: { ...bearer, "content-type": "application/json" }, body: JSON.stringify(order) })).toBe(201);
  expect(await send("/v1/orders/logs-admin-1", { admin: true, headers: bearer })).toBe(200);
  expect(await send("/v1/orders/logs-admin-1", { admin: true, headers: { authorization: `Bearer ${WRONG_ADMIN_TOKEN}` } })).toBe(401);
  expect(await send("/admin/queues/api/queues", { admin: true, headers: bearer })).toBe(200);
  expect(await send("/metrics", { admin: true, headers: bearer })).toBe(200);

  // Let the worker process what was queued (its failures would be logged too), then stop both.
  const queues = [QUEUES.payram, QUEUES.payske, QUEUES.robokassa].map((q) => new Queue(q, { connection: { path: redis.socketPath }, prefix: PREFIX }));
  try {
    await waitFor(async () => {
      const counts = await Promise.all(queues.map((q) => q.getJobCounts("waiting", "active", "delayed", "completed", "failed")));
      return counts.every((c) => c["waiting"] === 0 && c["active"] === 0 && c["delayed"] === 0) && counts.reduce((n, c) => n + c["completed"]! + c["failed"]!, 0) >= 4;
    }, "the worker to finish the queued jobs");
  } finally {
    await Promise.all(queues.map((q) => q.close()));
  }
  await Promise.all([ingress.proc.stop(), worker.stop()]);

  const lines = `${ingress.proc.output()}\n${worker.output()}`.split("\n").filter(Boolean);
  // The search is not vacuous: every route logged its request.
  const paths = lines.map((l) => /"url":"([^"]*)"/.exec(l)?.[1]).filter((p): p is string => p !== undefined);
  for (const p of ["/webhooks/payme", "/webhooks/robokassa/result", "/webhooks/robokassa/success", "/webhooks/robokassa/fail", "/webhooks/payram", "/webhooks/payske"]) {
    expect(paths).toContain(p);
  }
  const leaks = [...secrets].flatMap((secret) =>
    lines.filter((l) => l.includes(secret) || l.includes(encodeURIComponent(secret))).map((l) => `${secret} in: ${l.slice(0, 300)}`),
  );
  expect(leaks).toEqual([]);
}, 60_000);
