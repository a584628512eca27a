/**
 * The order model, model-based and property-based (fast-check), against REAL processes over
 * loopback: one private Redis, one ingress child process (webhooks + admin API) and one worker
 * child process, joined by a second worker half-way through every other run.
 *
 * Each run generates a few orders (USD, RUB, UZS; live or test; with or without a Payram
 * reference; some created only after their payments, some PUT twice) and payments from all four
 * providers, each with a scenario: paid in full, a smaller amount, another currency (Payske EUR,
 * Payram BTC; Payram USDC counts at face value), the other mode (Payske's test secret or
 * `livemode: false`, RoboKassa IsTest=1, Payme's sandbox key), partial fills then FILLED or
 * OVER_FILLED, refunds (partial, full, two refunds in either order), a refund before the success,
 * a failure before the success, a dispute after or before the success, a late Payram OPEN,
 * Payme create/perform/cancel/refund as Payme's replies allow, duplicate deliveries sent at once, and
 * payments naming an order that is never created. The commands — "PUT order i", "deliver step k
 * of payment j" — are interleaved at random (each actor keeps its own order) and sent in small
 * concurrent batches.
 *
 * After quiescence (provider queues drained, ledger outbox empty) every order and payment is
 * checked against the test's OWN oracle, computed from what was sent (Payme: from its replies):
 *   (a) paidAmount = sum of what each attached payment may count; each payment's `counted`;
 *   (b) status (paid exactly at the amount; the full table of README "How an order gets paid");
 *   (c) every payment is listed on at most one order, once; an order lists exactly its payments;
 *   (d) every payment naming an existing order is attached to it; one naming none waits;
 *   (e) one PaymentEvent per ledger change: events in `payment-events` = the payment hash's v,
 *       distinct ids, nothing left in any outbox;
 *   (f) money made for another amount, currency or mode never counts (view, and every event's
 *       `order.counted`), with the right mismatch reason; Payme refuses such a transaction.
 *
 * Reproducible: fixed seed (ORDER_MODEL_SEED, ORDER_MODEL_RUNS override; no shrinking, every
 * run is real traffic). Ids are fresh per run. Bugs this test found, each fixed: a Payram
 * payment's first notification racing the PUT that registers its reference was left unattached;
 * a Payske refund without order metadata, then the success naming an order not created yet, was
 * never attached when the order came.
 */
import { createHash } from "node:crypto";
import { Queue } from "bullmq";
import fc from "fast-check";
import { PaymentEventSchema, QUEUES, formatMinorUnits, type OrderView, type PaymentEvent } from "@payhooks/core";
import { parsePayramNotification, payramJobId, signForTest as signPayram } from "@payhooks/payram";
import { parsePayskeEvent, payskeJobId, signForTest as signPayske } from "@payhooks/payske";
import { readNotice, robokassaJobId, signForTest as signRobokassa } from "@payhooks/robokassa";
import {
  adminClient,
  paymeCall,
  processGroup,
  startIngress,
  startTestRedis,
  startWorker,
  waitFor,
  type NodeProcess,
  type PaymeResponse,
  type TestRedis,
} from "@payhooks/testing";

const SEED = Number(process.env["ORDER_MODEL_SEED"] ?? 20_261_130);
const RUNS = Number(process.env["ORDER_MODEL_RUNS"] ?? 10);
const PREFIX = "opm";

const ADMIN_TOKEN = "opm-admin-token-0123456789";
const PAYSKE_SECRET = "whsec_opmLiveSecret0123456789abcdefgh";
const PAYSKE_TEST_SECRET = "whsec_opmTestSecret9876543210zyxwvuts";
const RK_PASSWORD1 = "opm-rk-live-1";
const RK_PASSWORD2 = "opm-rk-live-2";
const RK_TEST_PASSWORD1 = "opm-rk-test-1";
const RK_TEST_PASSWORD2 = "opm-rk-test-2";
const PAYME_KEY = "opm-payme-live-key-0123456789abcdef";
const PAYME_TEST_KEY = "opm-payme-sandbox-key-0123456789ab";
const PAYRAM_SECRET = "opm-payram-project-key";

jest.setTimeout(170_000);

// ---------------------------------------------------------------------------------------------
// Processes

let redis: TestRedis;
let prefix: string;
let ingress: Awaited<ReturnType<typeof startIngress>>;
let env: Record<string, string>;
let queues: Record<"payram" | "payske" | "robokassa" | "payme", Queue>;
let eventsQueue: Queue;
let db: ReturnType<TestRedis["client"]>;
const processes = processGroup();
const summaries: string[] = [];
/** what all runs together reached: order statuses, mismatch reasons, scenarios, Payme answers */
const reach = new Map<string, number>();
const saw = (what: string) => reach.set(what, (reach.get(what) ?? 0) + 1);

beforeAll(async () => {
  redis = await startTestRedis("single");
  prefix = redis.prefix(PREFIX);
  env = {
    REDIS_URL: redis.url,
    QUEUE_PREFIX: PREFIX,
    ADMIN_TOKEN,
    PAYSKE_WEBHOOK_SECRET: PAYSKE_SECRET,
    PAYSKE_TEST_WEBHOOK_SECRET: PAYSKE_TEST_SECRET,
    ROBOKASSA_PASSWORD1: RK_PASSWORD1,
    ROBOKASSA_PASSWORD2: RK_PASSWORD2,
    ROBOKASSA_TEST_PASSWORD1: RK_TEST_PASSWORD1,
    ROBOKASSA_TEST_PASSWORD2: RK_TEST_PASSWORD2,
    // InvId is the invoice; the order is named by a Shp parameter, so one order can get several invoices.
    ROBOKASSA_ORDER_PARAM: "Shp_order",
    PAYME_KEY,
    PAYME_TEST_KEY,
    PAYME_ALLOW_TEST_KEY: "true",
    PAYRAM_WEBHOOK_SECRET: PAYRAM_SECRET,
  };
  [ingress] = await Promise.all([processes.add(startIngress(env)), processes.add(startWorker(env))]);
  db = redis.client("opm-test");
  const queue = (name: string) => new Queue(name, { connection: db, prefix });
  queues = { payram: queue(QUEUES.payram), payske: queue(QUEUES.payske), robokassa: queue(QUEUES.robokassa), payme: queue(QUEUES.payme) };
  eventsQueue = queue(QUEUES.paymentEvents);
}, 40_000);

afterAll(async () => {
  if (summaries.length > 0) {
    const reached = [...reach].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k} ${n}`);
    console.info(`order model, seed ${SEED}:\n${summaries.join("\n")}\nreach: ${reached.join(", ")}`);
  }
  await Promise.all([...Object.values(queues ?? {}), eventsQueue].filter(Boolean).map((q) => q.close()));
  await processes.stopAll();
  await redis?.remove();
});

// ---------------------------------------------------------------------------------------------
// What is generated

type Cur = "USD" | "RUB" | "UZS";
type OrderSpec = {
  currency: Cur;
  amountSeed: number;
  live: boolean;
  /** send `livemode` in the PUT (a live order may leave it out) */
  sendLivemode: boolean;
  refundable: boolean;
  /** PUT a second time with the same terms (200), with or without `livemode` */
  rePut: { sendLivemode: boolean } | null;
  /** created only after every notification that names it was sent */
  late: boolean;
};
/** which order a payment is for: one of the run's (preferring the provider's currency), or one never created */
type Target = { ghost: boolean; natural: boolean; pick: number };
type ModeKind = "same" | "opposite";
type AmountKind = "full" | "smaller";

const PAYSKE_FLOWS = ["succeeded", "refund", "refund-first", "failed-first", "two-refunds", "two-refunds-reversed", "dispute", "dispute-first"] as const;
const PAYRAM_FLOWS = ["filled", "open-filled", "filled-late-open", "partial-filled", "partial-over", "partial", "open", "partial-cancelled"] as const;
const PAYME_FLOWS = ["create", "create-perform", "check-create-perform", "create-cancel", "create-perform-refund"] as const;

type PayskeSpec = {
  provider: "payske";
  target: Target;
  mode: ModeKind;
  /** how a test payment is test: the test secret (body says `bodyLive`), or the live secret with livemode false */
  testVia: "test-secret" | "body";
  bodyLive: boolean;
  amount: AmountKind;
  currency: "order" | "EUR";
  flow: (typeof PAYSKE_FLOWS)[number];
  refund: "partial" | "full";
  /** the charge.refunded carries no order metadata */
  refundWithoutOrder: boolean;
  dup: number | null;
  /** send the next step as soon as the previous one is acknowledged, not once it is processed */
  pipelined: boolean;
  cut: number;
};
type PayramSpec = {
  provider: "payram";
  target: Target;
  /** the order registers this payment's reference (else the reference is nobody's) */
  named: boolean;
  currency: "USD" | "USDC" | "BTC";
  amount: AmountKind;
  flow: (typeof PAYRAM_FLOWS)[number];
  dup: number | null;
  pipelined: boolean;
  cut: number;
};
type RobokassaSpec = { provider: "robokassa"; target: Target; mode: ModeKind; amount: AmountKind; sixDecimals: boolean; dup: boolean; cut: number };
type PaymeSpec = {
  provider: "payme";
  target: Target;
  mode: ModeKind;
  amount: AmountKind;
  flow: (typeof PAYME_FLOWS)[number];
  /** Payme's first call waits for its order's PUT (else it may come first and be refused, -31050) */
  afterPut: boolean;
  dup: number | null;
  /** SetFiscalData after Perform: stores receipt data with the transaction, emits no event */
  fiscal: boolean;
  cut: number;
};
type PaymentSpec = PayskeSpec | PayramSpec | RobokassaSpec | PaymeSpec;
type RunSpec = { orders: OrderSpec[]; payments: PaymentSpec[]; choices: number[]; batches: number[] };

const weighted = <T>(...options: Array<[T, number]>) => fc.oneof(...options.map(([v, weight]) => ({ arbitrary: fc.constant(v), weight })));
const targetArb = fc.record({ ghost: fc.nat(13).map((n) => n === 0), natural: fc.nat(5).map((n) => n > 0), pick: fc.nat(99) });
const modeArb = weighted<ModeKind>(["same", 4], ["opposite", 1]);
const amountArb = weighted<AmountKind>(["full", 5], ["smaller", 1]);
const dupArb = fc.option(fc.nat(3), { nil: null, freq: 2 });

const orderArb = (currency: Cur | null) =>
  fc.record({
    currency: currency ? fc.constant(currency) : fc.constantFrom<Cur>("USD", "RUB", "UZS"),
    amountSeed: fc.nat(1_000_000),
    live: weighted([true, 3], [false, 2]),
    sendLivemode: fc.boolean(),
    refundable: fc.boolean(),
    rePut: fc.option(fc.record({ sendLivemode: fc.boolean() }), { nil: null, freq: 3 }),
    late: weighted([false, 2], [true, 1]),
  });

const payskeArb: fc.Arbitrary<PayskeSpec> = fc.record({
  provider: fc.constant("payske" as const),
  target: targetArb,
  mode: modeArb,
  testVia: fc.constantFrom("test-secret" as const, "body" as const),
  bodyLive: fc.boolean(),
  amount: amountArb,
  currency: weighted<"order" | "EUR">(["order", 5], ["EUR", 1]),
  flow: fc.constantFrom(...PAYSKE_FLOWS),
  refund: fc.constantFrom("partial" as const, "full" as const),
  refundWithoutOrder: fc.boolean(),
  dup: dupArb,
  pipelined: weighted([false, 2], [true, 1]),
  cut: fc.nat(10_000),
});
const payramArb: fc.Arbitrary<PayramSpec> = fc.record({
  provider: fc.constant("payram" as const),
  target: targetArb,
  named: weighted([true, 5], [false, 1]),
  currency: weighted<"USD" | "USDC" | "BTC">(["USD", 4], ["USDC", 1], ["BTC", 1]),
  amount: amountArb,
  flow: fc.constantFrom(...PAYRAM_FLOWS),
  dup: dupArb,
  pipelined: weighted([false, 2], [true, 1]),
  cut: fc.nat(10_000),
});
const robokassaArb: fc.Arbitrary<RobokassaSpec> = fc.record({
  provider: fc.constant("robokassa" as const),
  target: targetArb,
  mode: modeArb,
  amount: amountArb,
  sixDecimals: fc.boolean(),
  dup: fc.boolean(),
  cut: fc.nat(10_000),
});
const paymeArb: fc.Arbitrary<PaymeSpec> = fc.record({
  provider: fc.constant("payme" as const),
  target: targetArb,
  mode: modeArb,
  amount: amountArb,
  flow: weighted<PaymeSpec["flow"]>(["create", 1], ["create-perform", 3], ["check-create-perform", 2], ["create-cancel", 1], ["create-perform-refund", 2]),
  afterPut: weighted([true, 4], [false, 1]),
  dup: dupArb,
  fiscal: fc.boolean(),
  cut: fc.nat(10_000),
});

const runArb: fc.Arbitrary<RunSpec> = fc.record({
  // One order in each currency, plus up to two more.
  orders: fc.tuple(orderArb("USD"), orderArb("RUB"), orderArb("UZS"), fc.array(orderArb(null), { maxLength: 2 })).map(([a, b, c, more]) => [a, b, c, ...more]),
  // Every provider in every run, plus two to six more payments of any provider.
  payments: fc
    .tuple(payskeArb, payramArb, robokassaArb, paymeArb, fc.array(fc.oneof({ arbitrary: payskeArb, weight: 3 }, { arbitrary: payramArb, weight: 2 }, robokassaArb, { arbitrary: paymeArb, weight: 2 }), { minLength: 2, maxLength: 6 }))
    .chain(([a, b, c, d, more]) => fc.shuffledSubarray([a, b, c, d, ...more], { minLength: 4 + more.length })),
  choices: fc.array(fc.nat(1_000), { minLength: 64, maxLength: 64 }),
  batches: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 32, maxLength: 32 }),
});

// ---------------------------------------------------------------------------------------------
// The model of one run: orders, payments, their steps, and what each payment's facts must be

type OrderModel = {
  index: number;
  id: string;
  currency: Cur;
  amount: number;
  live: boolean;
  refundable: boolean;
  ref: string | null;
  late: boolean;
  /** its first PUT has been answered */
  created: boolean;
  body: Record<string, unknown>;
  rePutBody: Record<string, unknown> | null;
};

/** What the ledger must hold for a payment (amounts in the payment's own currency, minor units). */
type Facts = { status: string; currency: string; requested: number; settled: number; refunded: number; live: boolean };

type AsyncProvider = "payske" | "payram" | "robokassa";
type Delivery = { label: string; jobId: string; send: () => Promise<{ status: number; body: string }>; expectBody: string };
type PaymeStep = { label: string; method: string; params: () => Record<string, unknown> };
type PaymentModel = {
  index: number;
  provider: AsyncProvider | "payme";
  /** the ledger's providerPaymentId */
  id: string;
  label: string;
  /** the order it is for (null: the ghost order nobody creates) */
  order: OrderModel | null;
  /** the order id its notifications name (null: a Payram reference nobody registered) */
  names: string | null;
  pipelined: boolean;
  dupStep: number | null;
  deliveries: Delivery[];
  payme: { steps: PaymeStep[]; key: string; live: boolean; amount: number; afterPut: boolean; state: 0 | 1 | 2 | -1 | -2; replies: string[] } | null;
  /** the facts the notifications sent make (null for Payme: from its replies) */
  facts: Facts | null;
};

const NATURAL: Record<PaymentSpec["provider"], Cur | null> = { payske: null, payram: "USD", robokassa: "RUB", payme: "UZS" };
const AMOUNT_RANGE: Record<Cur, [number, number]> = { USD: [500, 20_000], RUB: [10_000, 900_000], UZS: [100_000, 9_000_000] };

const frac = (amount: number, cut: number) => Math.max(1, Math.floor((amount * (10 + (cut % 80))) / 100));
const smaller = (amount: number, cut: number) => amount - (1 + (cut % Math.max(1, Math.floor(amount / 2))));
const hex24 = (s: string) => createHash("sha1").update(s).digest("hex").slice(0, 24);
const nowS = () => Math.floor(Date.now() / 1000);

async function post(url: string, headers: Record<string, string>, body: string) {
  const res = await fetch(url, { method: "POST", headers, body });
  return { status: res.status, body: await res.text() };
}

function buildRun(run: number, spec: RunSpec): { orders: OrderModel[]; ghostId: string; payments: PaymentModel[] } {
  const ghostId = `opm-r${run}-ghost`;
  const orders: OrderModel[] = spec.orders.map((o, index) => {
    const [lo, hi] = AMOUNT_RANGE[o.currency];
    const livemodeField = (send: boolean) => (!o.live || send ? { livemode: o.live } : {});
    const model: OrderModel = {
      index,
      id: `opm-r${run}-o${index}`,
      currency: o.currency,
      amount: lo + (o.amountSeed % (hi - lo)),
      live: o.live,
      refundable: o.refundable,
      ref: null,
      late: o.late,
      created: false,
      body: {},
      rePutBody: null,
    };
    model.body = { amount: model.amount, currency: o.currency, refundable: o.refundable, ...livemodeField(o.sendLivemode) };
    // An update may leave livemode out: the order keeps its mode.
    if (o.rePut) model.rePutBody = { amount: model.amount, currency: o.currency, refundable: o.refundable, ...(o.rePut.sendLivemode ? { livemode: o.live } : {}) };
    return model;
  });
  const pickOrder = (provider: PaymentSpec["provider"], t: Target): OrderModel | null => {
    if (t.ghost) return null;
    const natural = NATURAL[provider];
    const pool = t.natural && natural ? orders.filter((o) => o.currency === natural) : orders;
    return pool[t.pick % pool.length]!;
  };

  const payments = spec.payments.map((p, j): PaymentModel => {
    const order = pickOrder(p.provider, p.target);
    const orderId = order?.id ?? ghostId;
    // The ghost order's terms, for what a payment "for" it is: live, USD, 10.00.
    const terms = order ?? { currency: "USD" as Cur, amount: 1_000, live: true };
    const modeOf = (m: ModeKind) => (m === "same" ? terms.live : !terms.live);
    switch (p.provider) {
      case "payske":
        return buildPayske(run, j, p, order, orderId, terms, modeOf(p.mode));
      case "payram":
        return buildPayram(run, j, p, order, terms);
      case "robokassa":
        return buildRobokassa(run, j, p, order, orderId, terms, modeOf(p.mode));
      case "payme":
        return buildPayme(run, j, p, order, orderId, terms, modeOf(p.mode));
    }
  });
  // A Payram payment names its order only through the reference the order registers: the first
  // named Payram payment of each order is registered, any other one is nobody's.
  for (const p of payments) {
    if (p.provider !== "payram" || p.names === null) continue;
    if (p.order && p.order.ref === null) p.order.ref = p.id;
    else p.names = null;
  }
  for (const o of orders) {
    if (o.ref === null) continue;
    o.body = { ...o.body, references: { payram: o.ref } };
    if (o.rePutBody) o.rePutBody = { ...o.rePutBody, references: { payram: o.ref } };
  }
  return { orders, ghostId, payments };
}

function buildPayske(run: number, j: number, s: PayskeSpec, order: OrderModel | null, orderId: string, terms: { currency: Cur; amount: number }, live: boolean): PaymentModel {
  const pi = `pi_opm_r${run}_p${j}`;
  const amount = s.amount === "full" ? terms.amount : smaller(terms.amount, s.cut);
  const currency = s.currency === "EUR" ? "EUR" : terms.currency;
  const partial = Math.min(frac(amount, s.cut), amount - 1);
  const r2 = s.refund === "full" || amount < 3 ? amount : Math.max(2, partial);
  const r1 = Math.max(1, Math.floor(r2 / 3));
  const secret = live ? PAYSKE_SECRET : s.testVia === "test-secret" ? PAYSKE_TEST_SECRET : PAYSKE_SECRET;
  const bodyLivemode = live ? true : s.testVia === "test-secret" ? s.bodyLive : false;
  const base = nowS() - 600;
  let seq = 0;
  const metadata = { order_id: orderId };
  const event = (type: string, object: Record<string, unknown>, at: number) => ({
    id: `evt_opm_r${run}_p${j}_e${seq++}`,
    object: "event",
    api_version: "2024-06-20",
    created: base + at,
    livemode: bodyLivemode,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
    data: { object },
  });
  const intent = (status: string, received: number) => ({
    id: pi,
    object: "payment_intent",
    amount,
    amount_received: received,
    currency: currency.toLowerCase(),
    status,
    metadata,
    ...(status === "succeeded" ? {} : { last_payment_error: { code: "card_declined", decline_code: "insufficient_funds" } }),
  });
  const charge = (refunded: number) => ({
    id: `ch_opm_r${run}_p${j}`,
    object: "charge",
    payment_intent: pi,
    amount,
    amount_refunded: refunded,
    refunded: refunded === amount,
    currency: currency.toLowerCase(),
    metadata: s.refundWithoutOrder ? {} : metadata,
  });
  const failed = () => event("payment_intent.payment_failed", intent("requires_payment_method", 0), 0);
  // A dispute names no order (disputes carry no metadata of their own); the money still counts until refunded.
  const disputed = (at: number) =>
    event(
      "charge.dispute.created",
      { id: `dp_opm_r${run}_p${j}`, object: "dispute", charge: `ch_opm_r${run}_p${j}`, payment_intent: pi, amount, currency: currency.toLowerCase(), reason: "fraudulent", status: "needs_response", metadata: {} },
      at,
    );
  const succeeded = () => event("payment_intent.succeeded", intent("succeeded", amount), 10);
  const refunded = (r: number, at: number) => event("charge.refunded", charge(r), at);
  let events: Array<ReturnType<typeof event>>;
  let refundedTotal = 0;
  switch (s.flow) {
    case "succeeded":
      events = [succeeded()];
      break;
    case "refund":
      events = [succeeded(), refunded(r2, 20)];
      refundedTotal = r2;
      break;
    case "refund-first": {
      const ok = succeeded();
      events = [refunded(r2, 20), ok];
      refundedTotal = r2;
      break;
    }
    case "failed-first":
      events = [failed(), succeeded()];
      break;
    case "two-refunds":
      events = [succeeded(), refunded(r1, 20), refunded(r2, 30)];
      refundedTotal = r2;
      break;
    case "two-refunds-reversed": {
      const ok = succeeded();
      const first = refunded(r1, 20);
      events = [ok, refunded(r2, 30), first];
      refundedTotal = r2;
      break;
    }
    case "dispute":
      events = [succeeded(), disputed(40)];
      break;
    case "dispute-first": {
      const ok = succeeded();
      events = [disputed(40), ok];
      break;
    }
  }
  const deliveries = events.map((e): Delivery => {
    const body = JSON.stringify(e);
    return {
      label: e.type,
      jobId: payskeJobId(parsePayskeEvent(e)),
      expectBody: JSON.stringify({ received: true }),
      send: () =>
        post(`${ingress.url}/webhooks/payske`, { "content-type": "application/json; charset=utf-8", "payske-signature": signPayske(body, secret, nowS()) }, body),
    };
  });
  const modeLabel = live ? "live" : s.testVia === "test-secret" ? `test-secret${s.bodyLive ? "(body live)" : ""}` : "livemode:false";
  return {
    index: j,
    provider: "payske",
    // A test payment is kept apart from a live one under the same PaymentIntent id.
    id: live ? pi : `test-${pi}`,
    label: `payske ${s.flow}${s.flow.includes("refund") ? `(${s.refund})` : ""} ${s.amount} ${currency} ${modeLabel}${s.refundWithoutOrder ? " refund-without-order" : ""}`,
    order,
    names: orderId,
    pipelined: s.pipelined,
    dupStep: s.dup === null ? null : s.dup % deliveries.length,
    deliveries,
    payme: null,
    facts: {
      status: refundedTotal > 0 ? "refunded" : s.flow.startsWith("dispute") ? "disputed" : "succeeded",
      currency,
      requested: amount,
      settled: amount,
      refunded: refundedTotal,
      live,
    },
  };
}

function buildPayram(run: number, j: number, s: PayramSpec, order: OrderModel | null, terms: { currency: Cur; amount: number }): PaymentModel {
  const ref = `opm-r${run}-p${j}-ref`;
  // Amounts in the order's minor units, then on the wire in the payment's currency.
  const cents = s.amount === "full" ? terms.amount : smaller(terms.amount, s.cut);
  const exp = s.currency === "USD" ? 2 : s.currency === "USDC" ? 6 : 8;
  const scale = s.currency === "USDC" ? 10_000 : 1;
  const amount = s.currency === "BTC" ? 20_000 + s.cut * 7 : cents * scale;
  const part = s.currency === "BTC" ? Math.floor(amount / 3) : Math.min(frac(cents, s.cut), Math.max(1, cents - 1)) * scale;
  const over = amount + (1 + (s.cut % 500)) * scale;
  const fmt = (n: number) => formatMinorUnits(n, exp);
  const note = (status: string, filled: number | null) => ({
    reference_id: ref,
    invoice_id: `inv-opm-r${run}-p${j}`,
    status,
    amount: fmt(amount),
    ...(filled === null ? {} : { filled_amount: fmt(filled) }),
    currency: s.currency,
  });
  let notes: Array<ReturnType<typeof note>>;
  let facts: Pick<Facts, "status" | "settled">;
  switch (s.flow) {
    case "filled":
      [notes, facts] = [[note("FILLED", amount)], { status: "succeeded", settled: amount }];
      break;
    case "open-filled":
      [notes, facts] = [[note("OPEN", null), note("FILLED", amount)], { status: "succeeded", settled: amount }];
      break;
    case "filled-late-open":
      [notes, facts] = [[note("FILLED", amount), note("OPEN", null)], { status: "succeeded", settled: amount }];
      break;
    case "partial-filled":
      [notes, facts] = [[note("PARTIALLY_FILLED", part), note("FILLED", amount)], { status: "succeeded", settled: amount }];
      break;
    case "partial-over":
      [notes, facts] = [[note("PARTIALLY_FILLED", part), note("OVER_FILLED", over)], { status: "overpaid", settled: over }];
      break;
    case "partial":
      [notes, facts] = [[note("PARTIALLY_FILLED", part)], { status: "partially_paid", settled: part }];
      break;
    case "open":
      [notes, facts] = [[note("OPEN", null)], { status: "pending", settled: 0 }];
      break;
    case "partial-cancelled":
      // An expired link keeps the money already filled.
      [notes, facts] = [[note("PARTIALLY_FILLED", part), note("CANCELLED", part)], { status: "cancelled", settled: part }];
      break;
  }
  const deliveries = notes.map((n): Delivery => {
    const body = JSON.stringify(n);
    return {
      label: n.status,
      jobId: payramJobId(parsePayramNotification(n)),
      expectBody: JSON.stringify({ message: "Webhook received successfully" }),
      send: () => post(`${ingress.url}/webhooks/payram`, signPayram(body, PAYRAM_SECRET, "signature"), body),
    };
  });
  return {
    index: j,
    provider: "payram",
    id: ref,
    label: `payram ${s.flow} ${s.amount} ${s.currency}${s.named && order ? "" : " unregistered-ref"}`,
    order,
    // Provisional: buildRun keeps it only for the first named Payram payment of the order.
    names: s.named && order ? order.id : null,
    pipelined: s.pipelined,
    dupStep: s.dup === null ? null : s.dup % deliveries.length,
    deliveries,
    payme: null,
    facts: { ...facts, currency: s.currency, requested: amount, refunded: 0, live: true },
  };
}

function buildRobokassa(run: number, j: number, s: RobokassaSpec, order: OrderModel | null, orderId: string, terms: { amount: number }, live: boolean): PaymentModel {
  const invId = String(run * 100 + j + 1);
  // OutSum is in the shop's currency (RUB), whatever the order's.
  const kopecks = s.amount === "full" ? terms.amount : smaller(terms.amount, s.cut);
  const outSum = formatMinorUnits(kopecks, 2) + (s.sixDecimals ? "0000" : "");
  const params = signRobokassa(
    { OutSum: outSum, InvId: invId, Shp_order: orderId, ...(live ? {} : { IsTest: "1" }), Fee: "1.000000" },
    live ? RK_PASSWORD2 : RK_TEST_PASSWORD2,
  );
  const read = readNotice(params, "Shp_order");
  if (!read.ok) throw new Error(`built a RoboKassa notice it cannot read: ${read.reason}`);
  return {
    index: j,
    provider: "robokassa",
    id: live ? invId : `test-${invId}`,
    label: `robokassa ${s.amount} ${live ? "live" : "IsTest=1"}`,
    order,
    names: orderId,
    pipelined: false,
    dupStep: s.dup ? 0 : null,
    deliveries: [
      {
        label: "ResultURL",
        jobId: robokassaJobId(read.notice),
        expectBody: `OK${invId}`,
        send: () => post(`${ingress.url}/webhooks/robokassa/result`, { "content-type": "application/x-www-form-urlencoded" }, new URLSearchParams(params).toString()),
      },
    ],
    payme: null,
    facts: { status: "succeeded", currency: "RUB", requested: kopecks, settled: kopecks, refunded: 0, live },
  };
}

function buildPayme(run: number, j: number, s: PaymeSpec, order: OrderModel | null, orderId: string, terms: { amount: number }, live: boolean): PaymentModel {
  const id = hex24(`opm-${run}-${j}`);
  const amount = s.amount === "full" ? terms.amount : smaller(terms.amount, s.cut);
  const account = { order_id: orderId };
  const check: PaymeStep = { label: "Check", method: "CheckPerformTransaction", params: () => ({ amount, account }) };
  const create: PaymeStep = { label: "Create", method: "CreateTransaction", params: () => ({ id, time: Date.now(), amount, account }) };
  const perform: PaymeStep = { label: "Perform", method: "PerformTransaction", params: () => ({ id }) };
  const cancel = (reason: number): PaymeStep => ({ label: "Cancel", method: "CancelTransaction", params: () => ({ id, reason }) });
  const fiscal: PaymeStep = { label: "SetFiscalData", method: "SetFiscalData", params: () => ({ id, type: "PERFORM", fiscal_data: { receipt_id: j + 1 } }) };
  const steps = {
    create: [create],
    "create-perform": [create, perform],
    "check-create-perform": [check, create, perform],
    "create-cancel": [create, cancel(3)],
    "create-perform-refund": [create, perform, cancel(5)],
  }[s.flow];
  if (s.fiscal && steps.includes(perform)) steps.splice(steps.indexOf(perform) + 1, 0, fiscal);
  return {
    index: j,
    provider: "payme",
    id,
    label: `payme ${s.flow}${s.fiscal ? "+fiscal" : ""} ${s.amount} ${live ? "live key" : "sandbox key"}${s.afterPut && order ? "" : " any-time"}`,
    order,
    names: orderId,
    pipelined: false,
    dupStep: s.dup === null ? null : s.dup % steps.length,
    deliveries: [],
    payme: { steps, key: live ? PAYME_KEY : PAYME_TEST_KEY, live, amount, afterPut: s.afterPut && order !== null, state: 0, replies: [] },
    facts: null,
  };
}

/** Payme's facts follow its replies: the state of the transaction the last successful answer reported. */
function paymeFacts(p: PaymentModel): Facts | null {
  const m = p.payme!;
  const base = { currency: "UZS", requested: m.amount, live: m.live };
  switch (m.state) {
    case 0:
      return null;
    case 1:
      return { ...base, status: "held", settled: 0, refunded: 0 };
    case 2:
      return { ...base, status: "succeeded", settled: m.amount, refunded: 0 };
    case -1:
      return { ...base, status: "cancelled", settled: 0, refunded: 0 };
    case -2:
      return { ...base, status: "refunded", settled: m.amount, refunded: m.amount };
  }
}

const factsOf = (p: PaymentModel): Facts | null => (p.provider === "payme" ? paymeFacts(p) : p.facts);

// ---------------------------------------------------------------------------------------------
// The oracle: the rules of README "How an order gets paid", written here from the spec

type Oracle = { counts: true; value: number; refunded: number; held: boolean } | { counts: false; reason: "mode" | "currency" | "amount" };

function oracle(order: Pick<OrderModel, "amount" | "currency" | "live">, f: Facts): Oracle {
  if (f.live !== order.live) return { counts: false, reason: "mode" };
  // Same currency; or a USD stablecoin on a USD order, 1 token = 1 dollar (10^4 token minor units a cent).
  const perOrderUnit = f.currency === order.currency ? 1 : order.currency === "USD" && (f.currency === "USDC" || f.currency === "USDT") ? 10_000 : null;
  if (perOrderUnit === null) return { counts: false, reason: "currency" };
  if (f.requested !== order.amount * perOrderUnit) return { counts: false, reason: "amount" };
  const net = f.settled - Math.min(f.settled, f.refunded);
  if (net % perOrderUnit !== 0) throw new Error("the generator made a sub-cent stablecoin amount");
  return { counts: true, value: net / perOrderUnit, refunded: f.refunded, held: f.status === "held" };
}

function orderStatus(amount: number, verdicts: Oracle[]): { paidAmount: number; status: string } {
  const counting = verdicts.filter((v): v is Extract<Oracle, { counts: true }> => v.counts);
  const paidAmount = counting.reduce((sum, v) => sum + v.value, 0);
  const refunded = counting.some((v) => v.refunded > 0);
  const held = counting.some((v) => v.held);
  let status: string;
  if (paidAmount === amount) status = "paid";
  else if (paidAmount > amount) status = "overpaid";
  else if (paidAmount > 0) status = refunded ? "partially_refunded" : "partially_paid";
  else status = refunded ? "refunded" : held ? "reserved" : "awaiting_payment";
  return { paidAmount, status };
}

// ---------------------------------------------------------------------------------------------
// Driving a run

type Command = { actor: string; describe: string; exec: (problems: string[]) => Promise<void> };

/** Waits until a provider job has been processed (completed or failed). */
async function processed(queue: Queue, jobId: string): Promise<string> {
  return waitFor(async () => {
    const state = await queue.getJobState(jobId);
    return state === "completed" || state === "failed" ? state : undefined;
  }, `job ${jobId} processed`, 20_000);
}

function commandsOf(model: ReturnType<typeof buildRun>, admin: ReturnType<typeof adminClient>, counters: { requests: number }): Command[][] {
  const actors: Command[][] = [];
  for (const o of model.orders) {
    const steps: Command[] = [
      {
        actor: o.id,
        describe: `PUT ${o.id}`,
        exec: async (problems) => {
          counters.requests++;
          const status = await admin.putOrder(o.id, o.body);
          o.created = true;
          if (status !== 201) problems.push(`PUT ${o.id} ${JSON.stringify(o.body)} answered ${status}, expected 201`);
        },
      },
    ];
    if (o.rePutBody) {
      const body = o.rePutBody;
      steps.push({
        actor: o.id,
        describe: `re-PUT ${o.id}`,
        exec: async (problems) => {
          counters.requests++;
          const status = await admin.putOrder(o.id, body);
          if (status !== 200) problems.push(`re-PUT ${o.id} ${JSON.stringify(body)} answered ${status}, expected 200`);
        },
      });
    }
    actors.push(steps);
  }
  for (const p of model.payments) {
    const name = `${p.provider}/${p.id}`;
    if (p.payme) {
      const m = p.payme;
      actors.push(
        m.steps.map((step, k) => ({
          actor: name,
          describe: `${step.label}${p.dupStep === k ? "×2" : ""} ${name}`,
          exec: async (problems) => {
            // Its order's PUT is earlier in the sequence (interleave), in this batch or an earlier one.
            if (k === 0 && m.afterPut) await waitFor(() => p.order!.created || undefined, `${p.order!.id} created`);
            const existed = p.order?.created ?? false;
            const once = async (): Promise<PaymeResponse> => {
              // -32400: no worker answered in time; every method is idempotent, so Payme retries.
              for (let attempt = 0; ; attempt++) {
                counters.requests++;
                const res = await paymeCall(ingress.url, m.key, step.method, step.params());
                if (res.error?.code !== -32400 || attempt === 3) return res;
              }
            };
            const replies = await Promise.all(p.dupStep === k ? [once(), once()] : [once()]);
            for (const res of replies) {
              m.replies.push(`${step.label}→${res.error ? res.error.code : JSON.stringify(res.result?.["state"] ?? res.result?.["allow"] ?? "ok")}${existed ? "" : "(no order yet)"}`);
              // Payme refuses only what it cannot pay: another mode is an unknown account (-31050),
              // another currency or amount -31001; a payable order that exists is never unknown.
              const order = p.order;
              if (order && existed && (step.method === "CreateTransaction" || step.method === "CheckPerformTransaction") && res.error) {
                const expected = order.live !== m.live ? -31050 : order.currency !== "UZS" || order.amount !== m.amount ? -31001 : -31008;
                if (res.error.code !== expected) problems.push(`${name}: ${step.label} on existing order ${order.id} (${order.amount} ${order.currency} ${order.live ? "live" : "test"}) answered ${res.error.code}, expected ${expected === -31008 ? "a result or -31008" : expected}`);
              }
              const state = res.result?.["state"];
              if (typeof state === "number" && [1, 2, -1, -2].includes(state)) m.state = state as 1 | 2 | -1 | -2;
              if (res.error?.code === -32400) problems.push(`${name}: ${step.label} got -32400 four times`);
            }
          },
        })),
      );
      continue;
    }
    const queue = queues[p.provider as AsyncProvider];
    actors.push(
      p.deliveries.map((d, k) => ({
        actor: name,
        describe: `${d.label}${p.dupStep === k ? "×2" : ""} ${name}`,
        exec: async (problems) => {
          // A duplicate is the same delivery sent twice at once.
          const copies = p.dupStep === k ? 2 : 1;
          counters.requests += copies;
          const answers = await Promise.all(Array.from({ length: copies }, () => d.send()));
          for (const a of answers) {
            if (a.status !== 200 || a.body !== d.expectBody) problems.push(`${name}: ${d.label} answered ${a.status} ${a.body}`);
          }
          if (!p.pipelined) {
            const state = await processed(queue, d.jobId);
            if (state !== "completed") problems.push(`${name}: job ${d.jobId} ${state}`);
          }
        },
      })),
    );
  }
  return actors;
}

/**
 * A random interleaving of the actors' steps (each actor keeps its order). A late order's PUT
 * waits until every notification naming it has been sent (Payme is not waited for: it refuses
 * an order that does not exist, and the model follows its replies); most Payme payments start
 * only after their order's PUT.
 */
function interleave(model: ReturnType<typeof buildRun>, actors: Command[][], choices: number[]): Command[] {
  const next = actors.map(() => 0);
  const out: Command[] = [];
  const total = actors.reduce((n, a) => n + a.length, 0);
  const blocked = (i: number) => {
    if (i >= model.orders.length) {
      const p = model.payments[i - model.orders.length]!;
      return next[i] === 0 && p.payme !== null && p.payme.afterPut && next[p.order!.index] === 0;
    }
    if (next[i] !== 0 || !model.orders[i]!.late) return false;
    const order = model.orders[i]!;
    return model.payments.some((p, j) => p.provider !== "payme" && p.order === order && next[model.orders.length + j]! < actors[model.orders.length + j]!.length);
  };
  while (out.length < total) {
    const eligible = actors.map((a, i) => i).filter((i) => next[i]! < actors[i]!.length && !blocked(i));
    const i = eligible[choices[out.length % choices.length]! % eligible.length]!;
    out.push(actors[i]![next[i]!]!);
    next[i]!++;
  }
  return out;
}

/** Quiescence: no provider job waiting, active, delayed or prioritized, and the ledger's outbox empty — twice in a row. */
async function quiesce(): Promise<void> {
  let calm = 0;
  await waitFor(async () => {
    for (const q of Object.values(queues)) {
      const counts = await q.getJobCounts("waiting", "active", "delayed", "prioritized");
      if (Object.values(counts).some((n) => n > 0)) return (calm = 0), undefined;
    }
    if ((await db.zcard(`${prefix}:ledger:outbox`)) > 0) return (calm = 0), undefined;
    return ++calm >= 2 ? true : undefined;
  }, "queues drained and outbox empty", 30_000);
}

// ---------------------------------------------------------------------------------------------
// The checks

async function eventsByPayment(): Promise<Map<string, PaymentEvent[]>> {
  const jobs = await eventsQueue.getJobs(["waiting", "active", "completed", "failed", "delayed", "prioritized"], 0, -1, true);
  const byPayment = new Map<string, PaymentEvent[]>();
  for (const job of jobs) {
    const e = PaymentEventSchema.parse(job.data);
    if (job.id !== e.id) throw new Error(`payment-events job ${job.id} carries event ${e.id}`);
    const key = `${e.provider}/${e.providerPaymentId}`;
    byPayment.set(key, [...(byPayment.get(key) ?? []), e]);
  }
  return byPayment;
}

async function checkRun(model: ReturnType<typeof buildRun>, admin: ReturnType<typeof adminClient>): Promise<{ problems: string[]; views: OrderView[]; events: number }> {
  const problems: string[] = [];
  const P = `${prefix}:ledger`;
  const events = await eventsByPayment();
  const views: OrderView[] = [];
  let eventCount = 0;
  /** payment name → the orders that list it, with multiplicity */
  const listedOn = new Map<string, string[]>();

  for (const o of model.orders) {
    const view = await admin.getOrder(o.id);
    views.push(view);
    const where = `order ${o.id} (${o.amount} ${o.currency} ${o.live ? "live" : "test"})`;
    if (view.amount !== o.amount || view.currency !== o.currency || view.livemode !== o.live || view.refundable !== o.refundable) {
      problems.push(`${where}: terms read back as ${view.amount} ${view.currency} livemode=${view.livemode} refundable=${view.refundable}`);
    }
    if ((view.references.payram ?? null) !== o.ref) problems.push(`${where}: references ${JSON.stringify(view.references)}, expected payram ${o.ref}`);
    for (const pv of view.payments) {
      const name = `${pv.provider}/${pv.providerPaymentId}`;
      listedOn.set(name, [...(listedOn.get(name) ?? []), o.id]);
    }
    // (d) the payments it must list: every recorded payment of this run that names it.
    const mine = model.payments.filter((p) => p.names === o.id && factsOf(p) !== null);
    const expected = mine.map((p) => `${p.provider}/${p.id}`).sort();
    const listed = view.payments.map((pv) => `${pv.provider}/${pv.providerPaymentId}`).sort();
    if (JSON.stringify(listed) !== JSON.stringify(expected)) problems.push(`${where}: lists payments [${listed.join(", ")}], expected [${expected.join(", ")}]`);
    const members = (await db.smembers(`${P}:order:${o.id}:payments`)).sort();
    if (JSON.stringify(members) !== JSON.stringify(expected)) problems.push(`${where}: payments set [${members.join(", ")}], expected [${expected.join(", ")}]`);
    const waiting = await db.smembers(`${P}:order:${o.id}:waiting`);
    if (waiting.length > 0) problems.push(`${where}: payments still waiting for it: [${waiting.join(", ")}]`);

    // (a), (b), (f) from the oracle.
    const verdicts: Oracle[] = [];
    for (const p of mine) {
      const f = factsOf(p)!;
      const v = oracle(o, f);
      verdicts.push(v);
      const pv = view.payments.find((x) => x.provider === p.provider && x.providerPaymentId === p.id);
      if (!pv) continue;
      const counted = v.counts ? v.value : 0;
      if (pv.counted !== counted) problems.push(`${where}: ${p.label} [${p.provider}/${p.id}] counted ${pv.counted}, oracle ${counted} (facts ${JSON.stringify(f)})`);
      const reason = v.counts ? null : v.reason;
      if (pv.mismatch !== reason) problems.push(`${where}: ${p.label} [${p.provider}/${p.id}] mismatch ${pv.mismatch}, oracle ${reason}`);
    }
    const want = orderStatus(o.amount, verdicts);
    if (view.paidAmount !== want.paidAmount) problems.push(`${where}: paidAmount ${view.paidAmount}, oracle ${want.paidAmount} [${mine.map((p) => p.label).join("; ")}]`);
    if (view.status !== want.status) problems.push(`${where}: status ${view.status}, oracle ${want.status} (paidAmount ${want.paidAmount}) [${mine.map((p) => p.label).join("; ")}]`);
    if ((view.status === "paid") !== (want.paidAmount === o.amount)) problems.push(`${where}: status ${view.status} while the oracle's sum is ${want.paidAmount} of ${o.amount}`);
  }

  // The ghost order does not exist; what names it waits for it.
  const ghost = await fetch(`${ingress.adminUrl}/v1/orders/${model.ghostId}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  if (ghost.status !== 404) problems.push(`ghost order ${model.ghostId} answered ${ghost.status}`);
  const ghostWaiting = (await db.smembers(`${P}:order:${model.ghostId}:waiting`)).sort();
  const ghostExpected = model.payments.filter((p) => p.order === null && p.names === model.ghostId && factsOf(p) !== null).map((p) => `${p.provider}/${p.id}`).sort();
  if (JSON.stringify(ghostWaiting) !== JSON.stringify(ghostExpected)) problems.push(`ghost ${model.ghostId}: waiting [${ghostWaiting.join(", ")}], expected [${ghostExpected.join(", ")}]`);

  // (c) at most one order, once.
  for (const [name, on] of listedOn) {
    if (on.length > 1) problems.push(`${name} is listed ${on.length} times: on ${on.join(", ")}`);
    if (!model.payments.some((p) => `${p.provider}/${p.id}` === name)) problems.push(`${name}, listed on ${on.join(", ")}, is no payment of this run`);
  }

  for (const p of model.payments) {
    const name = `${p.provider}/${p.id}`;
    const where = `${p.label} [${name}]${p.payme ? ` replies ${p.payme.replies.join(" ")}` : ""}`;
    const f = factsOf(p);
    const h = await db.hgetall(`${P}:payment:${p.provider}:${p.id}`);
    const emitted = events.get(name) ?? [];
    eventCount += emitted.length;
    const outbox = await db.smembers(`${P}:payment:${p.provider}:${p.id}:outbox`);
    if (outbox.length > 0) problems.push(`${where}: ${outbox.length} event(s) left in its outbox`);
    if (f === null) {
      // Payme refused every Create: nothing recorded, nothing emitted.
      if (h["provider"]) problems.push(`${where}: recorded (${JSON.stringify(h)}) though Payme refused it`);
      if (emitted.length > 0) problems.push(`${where}: ${emitted.length} PaymentEvent(s) of an unrecorded payment`);
      continue;
    }
    if (!h["provider"]) {
      problems.push(`${where}: no payment record`);
      continue;
    }
    // The hash holds the facts that were sent.
    const got = {
      status: h["status"],
      currency: h["currency"],
      requested: Number(h["requested"]),
      settled: Number(h["settled"]),
      refunded: Number(h["refunded"]),
      live: h["livemode"] === "1",
    };
    if (JSON.stringify(got) !== JSON.stringify({ status: f.status, currency: f.currency, requested: f.requested, settled: f.settled, refunded: f.refunded, live: f.live })) {
      problems.push(`${where}: ledger facts ${JSON.stringify(got)}, sent ${JSON.stringify(f)}`);
    }
    // (d) attached to the order it names once that order exists; else it names it and waits (a
    // payment first recorded with no order, named only by a notification that changed nothing,
    // keeps no order id of its own and waits in the order's set: the ghost check above).
    const exists = p.names !== null && model.orders.some((o) => o.id === p.names);
    const wantAttached = exists ? "1" : "0";
    const wantOrderId = p.names ?? "";
    if (h["attached"] !== wantAttached || (h["orderId"] !== wantOrderId && (exists || h["orderId"] !== ""))) {
      problems.push(`${where}: attached=${h["attached"]} orderId=${JSON.stringify(h["orderId"])}, expected attached=${wantAttached} orderId=${JSON.stringify(wantOrderId)}`);
    }
    // (e) one PaymentEvent per ledger change, but Payme's SetFiscalData, which stores receipt data
    // with the transaction and changes no money, status or order (README, "What comes out").
    const fiscalWrites = p.provider === "payme" ? Object.keys((JSON.parse(h["state"] ?? "{}") as { fiscal?: object }).fiscal ?? {}).length : 0;
    const v = Number(h["v"]) - fiscalWrites;
    const ids = new Set(emitted.map((e) => e.id));
    if (!(v >= 1) || emitted.length !== v || ids.size !== emitted.length) {
      problems.push(`${where}: v=${h["v"]} but ${emitted.length} PaymentEvent(s) (${ids.size} distinct): [${emitted.map((e) => e.type).join(", ")}]`);
    }
    for (const e of emitted) {
      if (e.orderId !== null && e.orderId !== p.names) problems.push(`${where}: event ${e.id} (${e.type}) names order ${e.orderId}`);
      if (e.livemode !== f.live) problems.push(`${where}: event ${e.id} (${e.type}) livemode ${e.livemode}`);
    }
    if (exists && !emitted.some((e) => e.orderId === p.names)) problems.push(`${where}: no PaymentEvent carries its order ${p.names}`);
    // (f) money made for another amount, currency or mode never counts, in any event either.
    const order = model.orders.find((o) => o.id === p.names);
    if (order) {
      const v2 = oracle(order, f);
      if (!v2.counts) {
        for (const e of emitted) {
          if (e.order && e.order.counted !== 0) problems.push(`${where}: made for another ${v2.reason}, yet event ${e.id} (${e.type}) counted ${e.order.counted} toward ${order.id}`);
        }
        // Payme refuses a transaction its order cannot take.
        if (p.payme) problems.push(`${where}: Payme created a transaction for another ${v2.reason} (order ${order.amount} ${order.currency} ${order.live ? "live" : "test"})`);
      }
    }
  }
  return { problems, views, events: eventCount };
}

// ---------------------------------------------------------------------------------------------
// The property

let runNo = 0;

it("derives every order from its payments, across all four providers, any interleaving, one and two workers", async () => {
  const admin = adminClient(ingress.adminUrl, ADMIN_TOKEN);
  const started = Date.now();
  await fc.assert(
    fc.asyncProperty(runArb, async (spec) => {
      const run = ++runNo;
      const t0 = Date.now();
      const twoWorkers = run % 2 === 0;
      const model = buildRun(run, spec);
      const counters = { requests: 0 };
      const commands = interleave(model, commandsOf(model, admin, counters), spec.choices);
      const problems: string[] = [];
      let second: NodeProcess | null = null;
      let batches = 0;
      /** what was sent, batch by batch ("a | b": at once), shown with any problem */
      const trace: string[] = [];
      try {
        // Small concurrent batches; within a batch, one actor's commands still go one after another.
        for (let at = 0, b = 0; at < commands.length; b++) {
          if (twoWorkers && !second && at >= commands.length / 2) {
            second = await startWorker(env);
            trace.push("[second worker started]");
          }
          const batch = commands.slice(at, at + spec.batches[b % spec.batches.length]!);
          at += batch.length;
          batches++;
          trace.push(batch.map((c) => c.describe).join(" | "));
          const lanes = new Map<string, Command[]>();
          for (const c of batch) lanes.set(c.actor, [...(lanes.get(c.actor) ?? []), c]);
          await Promise.all(
            [...lanes.values()].map(async (lane) => {
              for (const c of lane) await c.exec(problems);
            }),
          );
        }
        await quiesce();
        // Every delivery was well-formed: no provider job may fail (a failure of an earlier run ended it already).
        const failed = (await Promise.all(Object.values(queues).map((q) => q.getJobs(["failed"], 0, -1)))).flat();
        for (const j of failed) problems.push(`job ${j.id} failed: ${j.failedReason}`);
        const checked = await checkRun(model, admin);
        problems.push(...checked.problems);

        const byStatus = new Map<string, number>();
        for (const v of checked.views) {
          byStatus.set(v.status, (byStatus.get(v.status) ?? 0) + 1);
          saw(`order ${v.status}`);
          for (const pv of v.payments) saw(pv.mismatch ? `mismatch ${pv.mismatch}` : pv.counted > 0 ? "payment counted" : "payment counts 0");
        }
        for (const p of model.payments) {
          saw(p.label.split(" ").slice(0, 2).join(" "));
          if (p.order === null) saw("payment for a ghost order");
          if (p.pipelined) saw("pipelined");
          if (p.dupStep !== null) saw("duplicate delivery");
          for (const r of p.payme?.replies ?? []) saw(`payme ${r.replace(/\(.*\)$/, "")}`);
        }
        for (const o of model.orders) if (o.late) saw("order created after its payments");
        const providers = ["payske", "payram", "robokassa", "payme"].map((pr) => `${pr} ${model.payments.filter((p) => p.provider === pr).length}`).join(", ");
        summaries.push(
          `run ${run}: ${model.orders.length} orders (${model.orders.filter((o) => !o.live).length} test, ${model.orders.filter((o) => o.ref).length} with a Payram ref, ` +
            `${model.orders.filter((o) => o.late).length} late, ${model.orders.filter((o) => o.rePutBody).length} re-PUT), ` +
            `${model.payments.length} payments (${providers}; ${model.payments.filter((p) => p.order === null).length} for a ghost order), ` +
            `${commands.length} commands / ${counters.requests} requests in ${batches} batches, workers ${twoWorkers ? "1→2" : "1"}, ` +
            `${checked.events} events; orders ${[...byStatus].map(([s, n]) => `${s} ${n}`).join(", ")}; ${Date.now() - t0} ms\n    ` +
            model.payments.map((p) => `${p.label}${p.pipelined ? " pipelined" : ""}${p.dupStep !== null ? " dup" : ""}${p.payme ? ` [${p.payme.replies.join(" ")}]` : ""}`).join("\n    "),
        );
      } finally {
        await second?.stop();
      }
      if (problems.length > 0) problems.push(`run ${run} sent, batch by batch:\n  ${trace.join("\n  ")}`);
      expect(problems).toEqual([]);
    }),
    { seed: SEED, numRuns: RUNS, endOnFailure: true, verbose: 1 },
  );
  console.info(`order model: ${runNo} runs in ${Date.now() - started} ms`);
});
