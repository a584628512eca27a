/** The job index's event-id lookup against a real redis-server: an event's order by its id. */
import { startTestRedis, type TestRedis } from "@payhooks/testing";
import { createJobIndex } from "./job-index";
import type { RedisConnection } from "./redis";

const DAY_MS = 86_400_000;
const T0 = Date.parse("2026-03-01T12:00:00.000Z");
const EVT_NOTE = `evt_${"a".repeat(32)}`;
const EVT_JOB = `evt_${"b".repeat(32)}`;
const EVT_PE = `evt_${"c".repeat(32)}`;

let testRedis: TestRedis;
let redis: RedisConnection;
let n = 0;

beforeAll(async () => {
  testRedis = await startTestRedis();
  redis = testRedis.client("job-index-test");
});
afterAll(async () => {
  await testRedis.remove();
});

it("finds an event's order by its id, from a delivery note or an event job, for 30 days", async () => {
  const prefix = testRedis.prefix(`ji${++n}`);
  let clock = T0;
  const index = createJobIndex({ redis: redis as never, prefix, flushMs: 60_000, now: () => clock });
  index.note("order-7", { kind: "attempt", eventId: EVT_NOTE, attempt: 1, via: "inline", status: 204, durationMs: 3, final: true }, T0);
  index.add("order-8", "merchant-webhooks", EVT_JOB, T0);
  index.add("order-9", "payment-events", EVT_PE, T0);
  index.add("order-10", "payram", `evt_${"d".repeat(32)}`, T0); // a provider job: its id is no PaymentEvent's
  expect(await index.flush()).toBe(true);

  expect(await index.orderOfEvent(EVT_NOTE)).toBe("order-7");
  expect(await index.orderOfEvent(EVT_JOB)).toBe("order-8");
  expect(await index.orderOfEvent(EVT_PE)).toBe("order-9");
  expect(await index.orderOfEvent(`evt_${"d".repeat(32)}`)).toBeNull();
  expect(await index.orderOfEvent(`evt_${"e".repeat(32)}`)).toBeNull();
  expect(await index.orderOfEvent("not-an-event")).toBeNull();
  // One hash per day of writing, with the index's 30-day retention.
  const key = `${prefix}:jobindex:events:2026-03-01`;
  expect(await redis.hgetall(key)).toEqual({ [EVT_NOTE]: "order-7", [EVT_JOB]: "order-8", [EVT_PE]: "order-9" });
  expect(await redis.ttl(key)).toBeGreaterThan(29 * 86_400);

  // A lookup 30 days later still reads that day's hash; 31 days later it no longer does.
  clock = T0 + 30 * DAY_MS;
  expect(await index.orderOfEvent(EVT_JOB)).toBe("order-8");
  clock = T0 + 31 * DAY_MS;
  expect(await index.orderOfEvent(EVT_JOB)).toBeNull();
});
