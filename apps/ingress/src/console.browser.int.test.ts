/**
 * The operator console in a real browser: Debian's chromium driven by playwright-core, against
 * the built ingress and worker as child processes, a private redis-server and a merchant
 * endpoint on loopback. An order is tried through Payram (cancelled) and paid through Payske;
 * the operator signs in (HTTP Basic, the admin token as the password), searches the order, sees
 * both payments and one timeline of deliveries, ledger changes, events and merchant attempts.
 * The merchant's endpoint then fails: the page shows the failed attempts and the delivery job
 * waiting for its next retry; once the endpoint recovers the operator presses "Retry now",
 * confirms, and sees the delivery succeed. Every page's HTML is grepped for the environment's
 * secrets and the customer's personal data. Screenshots go to artifacts/console-*.png
 * (git-ignored). `.ci/run` installs chromium, so CI never skips this; a machine without it does.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { Queue, type Job } from "bullmq";
import { chromium, type Browser, type Page } from "playwright-core";
import { QUEUES, createRedis, type RedisConnection } from "@payhooks/core";
import { signForTest as signPayram } from "@payhooks/payram";
import { PAYSKE_SIGNATURE_HEADER, signForTest as signPayske } from "@payhooks/payske";
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
const ADMIN_TOKEN = "console-browser-admin-token-0123456789";
const PAYRAM_SECRET = "console-browser-payram-project-key";
const PAYSKE_SECRET = "whsec_consoleBrowserPayskeSecret0123";
const MERCHANT_SECRET = `whsec_${randomBytes(32).toString("base64")}`;
const PREFIX = "console-browser";
const ARTIFACTS = resolve(__dirname, "../../../artifacts");
const ORDER = `order-${randomBytes(4).toString("hex")}`;
const PAYRAM_REF = `ref-${randomBytes(6).toString("hex")}`;
const PI = `pi_3Q${randomBytes(8).toString("hex")}`;
const EMAIL = "jane.doe@example.org";
const PHONE = "+15555550123";
const NAME = "Jane Doe";
/** chromium's first start on a cold machine can take a few seconds; the delivery's retries some more */
const BROWSER_TEST_TIMEOUT_MS = 90_000;

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  console.warn(`console.browser.int.test.ts skipped: no ${CHROMIUM} (install it with: apt-get install -y chromium)`);
}

(haveChromium ? describe : describe.skip)("the operator console in chromium", () => {
  let redis: RedisServer;
  let connection: RedisConnection;
  let merchantWebhooks: Queue;
  let merchantUp = true;
  let merchant: Awaited<ReturnType<typeof startMerchantEndpoint>>;
  let ingress: Awaited<ReturnType<typeof startIngress>>;
  let worker: NodeProcess;
  let browser: Browser;
  let page: Page;
  /** the HTML of every console page the browser was shown */
  const shown: Array<[string, string]> = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    redis = await startRedisServer();
    merchant = await startMerchantEndpoint(() => (merchantUp ? 204 : 500));
    const env = {
      REDIS_URL: redis.url,
      QUEUE_PREFIX: PREFIX,
      ADMIN_TOKEN,
      PAYRAM_WEBHOOK_SECRET: PAYRAM_SECRET,
      PAYSKE_WEBHOOK_SECRET: PAYSKE_SECRET,
      MERCHANT_WEBHOOK_URL: merchant.url,
      MERCHANT_WEBHOOK_SECRET: MERCHANT_SECRET,
    };
    [ingress, worker, browser] = await Promise.all([startIngress(env), startWorker(env), chromium.launch({ executablePath: CHROMIUM })]);
    connection = createRedis(redis.url, "worker", "console-browser-test");
    connection.on("error", () => undefined);
    merchantWebhooks = new Queue(QUEUES.merchantWebhooks, { connection, prefix: PREFIX });
    const context = await browser.newContext({
      httpCredentials: { username: "admin", password: ADMIN_TOKEN },
      viewport: { width: 1100, height: 800 },
    });
    // Nothing leaves the machine.
    await context.route("**/*", (route) => (route.request().url().startsWith(ingress.adminUrl) ? route.continue() : route.abort()));
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
  }, BROWSER_TEST_TIMEOUT_MS);

  afterAll(async () => {
    await browser?.close();
    await merchantWebhooks?.close();
    connection?.disconnect();
    await Promise.all([ingress?.proc.stop(), worker?.stop()]);
    await merchant?.close();
    if (redis) await removeRedisServer(redis);
  });

  async function putOrder(): Promise<void> {
    const res = await fetch(`${ingress.adminUrl}/v1/orders/${ORDER}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ amount: 4999, currency: "USD", references: { payram: PAYRAM_REF } }),
    });
    expect(res.status).toBe(201);
  }

  async function payram(status: "OPEN" | "CANCELLED"): Promise<void> {
    const body = JSON.stringify({ reference_id: PAYRAM_REF, invoice_id: "inv-1", status, amount: "49.99", filled_amount: "0", currency: "USD", customer_email: EMAIL });
    const res = await fetch(`${ingress.url}/webhooks/payram`, { method: "POST", headers: signPayram(body, PAYRAM_SECRET, "signature"), body });
    expect(res.status).toBe(200);
  }

  async function payske(): Promise<void> {
    const created = Math.floor(Date.now() / 1000);
    const body = JSON.stringify({
      id: `evt_1Console${randomBytes(6).toString("hex")}`,
      object: "event",
      api_version: "2024-06-20",
      created,
      livemode: true,
      type: "payment_intent.succeeded",
      data: {
        object: {
          id: PI,
          object: "payment_intent",
          amount: 4999,
          amount_received: 4999,
          currency: "usd",
          status: "succeeded",
          receipt_email: EMAIL,
          metadata: { order_id: ORDER },
          shipping: { name: NAME, phone: PHONE },
        },
      },
    });
    const res = await fetch(`${ingress.url}/webhooks/payske`, {
      method: "POST",
      headers: { "content-type": "application/json", [PAYSKE_SIGNATURE_HEADER]: signPayske(body, PAYSKE_SECRET, created) },
      body,
    });
    expect(res.status).toBe(200);
  }

  /** Keeps the HTML the browser shows now, for the grep at the end. */
  async function keep(): Promise<void> {
    shown.push([page.url(), await page.content()]);
  }

  /** The timeline's rows of one kind, as text. */
  const rows = (kind: string) => page.locator(`ol.timeline > li[data-kind="${kind}"]`);

  it(
    "a browser without credentials is refused",
    async () => {
      const anonymous = await browser.newContext();
      try {
        const p = await anonymous.newPage();
        const refused = p.waitForResponse((r) => r.url() === `${ingress.adminUrl}/console`);
        await p.goto(`${ingress.adminUrl}/console`).catch(() => undefined);
        expect((await refused).status()).toBe(401);
      } finally {
        await anonymous.close();
      }
    },
    BROWSER_TEST_TIMEOUT_MS,
  );

  it(
    "follows an order paid through two providers, then retries its failed merchant delivery once the merchant recovers",
    async () => {
      // Payram: opened, then cancelled by the customer (each event delivered to the merchant at once).
      await putOrder();
      await payram("OPEN");
      await payram("CANCELLED");
      await payram("CANCELLED"); // Payram delivers it again: a duplicate, acknowledged and counted
      const delivered = (type: string) => merchant.received.some((r) => (JSON.parse(r.body) as { type?: string }).type === type);
      await waitFor(async () => delivered("payment.pending") && delivered("payment.cancelled"), "Payram's two events delivered");
      // The merchant's endpoint goes down; the customer pays through Payske.
      merchantUp = false;
      await payske();
      // Its delivery fails (in line, or by a job when the worker paused in-line attempts); wait
      // until the job has failed three times, so its next run is a backoff away (8 s or more)
      // and the operator's press is what runs it.
      let failing!: Job;
      await waitFor(async () => {
        const job = (await merchantWebhooks.getJobs(["delayed"], 0, 10)).find((j) => (j.data as { providerPaymentId?: string }).providerPaymentId === PI);
        if (job) failing = job;
        return job !== undefined && job.attemptsMade >= 3;
      }, "the delivery retried and failed three times", 30_000);

      // The operator: the root of the admin port leads to the console; search for the order.
      await page.goto(`${ingress.adminUrl}/`);
      expect(new URL(page.url()).pathname).toBe("/console");
      await keep();
      await page.screenshot({ path: resolve(ARTIFACTS, "console-overview.png"), fullPage: true });
      await page.goto(`${ingress.adminUrl}/console/search`);
      await keep();
      await page.screenshot({ path: resolve(ARTIFACTS, "console-search.png"), fullPage: true });
      await page.getByRole("searchbox", { name: "Search" }).fill(PI);
      await page.getByRole("button", { name: "Search" }).click();
      await page.waitForURL(new RegExp(`/console/orders/${ORDER}$`));

      // The order: paid, with both payments.
      await page.getByRole("heading", { name: `Order ${ORDER}` }).waitFor();
      const summary = await page.locator("main .card").first().innerText();
      expect(summary).toMatch(/Status\s+paid/);
      expect(summary).toMatch(/Amount\s+49\.99 USD/);
      expect(summary).toMatch(/Paid\s+49\.99 USD/);
      const payments = await page.locator("table tbody tr").allInnerTexts();
      expect(payments).toHaveLength(2);
      expect(payments.find((r) => r.includes(PAYRAM_REF))).toMatch(/payram[\s\S]*cancelled/);
      expect(payments.find((r) => r.includes(PI))).toMatch(/payske[\s\S]*succeeded[\s\S]*49\.99 USD/);

      // The timeline: three deliveries received and accepted, three ledger changes and events.
      expect(await rows("received").count()).toBe(3);
      expect(await rows("received").filter({ hasText: "accepted" }).count()).toBe(3);
      expect(await rows("received").filter({ hasText: "CANCELLED" }).innerText()).toContain("accepted, 1 duplicate delivery");
      expect(await rows("ledger").count()).toBe(3);
      const events = await rows("event").allInnerTexts();
      expect(events.some((t) => t.includes("payment.pending") && t.includes(PAYRAM_REF))).toBe(true);
      expect(events.some((t) => t.includes("payment.cancelled") && t.includes(PAYRAM_REF))).toBe(true);
      expect(events.some((t) => t.includes("payment.succeeded") && t.includes(PI) && t.includes("49.99 USD"))).toBe(true);
      // Merchant attempts: Payram's two delivered at once, Payske's failing with 500, and its job waiting.
      const attempts = await rows("attempt").allInnerTexts();
      expect(attempts.filter((t) => t.includes("HTTP 204")).length).toBeGreaterThanOrEqual(2);
      expect(attempts.filter((t) => t.includes("HTTP 500") && t.includes(failing.id!)).length).toBeGreaterThanOrEqual(2);
      expect(attempts.some((t) => t.includes("next retry"))).toBe(true);
      const deliveryJob = rows("delivery-job");
      expect(await deliveryJob.count()).toBe(1);
      expect(await deliveryJob.innerText()).toMatch(/delayed/);
      // Oldest first: the Payram deliveries come before Payske's.
      const kinds = await page.locator("ol.timeline > li").evaluateAll((lis) => lis.map((li) => li.textContent ?? ""));
      expect(kinds.findIndex((t) => t.includes("payram webhook"))).toBeLessThan(kinds.findIndex((t) => t.includes("payske webhook")));
      await keep();
      await page.screenshot({ path: resolve(ARTIFACTS, "console-order-failed-delivery.png"), fullPage: true });

      // The merchant recovers; the operator retries the delivery and confirms.
      await deliveryJob.getByRole("link", { name: "Retry now" }).click();
      await page.waitForURL(/\/console\/confirm\?/);
      await keep();
      await page.screenshot({ path: resolve(ARTIFACTS, "console-confirm.png"), fullPage: true });
      const before = merchant.received.length;
      // Up from the moment the browser sends the confirmed POST (not earlier: the job's own
      // next retry, still seconds away, must not be what delivers it).
      const recover = (request: { method(): string; url(): string }) => {
        if (request.method() === "POST" && request.url().endsWith("/console/actions")) merchantUp = true;
      };
      page.on("request", recover);
      await page.getByRole("button", { name: "Confirm: Retry now" }).click();
      await page.waitForURL(new RegExp(`/console/orders/${ORDER}\\?done=promoted$`));
      await page.getByText("the job is waiting for a worker").waitFor();
      page.off("request", recover);
      expect(merchantUp).toBe(true);
      // The press moved the job out of its backoff at once (promote); it was not left to its timer.
      expect(await merchantWebhooks.getJobState(failing.id!)).not.toBe("delayed");

      // The delivery succeeds: the merchant got the event, and the page says so after a reload.
      await waitFor(async () => merchant.received.length > before, "the retried delivery reached the merchant", 10_000);
      await waitFor(async () => {
        await page.reload();
        // The job's state at once; its attempt's note once the worker's index batch is written.
        const ok = (await rows("attempt").allInnerTexts()).some((t) => t.includes(failing.id!) && t.includes("retry job): HTTP 204"));
        return ok && (await rows("delivery-job").innerText()).includes("completed");
      }, "the page shows the delivery completed", 10_000);
      expect(JSON.parse(merchant.received.at(-1)!.body)).toMatchObject({ type: "payment.succeeded", orderId: ORDER, providerPaymentId: PI, amount: 4999 });
      const after = (await rows("attempt").allInnerTexts()).filter((t) => t.includes(failing.id!));
      expect(after.at(-1)).toMatch(/retry job\): HTTP 204/);
      expect(after.slice(0, -1).every((t) => t.includes("HTTP 500"))).toBe(true);
      expect(await rows("delivery-job").getByRole("link", { name: /Retry/ }).count()).toBe(0);
      await keep();
      await page.screenshot({ path: resolve(ARTIFACTS, "console-order.png"), fullPage: true });
      // The README's picture (docs/console-order.png is a copy): the top of the page, modest in size.
      await page.screenshot({ path: resolve(ARTIFACTS, "console-order-readme.png"), clip: { x: 0, y: 0, width: 1100, height: 1250 } });

      // The Payske delivery's job, masked: its data shows where personal data was, not what it was.
      await page.goto(`${ingress.adminUrl}/console/search?q=${encodeURIComponent(PI)}`);
      await rows("received").filter({ hasText: "payske" }).getByRole("link").first().click();
      await page.waitForURL(/\/console\/jobs\/payske\//);
      const job = await page.locator("main").innerText();
      expect(job).toContain('"receipt_email": "[redacted]"');
      expect(job).toContain('"shipping": "[redacted]"');
      await keep();
      await page.screenshot({ path: resolve(ARTIFACTS, "console-job.png"), fullPage: true });

      // On a phone.
      await page.setViewportSize({ width: 390, height: 844 });
      await page.goto(`${ingress.adminUrl}/console/orders/${ORDER}`);
      await keep();
      await page.screenshot({ path: resolve(ARTIFACTS, "console-order-phone.png"), fullPage: true });
    },
    BROWSER_TEST_TIMEOUT_MS,
  );

  it(
    "no page the browser was shown holds a secret or unmasked personal data",
    async () => {
      expect(shown.length).toBeGreaterThanOrEqual(6);
      for (const [url, html] of shown) {
        for (const secret of [ADMIN_TOKEN, PAYRAM_SECRET, PAYSKE_SECRET, MERCHANT_SECRET, MERCHANT_SECRET.slice(6), EMAIL, PHONE, NAME]) {
          expect([url, secret, html.includes(secret)]).toEqual([url, secret, false]);
        }
      }
    },
    BROWSER_TEST_TIMEOUT_MS,
  );
});
