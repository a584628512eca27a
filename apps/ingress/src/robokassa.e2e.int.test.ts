/**
 * RoboKassa over HTTP against real ingress and worker processes and a private redis-server
 * (docs/protocols/robokassa.md). Notices are signed as RoboKassa signs them; each signature is also checked with the
 * `@dev-aces/robokassa` package, an implementation we did not write.
 */
import { Robokassa } from "@dev-aces/robokassa";
import { Queue } from "bullmq";
import { QUEUES } from "@payhooks/core";
import { signForTest } from "@payhooks/robokassa";
import {
  adminClient,
  drained,
  paymentEventsFor,
  startIngress,
  startTestRedis,
  startWorker,
  waitFor,
  type NodeProcess,
  type TestRedis,
} from "@payhooks/testing";

const PASSWORD1 = "rk-live-pass-1";
const PASSWORD2 = "rk-live-pass-2-Пароль#2";
const TEST_PASSWORD1 = "rk-test-pass-1";
const TEST_PASSWORD2 = "rk-test-pass-2";
const ADMIN_TOKEN = "e2e-admin-token-0123456789";
const PREFIX = "rk";
const SUCCESS = "https://shop.example/thanks?from=robokassa";
const FAIL = "https://shop.example/payment-failed";

let redis: TestRedis;
let ingress: Awaited<ReturnType<typeof startIngress>>;
let bare: Awaited<ReturnType<typeof startIngress>>;
let worker: NodeProcess;
let rkQueue: Queue;
let eventsQueue: Queue;

beforeAll(async () => {
  redis = await startTestRedis();
  const env = {
    REDIS_URL: redis.url,
    QUEUE_PREFIX: PREFIX,
    ROBOKASSA_PASSWORD1: PASSWORD1,
    ROBOKASSA_PASSWORD2: PASSWORD2,
    ROBOKASSA_TEST_PASSWORD1: TEST_PASSWORD1,
    ROBOKASSA_TEST_PASSWORD2: TEST_PASSWORD2,
    ROBOKASSA_HASH: "sha256",
    ROBOKASSA_SUCCESS_REDIRECT: SUCCESS,
    ROBOKASSA_FAIL_REDIRECT: FAIL,
    ADMIN_TOKEN,
  };
  // A second ingress with live passwords only, no redirects, and the order id in a Shp parameter.
  const bareEnv = {
    REDIS_URL: redis.url,
    QUEUE_PREFIX: PREFIX,
    ROBOKASSA_PASSWORD1: PASSWORD1,
    ROBOKASSA_PASSWORD2: PASSWORD2,
    ROBOKASSA_HASH: "sha256",
    ROBOKASSA_ORDER_PARAM: "Shp_order",
  };
  [ingress, bare, worker] = await Promise.all([startIngress(env), startIngress(bareEnv), startWorker(env)]);
  rkQueue = new Queue(QUEUES.robokassa, { connection: redis.client(), prefix: redis.prefix(PREFIX) });
  eventsQueue = new Queue(QUEUES.paymentEvents, { connection: redis.client(), prefix: redis.prefix(PREFIX) });
}, 30_000);

afterAll(async () => {
  await Promise.all([rkQueue?.close(), eventsQueue?.close()]);
  await Promise.all([ingress?.proc.stop(), bare?.proc.stop(), worker?.stop()]);
  await redis?.remove();
});

const liveChecker = new Robokassa({ merchantLogin: "shop", password1: PASSWORD1, password2: PASSWORD2, hashAlgorithm: "sha256" });

/** A ResultURL notice signed with Password #2, as RoboKassa sends it; verified by @dev-aces/robokassa too. */
function notice(params: Record<string, string>, password = PASSWORD2): Record<string, string> {
  const signed = signForTest(params, password, "sha256");
  if (password === PASSWORD2) expect(liveChecker.checkPayment(signed as never)).toBe(true);
  return signed;
}

async function result(method: "GET" | "POST", params: Record<string, string>, url = ingress.url) {
  const query = new URLSearchParams(params).toString();
  const res =
    method === "GET"
      ? await fetch(`${url}/webhooks/robokassa/result?${query}`)
      : await fetch(`${url}/webhooks/robokassa/result`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: query,
        });
  return { status: res.status, type: res.headers.get("content-type"), body: await res.text() };
}

async function putOrder(orderId: string, amount: number, extra: Record<string, unknown> = {}) {
  expect(await adminClient(ingress.adminUrl, ADMIN_TOKEN).putOrder(orderId, { amount, currency: "RUB", ...extra })).toBe(201);
}

const order = (orderId: string) => adminClient(ingress.adminUrl, ADMIN_TOKEN).getOrder(orderId);
const settled = () => drained([rkQueue]);
const eventsFor = (paymentId: string) => paymentEventsFor(eventsQueue, paymentId);

it("takes a POST ResultURL to a paid order with OK{InvId}; a redelivery is answered the same and is the same job", async () => {
  await putOrder("450009", 10_000);
  const params = notice({ OutSum: "100.000000", InvId: "450009", Fee: "3.900000", EMail: "buyer@example.com", PaymentMethod: "BankCard", Shp_login: "Вася", Shp_oplata: "1" });
  const first = await result("POST", params);
  expect(first).toEqual({ status: 200, type: "text/plain; charset=utf-8", body: "OK450009" });
  expect(await result("POST", params)).toEqual(first);
  expect((await rkQueue.getJobs(["waiting", "active", "completed"])).filter((j) => j.id === "robokassa-live-450009")).toHaveLength(1);
  await settled();
  expect(await order("450009")).toMatchObject({ status: "paid", paidAmount: 10_000 });
  const emitted = await eventsFor("450009");
  expect(emitted).toHaveLength(1);
  expect(emitted[0]).toMatchObject({ type: "payment.succeeded", provider: "robokassa", orderId: "450009", amount: 10_000, currency: "RUB", livemode: true, data: { invId: "450009", outSum: "100.000000", fee: "3.900000" } });
  // The buyer's e-mail is not copied into the event.
  expect(JSON.stringify(emitted[0])).not.toContain("buyer@example.com");
});

it("takes a GET ResultURL with the amount format 4710.00 and an upper-case digest", async () => {
  await putOrder("63", 471_000);
  const params = notice({ OutSum: "4710.00", InvId: "63", Shp_item: "2" });
  params["SignatureValue"] = params["SignatureValue"]!.toUpperCase();
  expect(await result("GET", params)).toMatchObject({ status: 200, body: "OK63" });
  await settled();
  expect(await order("63")).toMatchObject({ status: "paid", paidAmount: 471_000 });
});

it("refuses a tampered OutSum (400, not OK, no job) and a missing SignatureValue", async () => {
  await putOrder("71", 5_000);
  const params = notice({ OutSum: "50.000000", InvId: "71" });
  const tampered = await result("POST", { ...params, OutSum: "0.010000" });
  expect(tampered.status).toBe(400);
  expect(tampered.body.startsWith("OK")).toBe(false);
  // Re-formatted amount: the same number, another string — also not what was signed.
  expect((await result("POST", { ...params, OutSum: "50.00" })).status).toBe(400);
  const { SignatureValue: _drop, ...unsigned } = params;
  expect(await result("GET", unsigned)).toMatchObject({ status: 400, body: "missing SignatureValue" });
  expect(await result("GET", { OutSum: "50.000000", SignatureValue: "00" })).toMatchObject({ status: 400, body: "missing InvId" });
  expect(await rkQueue.getJob("robokassa-live-71")).toBeUndefined();
  expect(await order("71")).toMatchObject({ status: "awaiting_payment", paidAmount: 0 });
});

it("records a different amount as payment.amount_mismatch and leaves the order unchanged", async () => {
  await putOrder("88", 10_000);
  expect((await result("POST", notice({ OutSum: "99.990000", InvId: "88" }))).body).toBe("OK88");
  await settled();
  expect(await order("88")).toMatchObject({ status: "awaiting_payment", paidAmount: 0 });
  const [e] = await eventsFor("88");
  expect(e).toMatchObject({ type: "payment.amount_mismatch", orderId: "88", amount: 9_999, data: { mismatch: { reason: "amount", orderAmount: 10_000 }, outSum: "99.990000" } });
});

it("routes IsTest=1 to the test passwords, keeps test invoices apart, and refuses them where no test passwords are set", async () => {
  await putOrder("90", 1_000);
  const test = signForTest({ OutSum: "10.00", InvId: "90", IsTest: "1" }, TEST_PASSWORD2, "sha256");
  // Signed with the live password but flagged as test: refused.
  expect((await result("POST", { ...notice({ OutSum: "10.00", InvId: "90" }), IsTest: "1" })).status).toBe(400);
  expect(await result("POST", test)).toMatchObject({ status: 200, body: "OK90" });
  expect(await rkQueue.getJob("robokassa-test-90")).toBeDefined();
  expect(await rkQueue.getJob("robokassa-live-90")).toBeUndefined();
  await settled();
  // Test money never moves a live order; the event says livemode false and reports the mismatch.
  expect(await order("90")).toMatchObject({ status: "awaiting_payment", paidAmount: 0 });
  const [e] = await eventsFor("test-90");
  expect(e).toMatchObject({ type: "payment.mode_mismatch", livemode: false, data: { invId: "90" } });
  // The same InvId live is another payment and pays the order.
  expect((await result("GET", notice({ OutSum: "10.000000", InvId: "90" }))).body).toBe("OK90");
  await settled();
  expect(await order("90")).toMatchObject({ status: "paid", paidAmount: 1_000 });

  const refused = await result("POST", test, bare.url);
  expect(refused.status).toBe(400);
  expect(refused.body).toMatch(/no test passwords/);
});

it("pays a test order with a test notice", async () => {
  await putOrder("91", 1_000, { livemode: false });
  expect(await result("POST", signForTest({ OutSum: "10.00", InvId: "91", IsTest: "1" }, TEST_PASSWORD2, "sha256"))).toMatchObject({ status: 200, body: "OK91" });
  await settled();
  expect(await order("91")).toMatchObject({ livemode: false, status: "paid", paidAmount: 1_000 });
});

it("attaches a ResultURL for an InvId created afterwards: the order is paid, not payable again", async () => {
  expect((await result("POST", notice({ OutSum: "25.000000", InvId: "92" }))).body).toBe("OK92");
  await settled();
  await putOrder("92", 2_500);
  expect(await order("92")).toMatchObject({ status: "paid", paidAmount: 2_500, payments: [expect.objectContaining({ providerPaymentId: "92", counted: 2_500 })] });
  const attached = await waitFor(async () => (await eventsFor("92")).find((e) => e.orderId === "92"), "the attach event");
  expect(attached).toMatchObject({ type: "payment.succeeded", data: { attached: true }, order: { status: "paid" } });
});

it("records a notice for an unknown invoice with orderId null", async () => {
  expect((await result("POST", notice({ OutSum: "5.000000", InvId: "777001" }))).body).toBe("OK777001");
  await settled();
  const [e] = await eventsFor("777001");
  expect(e).toMatchObject({ type: "payment.succeeded", orderId: null, amount: 500, currency: "RUB" });
});

describe("SuccessURL and FailURL", () => {
  it("redirects a SuccessURL signed with Password #1 (303, order id added) and never marks the order paid", async () => {
    await putOrder("120", 2_000);
    const params = signForTest({ OutSum: "20.00", InvId: "120", Culture: "ru" }, PASSWORD1, "sha256");
    const res = await fetch(`${ingress.url}/webhooks/robokassa/success?${new URLSearchParams(params)}`, { redirect: "manual" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("https://shop.example/thanks?from=robokassa&order_id=120");
    await new Promise((r) => setTimeout(r, 200));
    expect(await order("120")).toMatchObject({ status: "awaiting_payment", paidAmount: 0 });
    expect(await rkQueue.getJob("robokassa-live-120")).toBeUndefined();
  });

  it("refuses a SuccessURL signed with Password #2 or tampered", async () => {
    const withP2 = signForTest({ OutSum: "20.00", InvId: "121" }, PASSWORD2, "sha256");
    const res = await fetch(`${ingress.url}/webhooks/robokassa/success?${new URLSearchParams(withP2)}`, { redirect: "manual" });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("could not be verified");
  });

  it("redirects FailURL (unsigned) with the order id", async () => {
    const res = await fetch(`${ingress.url}/webhooks/robokassa/fail?OutSum=20.00&InvId=122&Culture=ru`, { redirect: "manual" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("https://shop.example/payment-failed?order_id=122");
  });

  it("renders a minimal page saying what happened when no redirect is configured; a value that is no order id is never echoed", async () => {
    const params = signForTest({ OutSum: "20.00", InvId: "123" }, PASSWORD1, "sha256");
    const ok = await fetch(`${bare.url}/webhooks/robokassa/success?${new URLSearchParams(params)}`, { redirect: "manual" });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await ok.text()).toContain("order 123");
    const fail = await fetch(`${bare.url}/webhooks/robokassa/fail?OutSum=20.00&InvId=124&shp_ORDER=%3Cscript%3Ex`, { redirect: "manual" });
    expect(fail.status).toBe(200);
    const html = await fail.text();
    // `<script>x` is no order id (ORDER_ID_PATTERN): the page names no order, so nothing of it is echoed.
    expect(html).toContain("The payment was not completed.");
    expect(html).not.toContain("script");
    const named = await fetch(`${bare.url}/webhooks/robokassa/fail?OutSum=20.00&InvId=125&shp_ORDER=order-125`, { redirect: "manual" });
    expect(await named.text()).toContain("The payment for order order-125 was not completed");
  });
});

it("answers 503 with a body that is not OK when Redis is down (last: the private Redis restarts empty)", async () => {
  await redis.stop("SIGKILL");
  const params = notice({ OutSum: "1.000000", InvId: "999" });
  const down = await result("POST", params);
  expect(down.status).toBe(503);
  expect(down.body.startsWith("OK")).toBe(false);
  await redis.restart();
  const back = await waitFor(async () => {
    const r = await result("POST", params);
    return r.status === 200 ? r : undefined;
  }, "the notice accepted after Redis is back");
  expect(back.body).toBe("OK999");
});
