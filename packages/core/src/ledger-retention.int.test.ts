import { startTestRedis, type TestRedis } from "@payhooks/testing";
import { createLedger, type Ledger, type PaymentDecision } from "./ledger";
import type { PaymentFacts } from "./order-model";
import type { RedisConnection } from "./redis";

// A fixed clock the tests move by hand (ms).
const T0 = 1_800_000_000_000;

let testRedis: TestRedis;
let conn: RedisConnection;
let testNo = 0;
let prefix: string;
let clock: number;
let ledger: Ledger;

beforeAll(async () => {
  testRedis = await startTestRedis();
  conn = testRedis.client("ledger-retention-test");
});

afterAll(async () => {
  await testRedis.remove();
});

beforeEach(() => {
  prefix = testRedis.prefix(`lr${++testNo}`); // a fresh key space per test
  clock = T0;
  ledger = createLedger({ redis: conn, prefix, now: () => clock });
});

const succeeded: PaymentFacts = { status: "succeeded", currency: "USD", requested: 4999, settled: 4999, refunded: 0, livemode: true };

/** A provider stand-in that moves the payment to `f` once, reported by one event. */
const moveTo =
  (f: PaymentFacts, at: string) =>
  (): PaymentDecision => ({
    kind: "applied",
    payment: { facts: f, providerStatus: f.status, at, state: { seen: [`evt-${f.status}`] } },
    events: [{ type: "payment.succeeded", amount: f.settled, currency: f.currency, occurredAt: at, data: {} }],
  });

/** Every ledger key of this test's prefix, without it, sorted. */
async function ledgerKeys(): Promise<string[]> {
  const P = `${prefix}:ledger:`;
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await conn.scan(cursor, "MATCH", `${P}*`, "COUNT", 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== "0");
  return keys.map((key) => key.slice(P.length)).sort();
}

describe("event bodies", () => {
  it("markEmitted removes an event's body with its outbox entries; the other events stay pending", async () => {
    await ledger.putOrder("o-1", { amount: 4999, currency: "USD" });
    const first = await ledger.applyPayment({ provider: "payske", providerPaymentId: "pi_1", orderId: "o-1", decide: moveTo(succeeded, new Date(T0).toISOString()) });
    const second = await ledger.applyPayment({
      provider: "payske",
      providerPaymentId: "pi_1",
      orderId: "o-1",
      decide: moveTo({ ...succeeded, status: "refunded", refunded: 4999 }, new Date(T0 + 1).toISOString()),
    });
    if (first.kind !== "applied" || second.kind !== "applied") throw new Error("both notifications change the payment");
    const [a] = first.events;
    const [b] = second.events;
    expect(await ledgerKeys()).toEqual(
      [`event:${a!.id}`, `event:${b!.id}`, "order:o-1", "order:o-1:payments", "outbox", "payment:payske:pi_1", "payment:payske:pi_1:outbox"].sort(),
    );

    await ledger.markEmitted(a!);
    expect(await ledgerKeys()).toEqual([`event:${b!.id}`, "order:o-1", "order:o-1:payments", "outbox", "payment:payske:pi_1", "payment:payske:pi_1:outbox"].sort());
    expect((await ledger.pendingEvents("payske", "pi_1")).map((e) => e.id)).toEqual([b!.id]);

    await ledger.markEmitted(b!);
    // What is left is the payment and its order: no event body, no outbox.
    expect(await ledgerKeys()).toEqual(["order:o-1", "order:o-1:payments", "payment:payske:pi_1"]);
    expect(await ledger.pendingEvents("payske", "pi_1")).toEqual([]);
    expect(await ledger.outboxEvents()).toEqual([]);
  });
});
