/**
 * The request–reply lane (Payme, Click) never makes a change whose answer can no longer reach
 * the caller: a call decided past `replyBy - lateMargin` leaves the ledger as it was and returns
 * `{late: true}` (the ingress has answered "unavailable", and the provider's retry must find the
 * ledger untouched, not a repeat it was never told about). Real Redis, the real ledger, the real
 * Click module and the generic processor; only the wall clock is injected.
 */
import type { Job } from "bullmq";
import { createLedger, createLogger, createRedis, type Envelope, type Ledger, type RedisConnection } from "@payhooks/core";
import { PROVIDERS, loadConfig } from "@payhooks/providers";
import { removeRedisServer, startRedisServer, type RedisServer } from "@payhooks/testing";
import { createEmitter } from "./emitter";
import { createProviderProcessor, lateMargin } from "./processor";

const NOW = 1_800_000_000_000;
const WAIT_MS = 5_000;

let redisServer: RedisServer;
let connection: RedisConnection;
let ledger: Ledger;
let testNo = 0;

beforeAll(async () => {
  redisServer = await startRedisServer();
  connection = createRedis(redisServer.url, "worker", "request-reply-test");
});

afterAll(async () => {
  connection.disconnect();
  await removeRedisServer(redisServer);
});

beforeEach(() => {
  ledger = createLedger({ redis: connection, prefix: `rr${++testNo}`, now: () => NOW });
});

/** A Prepare for `orderId` as the ingress queues it, received at NOW and awaited WAIT_MS. */
function prepare(orderId: string): Envelope {
  return {
    provider: "click",
    deliveryId: `click-prepare-${testNo}`,
    receivedAt: NOW,
    replyBy: NOW + WAIT_MS,
    rawBody: "",
    headers: {},
    livemode: true,
    payload: {
      action: 0,
      click_trans_id: "2245678901",
      service_id: "12345",
      click_paydoc_id: "1107291",
      merchant_trans_id: orderId,
      merchant_prepare_id: null,
      amount: "50000.00",
      error: 0,
      error_note: "Success",
      sign_time: "2026-11-30 12:00:00",
      proposed_prepare_id: 7,
    },
  };
}

/** The Click processor with the wall clock at `wall`. */
function clickAt(wall: number) {
  const emitter = createEmitter({ ledger, paymentEvents: null, merchant: null, logger: createLogger({ level: "silent", name: "t" }) });
  const config = loadConfig({ CLICK_SERVICE_ID: "12345", CLICK_SECRET_KEY: "k" });
  const processor = createProviderProcessor(PROVIDERS.click, { ledger, emitter, config, clock: () => NOW, wallClock: () => wall });
  return (envelope: Envelope) => processor({ data: envelope } as Job);
}

it("a call decided past replyBy minus the margin changes nothing and is answered late", async () => {
  await ledger.putOrder("o-late", { amount: 5_000_000, currency: "UZS" });
  const margin = lateMargin(WAIT_MS);
  expect(margin).toBe(500);
  // Before replyBy (so the early check lets it in) but within the margin: too late to change.
  expect(await clickAt(NOW + WAIT_MS - margin + 1)(prepare("o-late"))).toEqual({ late: true });
  expect(await ledger.getPayment("click", "2245678901")).toBeNull();
  expect(await ledger.getOrder("o-late")).toMatchObject({ status: "awaiting_payment" });
});

it("the same call in time reserves the order and is answered", async () => {
  await ledger.putOrder("o-time", { amount: 5_000_000, currency: "UZS" });
  const result = await clickAt(NOW + WAIT_MS - lateMargin(WAIT_MS) - 1)(prepare("o-time"));
  expect(result).toMatchObject({ outcome: "applied", reply: { error: 0, merchant_prepare_id: 7 } });
  expect(await ledger.getPayment("click", "2245678901")).toMatchObject({ providerStatus: "prepared" });
  expect(await ledger.getOrder("o-time")).toMatchObject({ status: "reserved" });
});

it("a call picked up after replyBy is not even read", async () => {
  await ledger.putOrder("o-after", { amount: 5_000_000, currency: "UZS" });
  expect(await clickAt(NOW + WAIT_MS + 1)(prepare("o-after"))).toEqual({ late: true });
  expect(await ledger.getPayment("click", "2245678901")).toBeNull();
});

it("the margin is a fifth of the wait, at most 500 ms", () => {
  expect([lateMargin(100), lateMargin(1_000), lateMargin(2_500), lateMargin(60_000), lateMargin(-5)]).toEqual([20, 200, 500, 500, 0]);
});
