import { z } from "zod";
import { sha256Hex } from "./crypto";
import { LedgerConflictError } from "./errors";
import { LEDGER_CAS_LUA } from "./lua/ledger-cas";
import type { PaymentEvent, PaymentEventType } from "./payment-event";
import type { RedisConnection } from "./redis";
import { PROVIDER_IDS, type ProviderId } from "./provider";

export const ORDER_STATUSES = [
  "awaiting_payment",
  "reserved",
  "partially_paid",
  "paid",
  "overpaid",
  "cancelled",
  "refunded",
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const ORDER_ID_PATTERN = /^[A-Za-z0-9._~-]{1,128}$/;

/** Body of `PUT /v1/orders/:orderId`. */
export const OrderInputSchema = z.strictObject({
  amount: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  currency: z.string().regex(/^[A-Z][A-Z0-9]{2,9}$/, "must be an upper-case currency code such as UZS, RUB, USD"),
  refundable: z.boolean().optional(),
  references: z.partialRecord(z.enum(PROVIDER_IDS), z.string().min(1).max(256)).optional(),
  items: z.array(z.unknown()).max(1_000).optional(),
});
export type OrderInput = z.infer<typeof OrderInputSchema>;

export type OrderRecord = {
  orderId: string;
  amount: number;
  currency: string;
  refundable: boolean;
  status: OrderStatus;
  paidAmount: number;
  references: Partial<Record<ProviderId, string>>;
  items: unknown[];
  createdAt: string;
  updatedAt: string;
  /** optimistic-concurrency version, bumped by every write */
  v: string;
};

export type PaymentRecord = {
  provider: ProviderId;
  providerPaymentId: string;
  orderId: string | null;
  status: string;
  amount: number | null;
  currency: string | null;
  /** ISO time of the provider's last applied change */
  at: string;
  livemode: boolean;
  /** what this payment adds to its order's paidAmount, minor units */
  contribution: number;
  /** provider-specific state the state machine keeps (JSON) */
  state: Record<string, unknown>;
  v: string;
};

export type OrderView = Omit<OrderRecord, "v"> & {
  payments: Array<Pick<PaymentRecord, "provider" | "providerPaymentId" | "status" | "amount" | "currency" | "at">>;
};

/** What a provider's state machine decided, given the current records. */
export type PaymentDecision =
  | { kind: "ignored"; reason: string }
  | {
      kind: "applied";
      payment: Pick<PaymentRecord, "status" | "amount" | "currency" | "at" | "livemode" | "contribution" | "state">;
      /** the order's new status; unchanged when absent or when the payment has no order */
      orderStatus?: OrderStatus;
      /** also list the payment in the provider's named index at this score (see listIndexed) */
      index?: { name: string; score: number };
      events: Array<{
        type: PaymentEventType;
        amount: number | null;
        currency: string | null;
        occurredAt: string;
        data: Record<string, unknown>;
      }>;
    };

export type ApplyResult =
  | { kind: "ignored"; reason: string; orderId: string | null }
  | { kind: "applied"; orderId: string | null; events: PaymentEvent[] };

export type Ledger = ReturnType<typeof createLedger>;

type Op = ["hset", number, Record<string, string>] | ["sadd" | "set" | "delifeq", number, string] | ["zadd", number, string, string];

/** Builds the KEYS list and index references for one ledger-cas call. */
class Batch {
  readonly keys: string[] = [];
  readonly versions: Array<[number, string]> = [];
  readonly strings: Array<[number, string]> = [];
  readonly claims: Array<[number, string]> = [];
  readonly ops: Op[] = [];
  key(k: string): number {
    const i = this.keys.indexOf(k);
    if (i >= 0) return i + 1;
    this.keys.push(k);
    return this.keys.length;
  }
}

const MAX_CAS_ATTEMPTS = 64;

/**
 * The payment ledger: orders, the payments matched to them, and an outbox of PaymentEvents.
 * Every change goes through the ledger-cas script, so concurrent workers apply a payment once.
 *
 * Keys (P = `${prefix}:ledger`): P:order:{id} hash, P:order:{id}:payments set of "provider/id",
 * P:ref:{provider}:{paymentId} → orderId, P:payment:{provider}:{id} hash,
 * P:payment:{provider}:{id}:outbox set of event ids not yet enqueued, P:event:{id} JSON,
 * P:outbox zset (event id by creation ms), P:index:{provider}:{name} zset (payment id by a
 * provider-chosen score, e.g. Payme's statement by transaction time).
 */
export function createLedger(deps: { redis: RedisConnection; prefix: string; now?: () => number }) {
  const { redis } = deps;
  const now = deps.now ?? Date.now;
  const P = `${deps.prefix}:ledger`;
  const k = {
    order: (id: string) => `${P}:order:${id}`,
    orderPayments: (id: string) => `${P}:order:${id}:payments`,
    ref: (provider: string, paymentId: string) => `${P}:ref:${provider}:${paymentId}`,
    payment: (provider: string, id: string) => `${P}:payment:${provider}:${id}`,
    paymentOutbox: (provider: string, id: string) => `${P}:payment:${provider}:${id}:outbox`,
    event: (id: string) => `${P}:event:${id}`,
    index: (provider: string, name: string) => `${P}:index:${provider}:${name}`,
    outbox: `${P}:outbox`,
  };

  if (!("payhooksLedgerCas" in redis)) redis.defineCommand("payhooksLedgerCas", { lua: LEDGER_CAS_LUA });

  async function cas(batch: Batch): Promise<1 | 0 | -1> {
    const spec = JSON.stringify({
      versions: batch.versions,
      strings: batch.strings,
      claims: batch.claims,
      ops: batch.ops,
    });
    // defineCommand adds the method at run time; ioredis cannot type it.
    const run = (redis as unknown as Record<string, (...args: unknown[]) => Promise<number>>)["payhooksLedgerCas"]!;
    return (await run.call(redis, batch.keys.length, ...batch.keys, spec)) as 1 | 0 | -1;
  }

  async function readOrder(orderId: string): Promise<OrderRecord | null> {
    const h = await redis.hgetall(k.order(orderId));
    return h["orderId"] ? parseOrder(h) : null;
  }

  async function putOrder(orderId: string, input: OrderInput): Promise<{ created: boolean; order: OrderView }> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const [current, paymentCount] = await Promise.all([readOrder(orderId), redis.scard(k.orderPayments(orderId))]);
      if (current && paymentCount > 0 && (current.amount !== input.amount || current.currency !== input.currency)) {
        throw new LedgerConflictError(`order ${orderId} already has payments: its amount and currency cannot change`);
      }
      const at = new Date(now()).toISOString();
      const references = input.references ?? {};
      const batch = new Batch();
      const orderKey = batch.key(k.order(orderId));
      batch.versions.push([orderKey, current?.v ?? "0"]);
      for (const [provider, paymentId] of Object.entries(references)) {
        batch.claims.push([batch.key(k.ref(provider, paymentId)), orderId]);
      }
      for (const [provider, paymentId] of Object.entries(current?.references ?? {})) {
        if (references[provider as ProviderId] !== paymentId) {
          batch.ops.push(["delifeq", batch.key(k.ref(provider, paymentId)), orderId]);
        }
      }
      batch.ops.push([
        "hset",
        orderKey,
        {
          orderId,
          amount: String(input.amount),
          currency: input.currency,
          refundable: input.refundable ? "1" : "0",
          references: JSON.stringify(references),
          items: JSON.stringify(input.items ?? []),
          updatedAt: at,
          ...(current ? {} : { status: "awaiting_payment", paidAmount: "0", createdAt: at }),
        },
      ]);
      const result = await cas(batch);
      if (result === -1) {
        throw new LedgerConflictError(`a payment reference in this order already belongs to another order`);
      }
      if (result === 1) return { created: current === null, order: (await getOrder(orderId))! };
    }
    throw new Error(`order ${orderId}: too much contention, gave up`);
  }

  async function getOrder(orderId: string): Promise<OrderView | null> {
    const order = await readOrder(orderId);
    if (!order) return null;
    const members = await redis.smembers(k.orderPayments(orderId));
    const payments = await Promise.all(
      members.map(async (m) => {
        const slash = m.indexOf("/");
        return parsePayment(await redis.hgetall(k.payment(m.slice(0, slash), m.slice(slash + 1))));
      }),
    );
    const { v: _v, ...rest } = order;
    return {
      ...rest,
      payments: payments
        .filter((p): p is PaymentRecord => p !== null)
        .sort((a, b) => a.at.localeCompare(b.at))
        .map(({ provider, providerPaymentId, status, amount, currency, at }) => ({
          provider,
          providerPaymentId,
          status,
          amount,
          currency,
          at,
        })),
    };
  }

  async function getPayment(provider: ProviderId, providerPaymentId: string): Promise<PaymentRecord | null> {
    return parsePayment(await redis.hgetall(k.payment(provider, providerPaymentId)));
  }

  /**
   * Reads the payment (and its order, matched through the provider's reference on first sight),
   * asks `decide` — a pure function — what changes, and writes the change, the order update and
   * the resulting PaymentEvents in one atomic step. Races are re-decided on fresh data.
   */
  async function applyPayment(request: {
    provider: ProviderId;
    providerPaymentId: string;
    /**
     * the order the notification names: used for a payment not yet in the ledger (otherwise the
     * provider's reference decides) and for one recorded so far without an order
     */
    orderId?: string;
    decide: (current: { payment: PaymentRecord | null; order: OrderRecord | null }) => PaymentDecision;
  }): Promise<ApplyResult> {
    const { provider, providerPaymentId } = request;
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const [paymentHash, refOrderId] = await Promise.all([
        redis.hgetall(k.payment(provider, providerPaymentId)),
        redis.get(k.ref(provider, providerPaymentId)),
      ]);
      const payment = parsePayment(paymentHash);
      // A payment recorded without an order is matched when a later notification names one.
      const orderId = payment ? (payment.orderId ?? request.orderId ?? null) : (request.orderId ?? refOrderId);
      const order = orderId ? await readOrder(orderId) : null;
      const decision = request.decide({ payment, order });
      if (decision.kind === "ignored") return { kind: "ignored", reason: decision.reason, orderId };

      const at = now();
      const batch = new Batch();
      const paymentKey = batch.key(k.payment(provider, providerPaymentId));
      const nextVersion = Number(payment?.v ?? "0") + 1;
      batch.versions.push([paymentKey, payment?.v ?? "0"]);
      if (!payment) batch.strings.push([batch.key(k.ref(provider, providerPaymentId)), refOrderId ?? ""]);
      const p = decision.payment;
      batch.ops.push([
        "hset",
        paymentKey,
        {
          provider,
          providerPaymentId,
          orderId: orderId ?? "",
          status: p.status,
          amount: p.amount === null ? "" : String(p.amount),
          currency: p.currency ?? "",
          at: p.at,
          livemode: p.livemode ? "1" : "0",
          contribution: String(p.contribution),
          state: JSON.stringify(p.state),
        },
      ]);
      if (orderId) {
        const orderKey = batch.key(k.order(orderId));
        batch.versions.push([orderKey, order?.v ?? "0"]);
        if (order) {
          // What this payment added before counts only if it was added to this very order.
          const counted = payment && payment.orderId === orderId ? payment.contribution : 0;
          const paidAmount = order.paidAmount - counted + p.contribution;
          batch.ops.push([
            "hset",
            orderKey,
            {
              status: decision.orderStatus ?? order.status,
              paidAmount: String(paidAmount),
              updatedAt: new Date(at).toISOString(),
            },
          ]);
          batch.ops.push(["sadd", batch.key(k.orderPayments(orderId)), `${provider}/${providerPaymentId}`]);
        }
      }
      if (decision.index) {
        batch.ops.push(["zadd", batch.key(k.index(provider, decision.index.name)), String(decision.index.score), providerPaymentId]);
      }
      const events: PaymentEvent[] = decision.events.map((e, index) => ({
        id: `evt_${sha256Hex(`${provider}\u0000${providerPaymentId}\u0000${nextVersion}\u0000${index}`).slice(0, 32)}`,
        type: e.type,
        provider,
        providerPaymentId,
        orderId: order ? orderId : null,
        amount: e.amount,
        currency: e.currency,
        occurredAt: e.occurredAt,
        livemode: p.livemode,
        data: e.data,
      }));
      const outboxKey = batch.key(k.outbox);
      const paymentOutboxKey = batch.key(k.paymentOutbox(provider, providerPaymentId));
      for (const event of events) {
        batch.ops.push(["set", batch.key(k.event(event.id)), JSON.stringify(event)]);
        batch.ops.push(["zadd", outboxKey, String(at), event.id]);
        batch.ops.push(["sadd", paymentOutboxKey, event.id]);
      }
      if ((await cas(batch)) === 1) return { kind: "applied", orderId: order ? orderId : null, events };
    }
    throw new Error(`payment ${provider}/${providerPaymentId}: too much contention, gave up`);
  }

  async function readEvents(ids: readonly string[]): Promise<PaymentEvent[]> {
    if (ids.length === 0) return [];
    const raw = await redis.mget(ids.map(k.event));
    return raw.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as PaymentEvent);
  }

  /** Events of one payment that were written to the ledger but not yet confirmed enqueued. */
  async function pendingEvents(provider: ProviderId, providerPaymentId: string): Promise<PaymentEvent[]> {
    return readEvents(await redis.smembers(k.paymentOutbox(provider, providerPaymentId)));
  }

  /** Outbox entries older than `ageMs`: left behind by a worker that died after the ledger write. */
  async function staleEvents(ageMs: number, limit = 500): Promise<PaymentEvent[]> {
    return readEvents(await redis.zrangebyscore(k.outbox, "-inf", now() - ageMs, "LIMIT", 0, limit));
  }

  async function markEmitted(event: Pick<PaymentEvent, "id" | "provider" | "providerPaymentId">): Promise<void> {
    await redis
      .multi()
      .zrem(k.outbox, event.id)
      .srem(k.paymentOutbox(event.provider, event.providerPaymentId), event.id)
      .exec();
  }

  /** Payments in a provider's named index with min <= score <= max, ascending by score. */
  async function listIndexed(provider: ProviderId, name: string, min: number, max: number): Promise<PaymentRecord[]> {
    const ids = await redis.zrangebyscore(k.index(provider, name), min, max);
    if (ids.length === 0) return [];
    const pipeline = redis.pipeline();
    for (const id of ids) pipeline.hgetall(k.payment(provider, id));
    const rows = (await pipeline.exec()) ?? [];
    return rows.flatMap(([err, h]) => {
      if (err) throw err;
      const payment = parsePayment(h as Record<string, string>);
      return payment ? [payment] : [];
    });
  }

  return { putOrder, getOrder, getOrderRecord: readOrder, getPayment, applyPayment, listIndexed, pendingEvents, staleEvents, markEmitted };
}

function parseOrder(h: Record<string, string>): OrderRecord {
  return {
    orderId: h["orderId"]!,
    amount: Number(h["amount"]),
    currency: h["currency"]!,
    refundable: h["refundable"] === "1",
    status: h["status"] as OrderStatus,
    paidAmount: Number(h["paidAmount"] ?? "0"),
    references: JSON.parse(h["references"] ?? "{}") as OrderRecord["references"],
    items: JSON.parse(h["items"] ?? "[]") as unknown[],
    createdAt: h["createdAt"]!,
    updatedAt: h["updatedAt"]!,
    v: h["v"] ?? "0",
  };
}

function parsePayment(h: Record<string, string>): PaymentRecord | null {
  if (!h["provider"]) return null;
  return {
    provider: h["provider"] as ProviderId,
    providerPaymentId: h["providerPaymentId"]!,
    orderId: h["orderId"] || null,
    status: h["status"]!,
    amount: h["amount"] ? Number(h["amount"]) : null,
    currency: h["currency"] || null,
    at: h["at"]!,
    livemode: h["livemode"] === "1",
    contribution: Number(h["contribution"] ?? "0"),
    state: JSON.parse(h["state"] ?? "{}") as Record<string, unknown>,
    v: h["v"] ?? "0",
  };
}
