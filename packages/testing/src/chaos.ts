/**
 * Signed provider traffic and ledger audits for the chaos and load tests: many orders, each paid
 * in full by one notification, sent over HTTP to real ingress processes, then checked payment by
 * payment against the ledger and the payment-events queue.
 */
import { Queue } from "bullmq";
import {
  PROVIDER_IDS,
  PaymentEventSchema,
  QUEUES,
  createLedger,
  createRedis,
  currencyExponent,
  formatMinorUnits,
  type OrderInput,
  type PaymentEvent,
  type ProviderId,
  type Redis,
} from "@payhooks/core";
import { parsePayramNotification, payramJobId, signForTest as signPayram } from "@payhooks/payram";
import { parsePayskeEvent, payskeJobId, signForTest as signPayske } from "@payhooks/payske";
import { readNotice, robokassaJobId, signForTest as signRobokassa } from "@payhooks/robokassa";
import type { NodeProcess } from "./processes";

const PAYRAM_SECRET = "chaos-payram-project-key";
const PAYSKE_SECRET = "whsec_chaosPayskeSecret0123456789abcdef";
const ROBOKASSA_PASSWORD1 = "chaos-rk-pass-1";
const ROBOKASSA_PASSWORD2 = "chaos-rk-pass-2";
export const CHAOS_PAYME_KEY = "chaos-payme-key-0123456789abcdefghij";

/** Enables every provider in an ingress or worker with the secrets this module signs with. */
export const CHAOS_PROVIDER_ENV: Readonly<Record<string, string>> = {
  PAYRAM_WEBHOOK_SECRET: PAYRAM_SECRET,
  PAYSKE_WEBHOOK_SECRET: PAYSKE_SECRET,
  ROBOKASSA_PASSWORD1,
  ROBOKASSA_PASSWORD2,
  PAYME_KEY: CHAOS_PAYME_KEY,
};

export const ASYNC_PROVIDERS = ["payram", "payske", "robokassa"] as const;
export type AsyncProvider = (typeof ASYNC_PROVIDERS)[number];

/** One provider notification that pays one order in full. */
export type PaymentNotification = {
  provider: AsyncProvider;
  orderId: string;
  /** the ledger's providerPaymentId */
  paymentId: string;
  /** the BullMQ job id the ingress gives it */
  jobId: string;
  order: OrderInput;
  /** what it must leave in the ledger: one change to its payment, on its order */
  expected: ExpectedPayment;
  /** POSTs it, signed afresh, to an ingress at `baseUrl`; resolves with the HTTP status */
  send(baseUrl: string): Promise<number>;
};

async function post(url: string, headers: Record<string, string>, body: string): Promise<number> {
  const res = await fetch(url, { method: "POST", headers, body });
  await res.arrayBuffer();
  return res.status;
}

/**
 * The n-th notification of a run (`run` keeps runs apart): provider n mod 3 unless named, an
 * order of its own of 10.00 + n/100 in the provider's currency, named the provider's way
 * (Payram by the order's reference, Payske by metadata, RoboKassa by InvId = order id).
 */
export function paymentNotification(run: string, n: number, provider: AsyncProvider = ASYNC_PROVIDERS[n % 3]!): PaymentNotification {
  const built = buildNotification(run, n, provider);
  return { ...built, expected: { provider, paymentId: built.paymentId, orderId: built.orderId, changes: 1 } };
}

function buildNotification(run: string, n: number, provider: AsyncProvider): Omit<PaymentNotification, "expected"> {
  const amount = 1_000 + n;
  switch (provider) {
    case "payram": {
      const ref = `${run}-pr-${n}`;
      const decimal = formatMinorUnits(amount, currencyExponent("USD"));
      const body = JSON.stringify({ reference_id: ref, invoice_id: `inv-${n}`, status: "FILLED", amount: decimal, filled_amount: decimal, currency: "USD" });
      return {
        provider,
        orderId: `${run}-order-pr-${n}`,
        paymentId: ref,
        jobId: payramJobId(parsePayramNotification(JSON.parse(body))),
        order: { amount, currency: "USD", references: { payram: ref } },
        send: (url) => post(`${url}/webhooks/payram`, signPayram(body, PAYRAM_SECRET, "signature"), body),
      };
    }
    case "payske": {
      const orderId = `${run}-order-ps-${n}`;
      const pi = `pi_${run}_${n}`;
      const created = Math.floor(Date.now() / 1000);
      const event = {
        id: `evt_${run}_${n}`,
        object: "event",
        api_version: "2024-06-20",
        created,
        livemode: true,
        pending_webhooks: 1,
        request: { id: null, idempotency_key: null },
        type: "payment_intent.succeeded",
        data: { object: { id: pi, object: "payment_intent", amount, amount_received: amount, currency: "usd", status: "succeeded", metadata: { order_id: orderId } } },
      };
      const body = JSON.stringify(event);
      return {
        provider,
        orderId,
        paymentId: pi,
        jobId: payskeJobId(parsePayskeEvent(event)),
        order: { amount, currency: "USD" },
        send: (url) =>
          post(
            `${url}/webhooks/payske`,
            { "content-type": "application/json; charset=utf-8", "payske-signature": signPayske(body, PAYSKE_SECRET, Math.floor(Date.now() / 1000)) },
            body,
          ),
      };
    }
    case "robokassa": {
      const invId = String(100_000 + n);
      const params = signRobokassa({ OutSum: formatMinorUnits(amount, currencyExponent("RUB")), InvId: invId, Shp_run: run }, ROBOKASSA_PASSWORD2);
      const read = readNotice(params, null);
      if (!read.ok) throw new Error(`built a RoboKassa notice it cannot read: ${read.reason}`);
      return {
        provider,
        orderId: invId,
        paymentId: invId,
        jobId: robokassaJobId(read.notice),
        order: { amount, currency: "RUB" },
        send: (url) => post(`${url}/webhooks/robokassa/result`, { "content-type": "application/x-www-form-urlencoded" }, new URLSearchParams(params).toString()),
      };
    }
  }
}

/** The test's own view of a pipeline's Redis: its ledger, provider queues and payment-events queue. */
export function openPipelineStore(redisUrl: string, prefix: string) {
  const redis = createRedis(redisUrl, "worker", `${prefix}-test`) as Redis;
  const ledger = createLedger({ redis, prefix });
  const queues = Object.fromEntries(PROVIDER_IDS.map((p) => [p, new Queue(QUEUES[p], { connection: redis, prefix })])) as Record<ProviderId, Queue>;
  const paymentEvents = new Queue(QUEUES.paymentEvents, { connection: redis, prefix });
  // A test that kills Redis sees the outage through its assertions, not as unhandled errors.
  redis.on("error", () => undefined);
  for (const queue of [...Object.values(queues), paymentEvents]) queue.on("error", () => undefined);
  return {
    redis,
    prefix,
    ledger,
    queues,
    paymentEvents,
    /** the queues of the given providers */
    queuesOf: (providers: readonly ProviderId[]) => providers.map((p) => queues[p]),
    async close(): Promise<void> {
      await Promise.all([...Object.values(queues), paymentEvents].map((q) => q.close()));
      redis.disconnect();
    },
  };
}
export type PipelineStore = ReturnType<typeof openPipelineStore>;

/**
 * The child processes a test file starts, recorded as each comes up, so that `afterAll` stops
 * every one of them even when another failed to start (a bare Promise.all would leak the rest).
 */
export function processGroup() {
  const running: NodeProcess[] = [];
  return {
    add<T extends NodeProcess | { proc: NodeProcess }>(starting: Promise<T>): Promise<T> {
      return starting.then((p) => {
        running.push("proc" in p ? p.proc : p);
        return p;
      });
    },
    stopAll: () => Promise.all(running.map((p) => p.stop())),
  };
}

/** Runs `fn` over `items`, at most `limit` at once; resolves with the results in item order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

/** Every PaymentEvent job in the queue, by `provider/providerPaymentId`. */
async function paymentEventsByPayment(paymentEvents: Queue): Promise<Map<string, PaymentEvent[]>> {
  const jobs = await paymentEvents.getJobs(["waiting", "active", "completed", "delayed", "failed"], 0, -1, true);
  const byPayment = new Map<string, PaymentEvent[]>();
  for (const job of jobs) {
    const event = PaymentEventSchema.parse(job.data);
    const key = `${event.provider}/${event.providerPaymentId}`;
    byPayment.set(key, [...(byPayment.get(key) ?? []), event]);
  }
  return byPayment;
}

/** A payment the test expects in the ledger: the only payment of its order, paying it in full. */
export type ExpectedPayment = {
  provider: ProviderId;
  paymentId: string;
  orderId: string;
  /** how many changes the provider's deliveries make to the payment (1 per accepted notification) */
  changes: number;
};

/**
 * Checks each expected payment against the ledger and the payment-events queue; resolves with
 * one line per problem (none when all is well), so a failure names every broken payment:
 * - applied exactly `changes` times: the payment hash's version (bumped by each applied change)
 *   is `changes`, its order's is 1 + `changes` (the PUT, then this payment only);
 * - nothing half-applied: the payment is listed on its order, the order's paidAmount is the sum
 *   of its payments' contributions and equals the amount, and the order is `paid`;
 * - emitted exactly once: one PaymentEvent per change in the queue, with distinct ids, and none
 *   left in the ledger's outbox (written with the change but never enqueued);
 * - nothing else: no other payment record in the ledger, no PaymentEvent of another payment.
 */
export async function auditPayments(store: PipelineStore, expected: readonly ExpectedPayment[]): Promise<string[]> {
  const { ledger, paymentEvents } = store;
  const problems: string[] = [];
  // Every payment record in the ledger is one the test expects (KEYS: a private test Redis only).
  const recorded = (await store.redis.keys(`${store.prefix}:ledger:payment:*`)).filter((k) => !k.endsWith(":outbox"));
  if (recorded.length !== expected.length) problems.push(`${recorded.length} payment records in the ledger, expected ${expected.length}`);
  const events = await paymentEventsByPayment(paymentEvents);
  for (const e of expected) {
    const name = `${e.provider}/${e.paymentId}`;
    const [payment, order, view, pending] = await Promise.all([
      ledger.getPayment(e.provider, e.paymentId),
      ledger.getOrderRecord(e.orderId),
      ledger.getOrder(e.orderId),
      ledger.pendingEvents(e.provider, e.paymentId),
    ]);
    if (!payment || !order || !view) {
      problems.push(`${name}: ${payment ? "" : "no payment record "}${order ? "" : `no order ${e.orderId}`}`.trim());
      continue;
    }
    if (payment.v !== String(e.changes)) problems.push(`${name}: payment changed ${payment.v} times, expected ${e.changes}`);
    if (order.v !== String(1 + e.changes)) problems.push(`${name}: order ${e.orderId} changed ${Number(order.v) - 1} times, expected ${e.changes}`);
    if (payment.orderId !== e.orderId) problems.push(`${name}: matched to order ${payment.orderId}, expected ${e.orderId}`);
    const listed = view.payments.map((p) => `${p.provider}/${p.providerPaymentId}`);
    if (listed.join() !== name) problems.push(`${name}: order ${e.orderId} lists payments [${listed.join(", ")}]`);
    const counted = view.payments.find((p) => `${p.provider}/${p.providerPaymentId}` === name)?.counted ?? 0;
    if (order.paidAmount !== counted) problems.push(`${name}: order paidAmount ${order.paidAmount} ≠ what the payment counts, ${counted}`);
    if (order.paidAmount !== order.amount || order.status !== "paid") {
      problems.push(`${name}: order ${e.orderId} is ${order.status} with ${order.paidAmount} of ${order.amount}`);
    }
    if (pending.length > 0) problems.push(`${name}: ${pending.length} event(s) left in the outbox`);
    const emitted = events.get(name) ?? [];
    events.delete(name);
    if (emitted.length !== e.changes || new Set(emitted.map((x) => x.id)).size !== emitted.length) {
      problems.push(`${name}: ${emitted.length} PaymentEvent(s) [${emitted.map((x) => x.type).join(", ")}], expected ${e.changes}`);
    }
  }
  for (const [name, stray] of events) problems.push(`${name}: ${stray.length} PaymentEvent(s) of a payment not expected`);
  return problems;
}
