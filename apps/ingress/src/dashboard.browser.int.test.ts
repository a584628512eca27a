/**
 * The dashboard in a real browser: Debian's chromium driven by playwright-core, against the
 * built ingress and worker as child processes and a private redis-server. A merchant delivery
 * fails because the merchant's endpoint answers 500; once the endpoint is fixed, an operator
 * presses Retry on that job in /admin/queues and the delivery completes (checked in Redis).
 * A Payske webhook full of personal data is shown masked. Screenshots go to artifacts/dashboard/
 * (git-ignored). `.ci/run` installs chromium, so CI never skips this; a machine without it does.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { Queue } from "bullmq";
import { chromium, type Browser, type Page } from "playwright-core";
import { PaymentEventSchema, QUEUES, createRedis, type PaymentEvent, type RedisConnection } from "@payhooks/core";
import { PAYSKE_SIGNATURE_HEADER, signForTest } from "@payhooks/payske";
import {
  removeRedisServer,
  startIngress,
  startMerchantEndpoint,
  startRedisServer,
  startWorker,
  waitFor,
  type NodeProcess,
  type RedisServer,
} from "@payhooks/testing";

const CHROMIUM = "/usr/bin/chromium";
const ADMIN_TOKEN = "browser-admin-token-0123456789";
const PAYSKE_SECRET = "whsec_browser-payske-secret";
const PREFIX = "browser";
const ARTIFACTS = resolve(__dirname, "../../../artifacts/dashboard");
/** chromium's first start on a cold machine can take a few seconds */
const BROWSER_TEST_TIMEOUT_MS = 45_000;

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  console.warn(`dashboard.browser.int.test.ts skipped: no ${CHROMIUM} (install it with: apt-get install -y chromium)`);
}

(haveChromium ? describe : describe.skip)("the dashboard in chromium", () => {
  let redis: RedisServer;
  let connection: RedisConnection;
  let merchantWebhooks: Queue<PaymentEvent>;
  let payske: Queue;
  let merchantHealthy = false;
  let merchant: Awaited<ReturnType<typeof startMerchantEndpoint>>;
  let ingress: Awaited<ReturnType<typeof startIngress>>;
  let worker: NodeProcess;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    redis = await startRedisServer();
    merchant = await startMerchantEndpoint(() => (merchantHealthy ? 204 : 500));
    const env = {
      REDIS_URL: redis.url,
      QUEUE_PREFIX: PREFIX,
      ADMIN_TOKEN,
      PAYSKE_WEBHOOK_SECRET: PAYSKE_SECRET,
      MERCHANT_WEBHOOK_URL: merchant.url,
      MERCHANT_WEBHOOK_SECRET: `whsec_${randomBytes(32).toString("base64")}`,
    };
    [ingress, worker, browser] = await Promise.all([startIngress(env), startWorker(env), chromium.launch({ executablePath: CHROMIUM })]);
    connection = createRedis(redis.url, "worker", "browser-test");
    connection.on("error", () => undefined);
    merchantWebhooks = new Queue<PaymentEvent>(QUEUES.merchantWebhooks, { connection, prefix: PREFIX });
    payske = new Queue(QUEUES.payske, { connection, prefix: PREFIX });
    // The operator's browser sends the admin token on every request, as a header extension would.
    const context = await browser.newContext({
      extraHTTPHeaders: { authorization: `Bearer ${ADMIN_TOKEN}` },
      viewport: { width: 1280, height: 800 },
    });
    // Nothing leaves the machine: the board's page links a web font, which CI cannot (and need not) fetch.
    await context.route("**/*", (route) => (route.request().url().startsWith(ingress.adminUrl) ? route.continue() : route.abort()));
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
  }, BROWSER_TEST_TIMEOUT_MS);

  afterAll(async () => {
    await browser?.close();
    await Promise.all([merchantWebhooks?.close(), payske?.close()]);
    connection?.disconnect();
    await Promise.all([ingress?.proc.stop(), worker?.stop()]);
    await merchant?.close();
    if (redis) await removeRedisServer(redis);
  });

  /** Hovers each refresh-icon button until bull-board's "Retry" tooltip shows, then clicks it. */
  async function pressRetry(): Promise<void> {
    const candidates = page.locator("button:has(svg.lucide-refresh-cw)");
    const tooltip = page.getByText("Retry", { exact: true });
    for (let i = 0; i < (await candidates.count()); i++) {
      await candidates.nth(i).hover();
      const shown = await tooltip.waitFor({ state: "visible", timeout: 2_000 }).then(
        () => true,
        () => false,
      );
      if (shown) {
        await candidates.nth(i).click();
        return;
      }
    }
    throw new Error("no Retry button on the job page");
  }

  it(
    "an operator retries a failed merchant delivery once the merchant's endpoint is fixed",
    async () => {
      // A real delivery of a real event, with one attempt: the endpoint's 500 fails it for good.
      const event = PaymentEventSchema.parse({
        id: `evt_${randomBytes(16).toString("hex")}`,
        type: "payment.succeeded",
        provider: "payram",
        providerPaymentId: "3c6a6e1e-1111-4d7e-8f7e-4a2b1c0d9e8f",
        orderId: "order-browser-1",
        amount: 4999,
        currency: "USD",
        occurredAt: "2025-11-22T08:26:40.000Z",
        livemode: true,
        data: { status: "FILLED", requestedAmount: 4999, filledAmount: 4999 },
      });
      await merchantWebhooks.add(event.type, event, { jobId: event.id, attempts: 1 });
      await waitFor(async () => (await merchantWebhooks.getJobState(event.id)) === "failed", "delivery failed");
      expect(merchant.received).toHaveLength(1);
      expect((await merchantWebhooks.getJob(event.id))?.failedReason).toBe("merchant endpoint answered 500");

      // Overview → the queue in the sidebar → its Failed tab → the job.
      const response = await page.goto(`${ingress.adminUrl}/admin/queues`);
      expect(response?.status()).toBe(200);
      await page.getByRole("link", { name: QUEUES.merchantWebhooks, exact: true }).first().click();
      await page.waitForURL(/\/admin\/queues\/queue\/merchant-webhooks/);
      await page.getByText(/^failed$/i).first().click();
      await page.getByRole("link", { name: event.id }).click();
      await page.waitForURL(new RegExp(`/queue/merchant-webhooks/${event.id}`));
      await page.getByText("merchant endpoint answered 500").first().waitFor();
      await page.screenshot({ path: resolve(ARTIFACTS, "failed-job.png"), fullPage: true });

      // The merchant fixes their endpoint; the operator retries and confirms.
      merchantHealthy = true;
      await pressRetry();
      await page.getByRole("button", { name: "Confirm" }).click();

      await waitFor(async () => (await merchantWebhooks.getJobState(event.id)) === "completed", "retried delivery completed", 10_000);
      const job = await merchantWebhooks.getJob(event.id);
      expect(job?.returnvalue).toEqual({ status: 204 });
      expect(merchant.received).toHaveLength(2);
      expect(merchant.received[1]!.headers["webhook-id"]).toBe(event.id);
      expect(JSON.parse(merchant.received[1]!.body)).toEqual(event);
      // The board agrees: the job is listed under Completed.
      await page.goto(`${ingress.adminUrl}/admin/queues/queue/merchant-webhooks?status=completed`);
      await page.getByRole("link", { name: event.id }).waitFor();
      await page.screenshot({ path: resolve(ARTIFACTS, "retried-job.png"), fullPage: true });
    },
    BROWSER_TEST_TIMEOUT_MS,
  );

  it(
    "shows a Payske webhook's personal data masked",
    async () => {
      // A real signed webhook through the ingress; the worker records it (an ignored type).
      const eventId = `evt_1Browser${randomBytes(6).toString("hex")}`;
      const body = JSON.stringify({
        id: eventId,
        object: "event",
        type: "charge.succeeded",
        created: Math.floor(Date.now() / 1000),
        livemode: true,
        data: {
          object: {
            id: "ch_3QbrowserC",
            object: "charge",
            amount: 4999,
            currency: "usd",
            payment_intent: "pi_3QbrowserB",
            receipt_email: "jane.doe@example.org",
            billing_details: { email: "jane.doe@example.org", name: "Jane Doe", phone: "+15555550123" },
            payment_method_details: { type: "card", card: { brand: "visa", last4: "4242", fingerprint: "Xt5EWLLDS7FJjR1c" } },
          },
        },
      });
      const accepted = await fetch(`${ingress.url}/webhooks/payske`, {
        method: "POST",
        headers: { "content-type": "application/json", [PAYSKE_SIGNATURE_HEADER]: signForTest(body, PAYSKE_SECRET, Math.floor(Date.now() / 1000)) },
        body,
      });
      expect(accepted.status).toBe(200);
      const jobId = `payske-${eventId}`;
      await waitFor(async () => (await payske.getJobState(jobId)) === "completed", "payske job completed");

      await page.goto(`${ingress.adminUrl}/admin/queues/queue/payske/${jobId}`);
      await page.getByRole("tab", { name: "Data" }).click();
      await page.getByText("charge.succeeded").first().waitFor();
      // Nested objects start collapsed: open every node, so everything the job holds is on screen.
      const expand = page.getByRole("button", { name: "expand JSON" });
      for (let i = 0; i < 20 && (await expand.count()) > 0; i++) await expand.first().click();
      expect(await expand.count()).toBe(0);
      const text = await page.locator("body").innerText();
      expect(text).toContain("charge.succeeded");
      expect(text).toMatch(/rawBody:\s*"\[redacted: \d+ bytes\]"/);
      expect(text).toMatch(/billing_details:\s*"\[redacted\]"/);
      expect(text).toMatch(/receipt_email:\s*"\[redacted\]"/);
      expect(text).toMatch(/card:\s*"\[redacted\]"/);
      expect(text).toMatch(/amount:\s*4999/);
      for (const secret of ["jane.doe@example.org", "Jane Doe", "+15555550123", "Xt5EWLLDS7FJjR1c"]) expect(text).not.toContain(secret);
      await page.screenshot({ path: resolve(ARTIFACTS, "masked-payske-job.png"), fullPage: true });
      // The job itself still holds what Payske sent: masking is for display only.
      expect((await payske.getJob(jobId))?.data.rawBody).toBe(body);
    },
    BROWSER_TEST_TIMEOUT_MS,
  );
});
