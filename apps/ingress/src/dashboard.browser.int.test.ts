/**
 * The dashboard in a real browser: Debian's chromium driven by playwright-core, against the
 * built ingress and worker as child processes and a private redis-server. A merchant delivery
 * fails because the merchant's endpoint answers 500; once the endpoint is fixed, an operator
 * presses Retry on that job in /admin/queues and the delivery completes (checked in Redis).
 * A Payske webhook full of personal data is shown masked. The browser signs in with HTTP Basic
 * (the admin token as the password), as an operator would. Screenshots go to artifacts/dashboard/
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
  const responses: Array<[number, string]> = [];

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
    // The operator signs in as a browser does: the admin port's Basic challenge, answered with
    // any username and the admin token as the password (no header extension, no Bearer).
    const context = await browser.newContext({
      httpCredentials: { username: "admin", password: ADMIN_TOKEN },
      viewport: { width: 1280, height: 800 },
    });
    // Every request the page makes is recorded, to check none of them was refused.
    context.on("response", (response) => void responses.push([response.status(), response.url()]));
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
    "a browser without credentials is challenged for Basic; signed in, it sees the board",
    async () => {
      // Another context with no credentials: chromium gets the Basic challenge (headless, it has
      // no dialog to show, so the navigation fails with an auth error) and the page stays shut.
      const anonymous = await browser.newContext();
      try {
        const anonymousPage = await anonymous.newPage();
        const challenge = anonymousPage.waitForResponse((r) => r.url() === `${ingress.adminUrl}/admin/queues`);
        const navigation = await anonymousPage.goto(`${ingress.adminUrl}/admin/queues`).then(
          (r) => r?.status(),
          (err: Error) => err.message,
        );
        expect(String(navigation)).toMatch(/^401$|ERR_INVALID_AUTH_CREDENTIALS/);
        const shut = await challenge;
        expect(shut.status()).toBe(401);
        expect(await shut.headerValue("www-authenticate")).toBe('Basic realm="payhooks-admin", charset="UTF-8"');
        expect(await anonymousPage.getByRole("link", { name: QUEUES.payske, exact: true }).count()).toBe(0);
      } finally {
        await anonymous.close();
      }

      responses.length = 0;
      const response = await page.goto(`${ingress.adminUrl}/admin/queues`);
      expect(response?.status()).toBe(200);
      // The board rendered from its API: every queue is listed in the sidebar.
      for (const name of Object.values(QUEUES)) await page.getByRole("link", { name, exact: true }).first().waitFor();
      await page.screenshot({ path: resolve(ARTIFACTS, "signed-in-overview.png"), fullPage: true });
      const api = responses.filter(([, url]) => url.includes("/admin/queues/api/"));
      expect(api.length).toBeGreaterThan(0);
      // Nothing refused (a 401 would be chromium's first, unauthenticated try, which it answers).
      expect(responses.filter(([status]) => status !== 200 && status !== 304 && status !== 401)).toEqual([]);
      expect(api.filter(([status]) => status === 200).length).toBeGreaterThan(0);
    },
    BROWSER_TEST_TIMEOUT_MS,
  );

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
