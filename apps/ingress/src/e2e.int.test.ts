/**
 * End to end over real processes: the built ingress and worker run as children against a
 * private redis-server (or, in the e2e:cluster jest project, a private Redis Cluster); a Payram webhook goes in over HTTP, the order is read back through the
 * admin API, and the merchant endpoint receives an event whose signature is checked with the
 * `standardwebhooks` package (an implementation we did not write).
 */
import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { Webhook } from "standardwebhooks";
import { PaymentEventSchema } from "@payhooks/core";
import { signForTest } from "@payhooks/payram";
import {
  INGRESS_MAIN,
  WORKER_MAIN,
  spawnNode,
  startIngress,
  startMerchantEndpoint,
  startTestRedis,
  startWorker,
  waitFor,
  type NodeProcess,
  type TestRedis,
} from "@payhooks/testing";

const PAYRAM_SECRET = "e2e-payram-project-key";
const ADMIN_TOKEN = "e2e-admin-token-0123456789";
const MERCHANT_SECRET = `whsec_${randomBytes(32).toString("base64")}`;

let redis: TestRedis;
let merchant: Awaited<ReturnType<typeof startMerchantEndpoint>>;
let ingress: Awaited<ReturnType<typeof startIngress>>;
let worker: NodeProcess;

beforeAll(async () => {
  redis = await startTestRedis();
  // The merchant's endpoint fails its first delivery: the event must be retried, same webhook-id.
  merchant = await startMerchantEndpoint((n) => (n === 1 ? 500 : 204));
  const env = {
    REDIS_URL: redis.url,
    QUEUE_PREFIX: "e2e",
    PAYRAM_WEBHOOK_SECRET: PAYRAM_SECRET,
    ADMIN_TOKEN,
    MERCHANT_WEBHOOK_URL: merchant.url,
    MERCHANT_WEBHOOK_SECRET: MERCHANT_SECRET,
  };
  [ingress, worker] = await Promise.all([startIngress(env), startWorker(env)]);
}, 30_000);

afterAll(async () => {
  await Promise.all([ingress?.proc.stop(), worker?.stop()]);
  await merchant?.close();
  await redis?.remove();
});

const admin = (path: string, init: RequestInit = {}) =>
  fetch(`${ingress.adminUrl}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json", ...(init.headers ?? {}) },
  });

it("takes a Payram payment from webhook to a paid order and a signed merchant event", async () => {
  const created = await admin("/v1/orders/order-e2e-1", {
    method: "PUT",
    body: JSON.stringify({ amount: 4999, currency: "USD", references: { payram: "b1e0c7d4-8e2f-4b7a-9c11-2f5d6e7a8b90" } }),
  });
  expect(created.status).toBe(201);

  const body = JSON.stringify({
    reference_id: "b1e0c7d4-8e2f-4b7a-9c11-2f5d6e7a8b90",
    invoice_id: "inv-77",
    status: "FILLED",
    amount: "49.99",
    filled_amount: "49.99",
    currency: "USD",
    timestamp: 1_763_800_000,
  });
  const accepted = await fetch(`${ingress.url}/webhooks/payram`, { method: "POST", headers: signForTest(body, PAYRAM_SECRET), body });
  expect(accepted.status).toBe(200);
  expect(await accepted.json()).toEqual({ message: "Webhook received successfully" });

  const order = await waitFor(async () => {
    const o = (await (await admin("/v1/orders/order-e2e-1")).json()) as { status: string };
    return o.status === "paid" ? o : undefined;
  }, "order paid");
  expect(order).toMatchObject({
    orderId: "order-e2e-1",
    amount: 4999,
    currency: "USD",
    paidAmount: 4999,
    payments: [
      { provider: "payram", providerPaymentId: "b1e0c7d4-8e2f-4b7a-9c11-2f5d6e7a8b90", status: "succeeded", providerStatus: "FILLED", settled: 4999, counted: 4999, currency: "USD" },
    ],
  });

  // First attempt answered 500; the retry (2 s backoff) is answered 204.
  await waitFor(() => merchant.received.length >= 2 || undefined, "merchant delivery retried", 20_000);
  const [first, second] = merchant.received;
  expect(first!.headers["webhook-id"]).toBe(second!.headers["webhook-id"]);
  for (const delivery of [first!, second!]) {
    const verified = new Webhook(MERCHANT_SECRET).verify(delivery.body, {
      "webhook-id": String(delivery.headers["webhook-id"]),
      "webhook-timestamp": String(delivery.headers["webhook-timestamp"]),
      "webhook-signature": String(delivery.headers["webhook-signature"]),
    });
    const event = PaymentEventSchema.parse(verified);
    expect(event).toMatchObject({
      id: delivery.headers["webhook-id"],
      type: "payment.succeeded",
      provider: "payram",
      orderId: "order-e2e-1",
      amount: 4999,
      currency: "USD",
      occurredAt: "2025-11-22T08:26:40.000Z",
      livemode: true,
    });
  }
  // A signature made with another secret must not verify (the check above can fail).
  expect(() =>
    new Webhook(`whsec_${randomBytes(32).toString("base64")}`).verify(second!.body, {
      "webhook-id": String(second!.headers["webhook-id"]),
      "webhook-timestamp": String(second!.headers["webhook-timestamp"]),
      "webhook-signature": String(second!.headers["webhook-signature"]),
    }),
  ).toThrow();
  await new Promise((r) => setTimeout(r, 300));
  expect(merchant.received).toHaveLength(2);
}, 40_000);

it("keeps the admin API behind the bearer token", async () => {
  expect((await fetch(`${ingress.adminUrl}/v1/orders/order-e2e-1`)).status).toBe(401);
  expect((await fetch(`${ingress.adminUrl}/v1/orders/order-e2e-1`, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
  expect((await admin("/v1/orders/nope")).status).toBe(404);
  const bad = await admin("/v1/orders/o-2", { method: "PUT", body: JSON.stringify({ amount: 49.99, currency: "USD" }) });
  expect(bad.status).toBe(400);
  expect(await bad.json()).toMatchObject({ error: "invalid_order", issues: [{ path: ["amount"] }] });
  const conflict = await admin("/v1/orders/order-e2e-1", { method: "PUT", body: JSON.stringify({ amount: 5000, currency: "USD" }) });
  expect(conflict.status).toBe(409);
});

it("never logs the Payram key or the admin token", () => {
  const logs = ingress.proc.output() + worker.output();
  expect(logs).toContain("request completed");
  expect(logs).not.toContain(PAYRAM_SECRET);
  expect(logs).not.toContain(ADMIN_TOKEN);
  expect(logs).not.toContain(MERCHANT_SECRET.slice(6));
});

it("drains a request in flight on SIGTERM, then exits 0", async () => {
  const body = JSON.stringify({ reference_id: "in-flight-at-sigterm", status: "OPEN", amount: "3.00" });
  const req = request(`${ingress.url}/webhooks/payram`, {
    method: "POST",
    headers: { ...signForTest(body, PAYRAM_SECRET), "content-length": String(Buffer.byteLength(body)) },
  });
  const status = new Promise<number>((resolve, reject) => {
    req.on("response", (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
  });
  req.write(body.slice(0, 10)); // half a request is in the ingress when SIGTERM arrives
  await new Promise((r) => setTimeout(r, 100));
  const ingressExit = ingress.proc.stop("SIGTERM");
  await new Promise((r) => setTimeout(r, 200));
  req.end(body.slice(10));
  expect(await status).toBe(200);

  const [ingressCode, workerCode] = await Promise.all([ingressExit, worker.stop("SIGTERM")]);
  expect(ingressCode).toBe(0);
  expect(workerCode).toBe(0);
  expect(ingress.proc.output()).toContain('"msg":"ingress stopped"');
  expect(worker.output()).toContain('"msg":"worker stopped"');
});

it.each([
  ["ingress", INGRESS_MAIN],
  ["worker", WORKER_MAIN],
])("stops the %s at start-up with one line per bad variable, never echoing a value", async (role, main) => {
  const proc = spawnNode(main, { PORT: "80a", MERCHANT_WEBHOOK_URL: "http://127.0.0.1:1/x", ADMIN_TOKEN: "tooshort-zz9" });
  expect(await proc.stop("SIGCONT")).toBe(1); // SIGCONT changes nothing: just wait for the exit
  expect(proc.output().trim().split("\n")).toEqual([
    `payhooks ${role}: invalid configuration: PORT: must be a whole number`,
    `payhooks ${role}: invalid configuration: ADMIN_TOKEN: must be at least 16 characters`,
    `payhooks ${role}: invalid configuration: MERCHANT_WEBHOOK_SECRET: is required when MERCHANT_WEBHOOK_URL is set`,
  ]);
  expect(proc.output()).not.toContain("tooshort-zz9");
});
