/**
 * Soak: thousands of orders paid through the ledger API (a fake provider), their events sent,
 * then the retention compaction run with the clock moved past LEDGER_RETENTION_DAYS. What is
 * left is exactly the tombstones (per order: its hash, its payment's hash, the reference claim),
 * and Redis's memory falls back to what they take. Figures are printed.
 */
import { startTestRedis, type TestRedis } from "@payhooks/testing";
import { createJobIndex } from "./job-index";
import { createLedger, type PaymentDecision } from "./ledger";
import type { PaymentFacts } from "./order-model";
import type { RedisConnection } from "./redis";

const N = 2_000;
const DAY_MS = 86_400_000;
const RETENTION_MS = 400 * DAY_MS;
const T0 = 1_800_000_000_000;

let testRedis: TestRedis;
let conn: RedisConnection;

beforeAll(async () => {
  testRedis = await startTestRedis("single"); // DBSIZE and INFO memory are per server
  conn = testRedis.client("ledger-soak");
});

afterAll(async () => {
  await testRedis.remove();
});

async function figures(): Promise<{ keys: number; usedMemory: number }> {
  const info = await conn.info("memory");
  return { keys: await conn.dbsize(), usedMemory: Number(/used_memory:(\d+)/.exec(info)![1]) };
}

/** A payment that goes pending, then is paid; a redelivery of either changes nothing. */
function step(status: "pending" | "succeeded", amount: number, at: number) {
  const f: PaymentFacts = { status, currency: "USD", requested: amount, settled: status === "succeeded" ? amount : 0, refunded: 0, livemode: true };
  return ({ payment }: { payment: { facts: PaymentFacts } | null }): PaymentDecision =>
    payment && (payment.facts.status === status || payment.facts.status === "succeeded")
      ? { kind: "ignored", reason: "nothing new" }
      : {
          kind: "applied",
          payment: { facts: f, providerStatus: status.toUpperCase(), at: new Date(at).toISOString(), state: { seen: [`n-${status}`] } },
          ...(status === "pending" ? { index: { name: "statement", score: at } } : {}),
          events: [{ type: `payment.${status}`, amount, currency: "USD", occurredAt: new Date(at).toISOString(), data: { status } }],
        };
}

it(`${N} paid orders, compacted past the retention, leave exactly their tombstones`, async () => {
  let clock = T0;
  const prefix = testRedis.prefix("soak");
  const ledger = createLedger({ redis: conn, prefix, now: () => clock });
  const jobIndex = createJobIndex({ redis: conn, prefix });
  const items = Array.from({ length: 8 }, (_, i) => ({ sku: `SKU-${1000 + i}`, name: "Cotton T-shirt, navy, size M", qty: 1, price: 1999 }));
  const empty = await figures();

  for (let start = 0; start < N; start += 100) {
    await Promise.all(
      Array.from({ length: 100 }, async (_, j) => {
        const i = start + j;
        const orderId = `order-${i}`;
        const ref = `pay-${i}`;
        await ledger.putOrder(orderId, { amount: 1999 * 8, currency: "USD", items, references: { payram: ref } });
        for (const status of ["pending", "succeeded"] as const) {
          const applied = await ledger.applyPayment({ provider: "payram", providerPaymentId: ref, decide: step(status, 1999 * 8, clock) });
          if (applied.kind !== "applied") throw new Error(`${ref} ${status} not applied`);
          for (const e of applied.events) {
            // what the worker's emitter does: index the event job by order, then clear the outbox
            jobIndex.add(orderId, "merchant-webhooks", e.id, clock);
            await ledger.markEmitted(e);
          }
        }
      }),
    );
    clock += 60_000;
  }
  expect(await jobIndex.flush()).toBe(true);
  expect(await ledger.outboxEvents()).toEqual([]);
  const live = await figures();

  clock += RETENTION_MS + DAY_MS;
  expect(await ledger.compact(RETENTION_MS)).toEqual({ payments: N, orders: N, left: 0, indexEntries: N });
  const compacted = await figures();

  const per = (f: { keys: number; usedMemory: number }) => ({
    keys: (f.keys - empty.keys) / N,
    bytes: Math.round((f.usedMemory - empty.usedMemory) / N),
  });
  console.log(
    [
      `soak: ${N} paid orders`,
      `empty Redis: ${empty.keys} keys, used_memory ${empty.usedMemory}`,
      `after payments, events sent: ${live.keys} keys, used_memory ${live.usedMemory} (per order: ${per(live).keys} keys, ${per(live).bytes} bytes)`,
      `after compaction: ${compacted.keys} keys, used_memory ${compacted.usedMemory} (per order: ${per(compacted).keys} keys, ${per(compacted).bytes} bytes)`,
    ].join("\n"),
  );

  // The job index's event-id hashes (one per day of writing, all events of the day in it, kept
  // 30 days by their TTL, not by compaction): 1 here, 2 should the run cross midnight UTC.
  const eventHashes = (await conn.keys(`${prefix}:jobindex:events:*`)).length;
  expect([1, 2]).toContain(eventHashes);
  // Live: per order its hash, payments set, job index, payment hash, reference; then the
  // activity zset, the statement index and the index-name set.
  expect(live.keys - empty.keys).toBe(5 * N + 3 + eventHashes);
  // Compacted: the tombstones (order hash, payment hash, reference) and the index-name set.
  expect(compacted.keys - empty.keys).toBe(3 * N + 1 + eventHashes);
  // Memory: the live-data baseline is what the remaining keys take themselves (MEMORY USAGE of
  // each); used_memory comes back to it within a generous margin (the keyspace's own tables),
  // well under the figure before compaction.
  const remaining: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await conn.scan(cursor, "COUNT", 1000);
    cursor = next;
    remaining.push(...batch);
  } while (cursor !== "0");
  const pipeline = conn.pipeline();
  for (const key of remaining) pipeline.memory("USAGE", key, "SAMPLES", "0");
  const baseline = ((await pipeline.exec()) ?? []).reduce((sum, [err, n]) => sum + (err ? Infinity : Number(n)), 0);
  console.log(`tombstones' own size (sum of MEMORY USAGE): ${baseline} bytes, ${Math.round(baseline / N)} per order`);
  expect(compacted.usedMemory - empty.usedMemory).toBeLessThan(baseline * 1.5 + 256 * 1024);
  expect(compacted.usedMemory - empty.usedMemory).toBeLessThan(0.7 * (live.usedMemory - empty.usedMemory));

  // Idempotency kept: every redelivery is refused and no order changes.
  for (const i of [0, 1, N - 1]) {
    const replay = await ledger.applyPayment({ provider: "payram", providerPaymentId: `pay-${i}`, decide: step("succeeded", 1999 * 8, T0) });
    expect(replay.kind).toBe("ignored");
    expect(await ledger.getOrder(`order-${i}`)).toMatchObject({ status: "paid", paidAmount: 1999 * 8, items: [] });
  }
}, 120_000);
