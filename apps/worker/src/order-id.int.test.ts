/**
 * An order id taken from a payload becomes part of Redis keys (`…:ledger:order:{id}:waiting`,
 * `…:jobindex:order:{id}`), so one that is no order id (ORDER_ID_PATTERN) names no order: the
 * payment is recorded, unattached, and no key is made from the value. Real Redis, real queues,
 * the workers' own handlers.
 */
import { Queue } from "bullmq";
import { QUEUES, createJobIndex, createLedger, createLogger, createRedis, type Envelope, type Ledger, type PaymentEvent, type RedisConnection } from "@payhooks/core";
import { removeRedisServer, startRedisServer, type RedisServer } from "@payhooks/testing";
import { createEmitter, type Emitter } from "./emitter";
import type { Job } from "bullmq";
import type { ProviderModule } from "@payhooks/core";
import { PROVIDERS, loadConfig } from "@payhooks/providers";
import { createProviderProcessor } from "./processor";

/** A provider's processor called with an envelope, as a BullMQ job would carry it. */
function handlerFor(module: ProviderModule) {
  const processor = createProviderProcessor(module, { ledger, emitter, config: loadConfig({ ROBOKASSA_ORDER_PARAM: "Shp_order_id", ROBOKASSA_CURRENCY: "RUB" }), clock: Date.now });
  return (e: Envelope) => processor({ data: e } as Job);
}

const RECEIVED_AT = 1_700_000_000_000;
/** a colon would split the key; a brace would change a Cluster slot */
const BAD_ORDER_IDS = ["ord:evil", "{ord}x", "ord 1", "o".repeat(129)];

let redisServer: RedisServer;
let redis: RedisConnection;
let prefix: string;
let ledger: Ledger;
let events: Queue;
let emitter: Emitter;
let testNo = 0;

beforeAll(async () => {
  redisServer = await startRedisServer();
  redis = createRedis(redisServer.url, "worker", "order-id-test");
});

beforeEach(() => {
  prefix = `oid${++testNo}`;
  ledger = createLedger({ redis, prefix, now: () => RECEIVED_AT });
  events = new Queue(QUEUES.paymentEvents, { connection: redis, prefix });
  emitter = createEmitter({ ledger, paymentEvents: events, merchant: null, logger: createLogger({ level: "silent", name: "t" }), jobIndex: createJobIndex({ redis, prefix }) });
});

afterEach(() => events.close());

afterAll(async () => {
  redis.disconnect();
  await removeRedisServer(redisServer);
});

function envelope(provider: "payske" | "robokassa", payload: unknown): Envelope {
  return { provider, deliveryId: "d", receivedAt: RECEIVED_AT, rawBody: JSON.stringify(payload), payload, headers: {} };
}

async function emitted(): Promise<PaymentEvent[]> {
  return (await events.getJobs(["waiting"], 0, -1, true)).map((j) => j.data as PaymentEvent);
}

/** Every key of this test's prefix that holds `text`. */
async function keysHolding(text: string): Promise<string[]> {
  return (await redis.keys(`${prefix}:*`)).filter((k) => k.includes(text));
}

describe.each(BAD_ORDER_IDS)("an order id %j from a payload", (bad) => {
  it("Payske metadata: the payment is recorded without an order", async () => {
    const handle = handlerFor(PROVIDERS.payske);
    const event = {
      id: "evt_bad_order",
      object: "event",
      type: "payment_intent.succeeded",
      created: RECEIVED_AT / 1000,
      livemode: true,
      data: { object: { id: "pi_bad_order", object: "payment_intent", amount: 4999, amount_received: 4999, currency: "usd", metadata: { order_id: bad } } },
    };
    const result = await handle(envelope("payske", event));
    expect(result).toMatchObject({ outcome: "applied", orderId: null });
    expect(await ledger.getPayment("payske", "pi_bad_order")).toMatchObject({ orderId: null, attached: false, facts: { settled: 4999 } });
    expect((await emitted()).map((e) => [e.type, e.orderId])).toEqual([["payment.succeeded", null]]);
    expect(await keysHolding(bad)).toEqual([]);
  });

  it("Payske client_reference_id: the payment is recorded without an order", async () => {
    const handle = handlerFor(PROVIDERS.payske);
    const event = {
      id: "evt_bad_ref",
      object: "event",
      type: "checkout.session.completed",
      created: RECEIVED_AT / 1000,
      livemode: true,
      data: { object: { id: "cs_bad_ref", object: "checkout.session", payment_intent: "pi_bad_ref", payment_status: "paid", amount_total: 4999, currency: "usd", client_reference_id: bad } },
    };
    expect(await handle(envelope("payske", event))).toMatchObject({ outcome: "applied", orderId: null });
    expect(await ledger.getPayment("payske", "pi_bad_ref")).toMatchObject({ orderId: null, attached: false });
    expect(await keysHolding(bad)).toEqual([]);
  });

  it("RoboKassa's Shp order parameter: the payment is recorded without an order", async () => {
    const handle = handlerFor(PROVIDERS.robokassa);
    const result = await handle(envelope("robokassa", { OutSum: "1500.00", InvId: "7001", SignatureValue: "x", Shp_order_id: bad }));
    expect(result).toMatchObject({ outcome: "applied", orderId: null });
    expect(await ledger.getPayment("robokassa", "7001")).toMatchObject({ orderId: null, attached: false, facts: { settled: 150_000 } });
    expect((await emitted()).map((e) => [e.type, e.orderId])).toEqual([["payment.succeeded", null]]);
    expect(await keysHolding(bad)).toEqual([]);
  });
});

it("a valid order id from the same payloads still names its order (the check is not too strict)", async () => {
  const payske = handlerFor(PROVIDERS.payske);
  const robokassa = handlerFor(PROVIDERS.robokassa);
  await ledger.putOrder("ord-ok.1_~", { amount: 4999, currency: "USD" });
  const event = {
    id: "evt_ok",
    object: "event",
    type: "payment_intent.succeeded",
    created: RECEIVED_AT / 1000,
    livemode: true,
    data: { object: { id: "pi_ok", object: "payment_intent", amount: 4999, amount_received: 4999, currency: "usd", metadata: { order_id: "ord-ok.1_~" } } },
  };
  expect(await payske(envelope("payske", event))).toMatchObject({ orderId: "ord-ok.1_~" });
  expect(await ledger.getOrder("ord-ok.1_~")).toMatchObject({ status: "paid" });
  expect(await robokassa(envelope("robokassa", { OutSum: "1500.00", InvId: "7002", SignatureValue: "x", Shp_order_id: "rk-7002" }))).toMatchObject({ orderId: "rk-7002" });
  expect(await ledger.getPayment("robokassa", "7002")).toMatchObject({ orderId: "rk-7002", attached: false });
});
