import { z } from "zod";
import { sha256Hex } from "./crypto";
import { LedgerConflictError } from "./errors";
import { isLegacyPayment, legacyFacts, legacyProviderStatus } from "./ledger-legacy";
import { LEDGER_CAS_LUA } from "./lua/ledger-cas";
import {
  EVENT_TYPE_FOR_STATUS,
  countToward,
  deriveOrder,
  reportedType,
  type MismatchReason,
  type OrderStatus,
  type OrderTerms,
  type PaymentFacts,
  type PaymentStatus,
} from "./order-model";
import type { PaymentEvent, PaymentEventType } from "./payment-event";
import { primaries, type RedisConnection } from "./redis";
import { PROVIDER_IDS, type ProviderId } from "./provider";

export { ORDER_STATUSES } from "./order-model";
export type { OrderStatus } from "./order-model";

export const ORDER_ID_PATTERN = /^[A-Za-z0-9._~-]{1,128}$/;

/** Body of `PUT /v1/orders/:orderId`. */
export const OrderInputSchema = z.strictObject({
  amount: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  currency: z.string().regex(/^[A-Z][A-Z0-9]{2,9}$/, "must be an upper-case currency code such as UZS, RUB, USD"),
  /** false: a test order, paid only by test payments; absent: live for a new order, unchanged for an existing one */
  livemode: z.boolean().optional(),
  refundable: z.boolean().optional(),
  references: z.partialRecord(z.enum(PROVIDER_IDS), z.string().min(1).max(256)).optional(),
  items: z.array(z.unknown()).max(1_000).optional(),
});
export type OrderInput = z.infer<typeof OrderInputSchema>;

export type OrderRecord = {
  orderId: string;
  amount: number;
  currency: string;
  livemode: boolean;
  refundable: boolean;
  /** derived by deriveOrder from `payments`, stored with every write */
  status: OrderStatus;
  paidAmount: number;
  references: Partial<Record<ProviderId, string>>;
  items: unknown[];
  createdAt: string;
  updatedAt: string;
  /** the facts of every payment attached to this order, by "provider/providerPaymentId" */
  payments: Record<string, PaymentFacts>;
  /** optimistic-concurrency version, bumped by every write */
  v: string;
};

export type PaymentRecord = {
  provider: ProviderId;
  providerPaymentId: string;
  /** the order the payment is attached to, or (not attached yet) the order it names */
  orderId: string | null;
  attached: boolean;
  facts: PaymentFacts;
  /** the provider's own status, as last reported (for people) */
  providerStatus: string;
  /** ISO time of the provider's last applied change */
  at: string;
  /** provider-specific state the state machine keeps (JSON) */
  state: Record<string, unknown>;
  v: string;
};

export type PaymentView = {
  provider: ProviderId;
  providerPaymentId: string;
  status: PaymentStatus;
  providerStatus: string;
  currency: string | null;
  requested: number | null;
  settled: number;
  refunded: number;
  livemode: boolean;
  at: string;
  /** what it counts toward the order, minor units of the order's currency (0 when it does not count) */
  counted: number;
  /** why it does not count, when it does not */
  mismatch: MismatchReason | "undetermined" | null;
};

export type OrderView = Omit<OrderRecord, "v" | "payments"> & { payments: PaymentView[] };

export type ProviderEvent = {
  type: PaymentEventType;
  amount: number | null;
  currency: string | null;
  occurredAt: string;
  data: Record<string, unknown>;
};

/** What a provider's state machine decided about its payment. It never decides the order. */
export type PaymentDecision =
  | { kind: "ignored"; reason: string }
  | {
      kind: "applied";
      payment: { facts: PaymentFacts; providerStatus: string; at: string; state: Record<string, unknown> };
      /** also list the payment in the provider's named index at this score (see listIndexed) */
      index?: { name: string; score: number };
      /** how the provider reports the change; the ledger adds the order and may report a mismatch */
      events: ProviderEvent[];
    };

export type ApplyResult =
  | { kind: "ignored"; reason: string; orderId: string | null }
  | { kind: "applied"; orderId: string | null; events: PaymentEvent[] };

export type Ledger = ReturnType<typeof createLedger>;

type Op =
  | ["hset", number, Record<string, string>]
  | ["sadd" | "srem" | "set" | "delifeq" | "hdel" | "zrem", number, string]
  | ["zadd", number, string, string]
  | ["touch" | "del", number];

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
 * An event a worker writes is sent by that worker right after the write; the outbox sweep sends
 * it only if it is still there this long after (the worker died in between). Events written by an
 * order PUT have no worker to send them and are due at once.
 */
export const OUTBOX_GRACE_MS = 30_000;

const paymentKeyOf = (provider: string, id: string) => `${provider}/${id}`;
function splitPaymentKey(member: string): [ProviderId, string] {
  const slash = member.indexOf("/");
  return [member.slice(0, slash) as ProviderId, member.slice(slash + 1)];
}

/**
 * KEYS[1] the outbox zset, KEYS[2] the event's claim key; ARGV[1] the event id, ARGV[2] the
 * claim's time to live (ms). -1: the event has left the outbox (sent by another run); 0: another
 * run holds it; 1: claimed.
 */
const CLAIM_EVENT_LUA = `
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return -1 end
if redis.call('SET', KEYS[2], '1', 'PX', ARGV[2], 'NX') then return 1 end
return 0
`;

/**
 * The payment ledger: orders, the payments attached to them, and an outbox of PaymentEvents.
 * Every change goes through the ledger-cas script, so concurrent workers apply a payment once,
 * and an order PUT racing a payment's first notification attaches it exactly once.
 *
 * Keys (P = `${prefix}:ledger`): P:order:{id} hash (its field `v` is bumped also while the order
 * does not exist yet, whenever a payment starts waiting for it), P:order:{id}:payments set of
 * "provider/id", P:order:{id}:waiting set of payments that name the order but arrived before it,
 * P:ref:{provider}:{paymentId} → orderId (a reference the order registered),
 * P:payment:{provider}:{id} hash, P:payment:{provider}:{id}:outbox set of event ids not yet
 * enqueued, P:event:{id} JSON (deleted with its outbox entries by markEmitted), P:outbox zset (event id by the time it is due for the sweep),
 * P:index:{provider}:{name} zset (payment id by a provider-chosen score), P:indexes set of the
 * "{provider}:{name}" of every index, P:activity zset ("p:{provider}/{id}" and "o:{orderId}" by
 * the ledger time in ms of their last change: what compact() looks at).
 */
export function createLedger(deps: { redis: RedisConnection; prefix: string; now?: () => number }) {
  const { redis } = deps;
  const now = deps.now ?? Date.now;
  const P = `${deps.prefix}:ledger`;
  const k = {
    order: (id: string) => `${P}:order:${id}`,
    orderPayments: (id: string) => `${P}:order:${id}:payments`,
    waiting: (id: string) => `${P}:order:${id}:waiting`,
    ref: (provider: string, paymentId: string) => `${P}:ref:${provider}:${paymentId}`,
    payment: (provider: string, id: string) => `${P}:payment:${provider}:${id}`,
    paymentOutbox: (provider: string, id: string) => `${P}:payment:${provider}:${id}:outbox`,
    event: (id: string) => `${P}:event:${id}`,
    index: (provider: string, name: string) => `${P}:index:${provider}:${name}`,
    outbox: `${P}:outbox`,
    indexes: `${P}:indexes`,
    activity: `${P}:activity`,
    jobIndex: (orderId: string) => `${deps.prefix}:jobindex:order:${orderId}`,
  };

  if (!("payhooksLedgerCas" in redis)) redis.defineCommand("payhooksLedgerCas", { lua: LEDGER_CAS_LUA });
  if (!("payhooksClaimEvent" in redis)) redis.defineCommand("payhooksClaimEvent", { numberOfKeys: 2, lua: CLAIM_EVENT_LUA });
  /** Runs a script defined above: defineCommand adds the method at run time, and ioredis cannot type it. */
  const runScript = (name: "payhooksLedgerCas" | "payhooksClaimEvent", ...args: unknown[]): Promise<number> =>
    (redis as unknown as Record<string, (...a: unknown[]) => Promise<number>>)[name]!.call(redis, ...args);

  async function cas(batch: Batch): Promise<1 | 0 | -1> {
    const spec = JSON.stringify({
      versions: batch.versions,
      strings: batch.strings,
      claims: batch.claims,
      ops: batch.ops,
    });
    return (await runScript("payhooksLedgerCas", batch.keys.length, ...batch.keys, spec)) as 1 | 0 | -1;
  }

  /** The order (null while it does not exist) and the version of its key, which exists earlier when payments wait for it. */
  async function readOrderWithVersion(orderId: string): Promise<{ order: OrderRecord | null; v: string }> {
    const h = await redis.hgetall(k.order(orderId));
    if (!h["orderId"]) return { order: null, v: h["v"] ?? "0" };
    return { order: await parseOrder(h), v: h["v"] ?? "0" };
  }

  async function readOrder(orderId: string): Promise<OrderRecord | null> {
    return (await readOrderWithVersion(orderId)).order;
  }

  /** An order hash as a record; a legacy one (no facts) reads its payments to restate them. */
  async function parseOrder(h: Record<string, string>): Promise<OrderRecord> {
    const terms: OrderTerms = { amount: Number(h["amount"]), currency: h["currency"]!, livemode: h["livemode"] !== "0" };
    let payments: Record<string, PaymentFacts>;
    if (h["facts"] !== undefined) {
      payments = JSON.parse(h["facts"]) as Record<string, PaymentFacts>;
    } else {
      payments = {};
      for (const member of await redis.smembers(k.orderPayments(h["orderId"]!))) {
        const [provider, id] = splitPaymentKey(member);
        const ph = await redis.hgetall(k.payment(provider, id));
        if (!ph["provider"]) continue;
        payments[member] = isLegacyPayment(ph) ? legacyFacts(ph, terms) : parseFacts(ph);
      }
    }
    const derived = deriveOrder(terms, Object.values(payments));
    return {
      orderId: h["orderId"]!,
      ...terms,
      refundable: h["refundable"] === "1",
      status: derived.status,
      paidAmount: derived.paidAmount,
      references: JSON.parse(h["references"] ?? "{}") as OrderRecord["references"],
      items: JSON.parse(h["items"] ?? "[]") as unknown[],
      createdAt: h["createdAt"]!,
      updatedAt: h["updatedAt"]!,
      payments,
      v: h["v"] ?? "0",
    };
  }

  async function readPayment(provider: ProviderId, id: string, order: OrderRecord | null = null): Promise<PaymentRecord | null> {
    return parsePayment(await redis.hgetall(k.payment(provider, id)), order);
  }

  /** An event about `payment`'s change, with its order's verdict and the order as it now stands. */
  function buildEvent(
    payment: { provider: ProviderId; providerPaymentId: string; facts: PaymentFacts },
    version: number,
    index: number,
    e: ProviderEvent,
    order: { terms: OrderTerms; orderId: string; derived: ReturnType<typeof deriveOrder> } | null,
  ): PaymentEvent {
    const verdict = order ? countToward(order.terms, payment.facts) : null;
    const type = reportedType(e.type, verdict);
    const mismatch =
      verdict && !verdict.counts && verdict.reason !== "undetermined" && type !== e.type
        ? { reason: verdict.reason, orderAmount: order!.terms.amount, orderCurrency: order!.terms.currency, orderLivemode: order!.terms.livemode }
        : null;
    return {
      id: `evt_${sha256Hex(`${payment.provider}\u0000${payment.providerPaymentId}\u0000${version}\u0000${index}`).slice(0, 32)}`,
      type,
      provider: payment.provider,
      providerPaymentId: payment.providerPaymentId,
      orderId: order ? order.orderId : null,
      amount: e.amount,
      currency: e.currency,
      occurredAt: e.occurredAt,
      livemode: payment.facts.livemode,
      sequence: version,
      data: { ...e.data, ...(mismatch ? { mismatch } : {}) },
      order: order
        ? {
            status: order.derived.status,
            paidAmount: order.derived.paidAmount,
            amount: order.terms.amount,
            currency: order.terms.currency,
            counted: verdict?.counts ? verdict.value : 0,
          }
        : null,
    };
  }

  function pushEvents(batch: Batch, provider: ProviderId, providerPaymentId: string, events: PaymentEvent[], dueAt: number): void {
    const outboxKey = batch.key(k.outbox);
    const paymentOutboxKey = batch.key(k.paymentOutbox(provider, providerPaymentId));
    for (const event of events) {
      batch.ops.push(["set", batch.key(k.event(event.id)), JSON.stringify(event)]);
      batch.ops.push(["zadd", outboxKey, String(dueAt), event.id]);
      batch.ops.push(["sadd", paymentOutboxKey, event.id]);
    }
  }

  /** The event that reports a payment being attached to its order later than its notification. */
  function attachEvent(p: PaymentRecord): ProviderEvent {
    return {
      type: EVENT_TYPE_FOR_STATUS[p.facts.status],
      amount: p.facts.settled > 0 ? p.facts.settled : p.facts.requested,
      currency: p.facts.currency,
      occurredAt: p.at,
      data: { status: p.providerStatus, attached: true },
    };
  }

  /**
   * Creates or updates an order. In the same atomic step it attaches every payment already
   * recorded that names it (by order id, or by a reference this PUT registers), derives its
   * status, and writes one PaymentEvent per attached payment to the outbox, due at once.
   */
  async function putOrder(orderId: string, input: OrderInput): Promise<{ created: boolean; order: OrderView; events: PaymentEvent[] }> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const [{ order: current, v: orderVersion }, waiting] = await Promise.all([
        readOrderWithVersion(orderId),
        redis.smembers(k.waiting(orderId)),
      ]);
      const terms: OrderTerms = {
        amount: input.amount,
        currency: input.currency,
        livemode: input.livemode ?? current?.livemode ?? true,
      };
      const attachedAlready = current ? Object.keys(current.payments).length : 0;
      if (
        current &&
        attachedAlready > 0 &&
        (current.amount !== terms.amount || current.currency !== terms.currency || current.livemode !== terms.livemode)
      ) {
        throw new LedgerConflictError(`order ${orderId} already has payments: its amount, currency and mode cannot change`);
      }
      const references = input.references ?? {};
      // Payments to attach: those waiting for this order, and those under a reference it registers.
      const candidates = new Map<string, "waiting" | "reference">();
      for (const member of waiting) candidates.set(member, "waiting");
      for (const [provider, paymentId] of Object.entries(references)) {
        const member = paymentKeyOf(provider, paymentId);
        if (!candidates.has(member)) candidates.set(member, "reference");
      }
      const members = [...candidates.keys()];
      const records = await Promise.all(
        members.map((m) => {
          const [provider, id] = splitPaymentKey(m);
          return readPayment(provider, id);
        }),
      );

      const at = new Date(now()).toISOString();
      const batch = new Batch();
      const orderKey = batch.key(k.order(orderId));
      batch.versions.push([orderKey, orderVersion]);
      for (const [provider, paymentId] of Object.entries(references)) {
        batch.claims.push([batch.key(k.ref(provider, paymentId)), orderId]);
      }
      for (const [provider, paymentId] of Object.entries(current?.references ?? {})) {
        if (references[provider as ProviderId] !== paymentId) {
          batch.ops.push(["delifeq", batch.key(k.ref(provider, paymentId)), orderId]);
        }
      }
      const payments: Record<string, PaymentFacts> = { ...(current?.payments ?? {}) };
      const attaching: PaymentRecord[] = [];
      members.forEach((member, i) => {
        const p = records[i] ?? null;
        const how = candidates.get(member)!;
        const [provider, id] = splitPaymentKey(member);
        // Decided on what was read, so nothing it read may change before the write: a payment
        // recorded meanwhile (read as absent, "0") makes the write fail and the PUT decide again.
        const paymentKey = batch.key(k.payment(provider, id));
        batch.versions.push([paymentKey, p?.v ?? "0"]);
        if (how === "waiting") batch.ops.push(["srem", batch.key(k.waiting(orderId)), member]);
        if (!p || p.attached || payments[member]) return;
        // A payment that names another order is that order's, whatever reference this PUT registers
        // (one waiting here was named for this order by a later notification).
        if (how === "reference" && p.orderId !== null && p.orderId !== orderId) return;
        payments[member] = p.facts;
        attaching.push(p);
      });
      const derived = deriveOrder(terms, Object.values(payments));
      batch.ops.push([
        "hset",
        orderKey,
        {
          orderId,
          amount: String(terms.amount),
          currency: terms.currency,
          livemode: terms.livemode ? "1" : "0",
          refundable: input.refundable ? "1" : "0",
          references: JSON.stringify(references),
          items: JSON.stringify(input.items ?? []),
          facts: JSON.stringify(payments),
          status: derived.status,
          paidAmount: String(derived.paidAmount),
          updatedAt: at,
          createdAt: current?.createdAt ?? at,
        },
      ]);
      const activityKey = batch.key(k.activity);
      const changedAt = String(now());
      batch.ops.push(["zadd", activityKey, changedAt, `o:${orderId}`]);
      const events: PaymentEvent[] = [];
      for (const p of attaching) {
        batch.ops.push(["zadd", activityKey, changedAt, `p:${paymentKeyOf(p.provider, p.providerPaymentId)}`]);
        const paymentKey = batch.key(k.payment(p.provider, p.providerPaymentId));
        batch.ops.push(["hset", paymentKey, { ...serializePayment({ ...p, orderId, attached: true }) }]);
        batch.ops.push(["sadd", batch.key(k.orderPayments(orderId)), paymentKeyOf(p.provider, p.providerPaymentId)]);
        const event = buildEvent(p, Number(p.v) + 1, 0, attachEvent(p), { terms, orderId, derived });
        events.push(event);
        pushEvents(batch, p.provider, p.providerPaymentId, [event], now());
      }
      const result = await cas(batch);
      if (result === -1) {
        throw new LedgerConflictError(`a payment reference in this order already belongs to another order`);
      }
      if (result === 1) return { created: current === null, order: (await getOrder(orderId))!, events };
    }
    throw new Error(`order ${orderId}: too much contention, gave up`);
  }

  async function getOrder(orderId: string): Promise<OrderView | null> {
    const order = await readOrder(orderId);
    if (!order) return null;
    const members = Object.keys(order.payments);
    const records = await Promise.all(
      members.map((m) => {
        const [provider, id] = splitPaymentKey(m);
        return readPayment(provider, id, order);
      }),
    );
    const { v: _v, payments: facts, ...rest } = order;
    const payments: PaymentView[] = members.map((member, i) => {
      const [provider, providerPaymentId] = splitPaymentKey(member);
      const f = facts[member]!;
      const p = records[i];
      const verdict = countToward(order, f);
      return {
        provider,
        providerPaymentId,
        status: f.status,
        providerStatus: p?.providerStatus ?? f.status,
        currency: f.currency,
        requested: f.requested,
        settled: f.settled,
        refunded: f.refunded,
        livemode: f.livemode,
        at: p?.at ?? order.updatedAt,
        counted: verdict.counts ? verdict.value : 0,
        mismatch: verdict.counts ? null : verdict.reason,
      };
    });
    payments.sort((a, b) => a.at.localeCompare(b.at) || a.providerPaymentId.localeCompare(b.providerPaymentId));
    return { ...rest, payments };
  }

  async function getPayment(provider: ProviderId, providerPaymentId: string): Promise<PaymentRecord | null> {
    const h = await redis.hgetall(k.payment(provider, providerPaymentId));
    if (!isLegacyPayment(h) || !h["orderId"]) return parsePayment(h, null);
    // A legacy payment is attached when its order lists it (not merely when the order exists).
    const order = await readOrder(h["orderId"]);
    return parsePayment(h, order && order.payments[paymentKeyOf(provider, providerPaymentId)] ? order : null);
  }

  /**
   * Reads the payment, the order it names (its attached order; else the order the notification
   * names; else the order that registered it as a reference), asks `decide` — a pure function —
   * what the payment's facts become, derives the order from all its payments, and writes the
   * payment, the order and the resulting PaymentEvents in one atomic step. A payment whose order
   * does not exist yet is recorded and waits for it (putOrder attaches it). Races are re-decided
   * on fresh data.
   */
  async function applyPayment(request: {
    provider: ProviderId;
    providerPaymentId: string;
    /** the order the notification names, if it names one */
    orderId?: string;
    /**
     * the notification's mode: a notification of the other mode than the recorded payment never
     * attaches it to an order or makes it wait for one, even when its decision is "ignored"
     */
    livemode?: boolean;
    decide: (current: { payment: PaymentRecord | null; order: OrderRecord | null }) => PaymentDecision;
  }): Promise<ApplyResult> {
    const { provider, providerPaymentId } = request;
    const member = paymentKeyOf(provider, providerPaymentId);
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const [paymentHash, refOrderId] = await Promise.all([
        redis.hgetall(k.payment(provider, providerPaymentId)),
        redis.get(k.ref(provider, providerPaymentId)),
      ]);
      const named = paymentHash["orderId"] || null;
      // A legacy record keeps no attached flag: its named order comes first, and it is attached
      // when that order lists it (parsePayment takes the order only then).
      const legacyNamed = isLegacyPayment(paymentHash) && named !== null;
      const attachedTo = paymentHash["attached"] === "1" || legacyNamed ? named : null;
      const orderId = attachedTo ?? request.orderId ?? named ?? refOrderId ?? null;
      const { order, v: orderVersion } = orderId ? await readOrderWithVersion(orderId) : { order: null, v: "0" };
      const payment = parsePayment(paymentHash, legacyNamed && order?.payments[member] ? order : null);
      const decision = request.decide({ payment, order });

      let facts: PaymentFacts;
      let next: Omit<PaymentRecord, "v" | "provider" | "providerPaymentId" | "orderId" | "attached" | "facts">;
      let providerEvents: ProviderEvent[];
      if (decision.kind === "ignored") {
        // Nothing new from the provider. But an unattached payment that this notification (of the
        // payment's own mode) names an order for is attached to it if it exists, else waits for it.
        const sameMode = request.livemode === undefined || payment === null || request.livemode === payment.facts.livemode;
        if (!sameMode) return { kind: "ignored", reason: decision.reason, orderId: payment?.orderId ?? null };
        if (payment && !payment.attached && !order && orderId && orderId !== payment.orderId) {
          if (await redis.sismember(k.waiting(orderId), member)) return { kind: "ignored", reason: decision.reason, orderId };
          const batch = new Batch();
          // Not a change to the payment (no version, no event): the order's PUT sees it waiting.
          batch.versions.push([batch.key(k.payment(provider, providerPaymentId)), payment.v]);
          batch.versions.push([batch.key(k.order(orderId)), orderVersion]);
          batch.ops.push(["sadd", batch.key(k.waiting(orderId)), member]);
          batch.ops.push(["touch", batch.key(k.order(orderId))]);
          batch.ops.push(["zadd", batch.key(k.activity), String(now()), `o:${orderId}`]);
          if ((await cas(batch)) === 1) return { kind: "ignored", reason: decision.reason, orderId };
          continue;
        }
        if (!(payment && !payment.attached && order)) return { kind: "ignored", reason: decision.reason, orderId: payment?.orderId ?? orderId };
        facts = payment.facts;
        next = { providerStatus: payment.providerStatus, at: payment.at, state: payment.state };
        providerEvents = [attachEvent(payment)];
      } else {
        facts = decision.payment.facts;
        next = { providerStatus: decision.payment.providerStatus, at: decision.payment.at, state: decision.payment.state };
        providerEvents = decision.events;
      }

      const at = now();
      const batch = new Batch();
      const paymentKey = batch.key(k.payment(provider, providerPaymentId));
      const nextVersion = Number(payment?.v ?? "0") + 1;
      batch.versions.push([paymentKey, payment?.v ?? "0"]);
      batch.strings.push([batch.key(k.ref(provider, providerPaymentId)), refOrderId ?? ""]);
      const attach = order !== null && (!payment || !payment.attached || payment.orderId === order.orderId);
      batch.ops.push(["zadd", batch.key(k.activity), String(at), `p:${member}`]);
      if (orderId) batch.ops.push(["zadd", batch.key(k.activity), String(at), `o:${orderId}`]);
      batch.ops.push([
        "hset",
        paymentKey,
        serializePayment({
          provider,
          providerPaymentId,
          orderId: orderId,
          attached: attach,
          facts,
          ...next,
        }),
      ]);
      let orderContext: Parameters<typeof buildEvent>[4] = null;
      if (orderId) {
        const orderKey = batch.key(k.order(orderId));
        batch.versions.push([orderKey, orderVersion]);
        if (order && attach) {
          const payments = { ...order.payments, [member]: facts };
          const derived = deriveOrder(order, Object.values(payments));
          batch.ops.push([
            "hset",
            orderKey,
            {
              facts: JSON.stringify(payments),
              status: derived.status,
              paidAmount: String(derived.paidAmount),
              updatedAt: new Date(at).toISOString(),
            },
          ]);
          if (!order.payments[member]) batch.ops.push(["sadd", batch.key(k.orderPayments(orderId)), member]);
          orderContext = { terms: order, orderId, derived };
        } else if (!order) {
          // The order does not exist yet: the payment waits for it, and the PUT that creates it
          // sees the order key's version moved and attaches it.
          batch.ops.push(["sadd", batch.key(k.waiting(orderId)), member]);
          batch.ops.push(["touch", orderKey]);
        }
      }
      if (decision.kind === "applied" && decision.index) {
        batch.ops.push(["zadd", batch.key(k.index(provider, decision.index.name)), String(decision.index.score), providerPaymentId]);
        batch.ops.push(["sadd", batch.key(k.indexes), `${provider}:${decision.index.name}`]);
      }
      const events = providerEvents.map((e, index) => buildEvent({ provider, providerPaymentId, facts }, nextVersion, index, e, orderContext));
      pushEvents(batch, provider, providerPaymentId, events, at + OUTBOX_GRACE_MS);
      if ((await cas(batch)) === 1) return { kind: "applied", orderId, events };
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

  /**
   * Outbox entries due for the sweep: written by an order PUT (due at once), or left behind by a
   * worker that died after its ledger write (due OUTBOX_GRACE_MS after it), at least `ageMs` ago.
   */
  async function dueEvents(ageMs = 0, limit = 500): Promise<PaymentEvent[]> {
    return readEvents(await redis.zrangebyscore(k.outbox, "-inf", now() - ageMs, "LIMIT", 0, limit));
  }

  /**
   * Once per ledger (a marker key remembers it), what a ledger written by a version before the
   * order model lacks: every payment that version recorded before its order existed is made to
   * wait for that order (it kept no waiting sets), so the order's PUT attaches it — at once, for
   * an order that exists already; and every
   * payment and order gets its entry in P:activity (by its last change as recorded), so the
   * retention compaction can reach it. Run by every worker at start-up; concurrent runs make the
   * same idempotent writes (ZADD NX). Returns what it did.
   */
  async function upgradeLedger(): Promise<{ waiting: number; activity: number }> {
    const marker = `${P}:upgraded`;
    const done = { waiting: 0, activity: 0 };
    /** orders that exist and have a payment waiting: attached at the end, as their own PUT would */
    const existing = new Set<string>();
    if (await redis.exists(marker)) return done;
    const since = (iso: string | undefined) => Date.parse(iso ?? "") || now();
    const scan = async (pattern: string, each: (key: string) => Promise<void>) => {
      for (const node of primaries(redis)) {
        // A node of a Cluster has no key prefix of its own: the pattern is the full key.
        let cursor = "0";
        do {
          const [next, keys] = await node.scan(cursor, "MATCH", pattern, "COUNT", 500);
          cursor = next;
          for (const key of keys) await each(key);
        } while (cursor !== "0");
      }
    };
    await scan(`${P}:payment:*`, async (key) => {
      if (key.endsWith(":outbox")) return;
      const h = await redis.hgetall(key);
      if (!h["provider"]) return;
      const member = paymentKeyOf(h["provider"], h["providerPaymentId"]!);
      done.activity += Number(await redis.zadd(k.activity, "NX", since(h["at"]), `p:${member}`));
      const orderId = h["orderId"];
      if (!isLegacyPayment(h) || !orderId) return;
      if (await redis.sismember(k.orderPayments(orderId), member)) return;
      await redis.multi().sadd(k.waiting(orderId), member).hincrby(k.order(orderId), "v", 1).exec();
      if (await redis.hexists(k.order(orderId), "orderId")) existing.add(orderId);
      done.waiting++;
    });
    await scan(`${P}:order:*`, async (key) => {
      if (key.endsWith(":payments") || key.endsWith(":waiting")) return;
      const h = await redis.hgetall(key);
      if (!h["orderId"]) return;
      done.activity += Number(await redis.zadd(k.activity, "NX", since(h["updatedAt"]), `o:${h["orderId"]}`));
    });
    // An order the old version created after its payment would wait for its next PUT: attach now,
    // with the order's own terms (one event per attached payment, as a PUT emits).
    for (const orderId of existing) {
      const o = await readOrder(orderId);
      if (!o) continue;
      await putOrder(orderId, {
        amount: o.amount,
        currency: o.currency,
        livemode: o.livemode,
        refundable: o.refundable,
        references: o.references,
        items: o.items,
      });
    }
    await redis.set(marker, new Date(now()).toISOString());
    return done;
  }

  /** Every outbox entry, due or not (audits and tests). */
  async function outboxEvents(limit = 10_000): Promise<PaymentEvent[]> {
    return readEvents(await redis.zrangebyscore(k.outbox, "-inf", "+inf", "LIMIT", 0, limit));
  }

  /**
   * The event is in the queues: it leaves the outbox, and its body goes with it (nothing reads an
   * event body except through the outbox: readEvents is given outbox members only). Once this
   * has run, a retry of the job that wrote the event finds nothing pending and sends nothing.
   */
  async function markEmitted(event: Pick<PaymentEvent, "id" | "provider" | "providerPaymentId">): Promise<void> {
    await redis
      .multi()
      .zrem(k.outbox, event.id)
      .srem(k.paymentOutbox(event.provider, event.providerPaymentId), event.id)
      .del(k.event(event.id))
      .exec();
  }

  /**
   * Takes the outbox event `id` for one sender for `ttlMs`: true for the first caller while the
   * event is still in the outbox; false while another holds it, or once it has left the outbox
   * (a run that read it earlier must not send it again). Two jobs of one payment each find its
   * events in the outbox, and a merchant delivery made in line is not idempotent the way an
   * enqueue with jobId = event id is: the one that gets false leaves the event to the holder
   * (who clears it from the outbox). A holder that dies lets the claim lapse, and the event is
   * still in the outbox.
   */
  async function claimEvent(id: string, ttlMs: number): Promise<boolean> {
    return (await runScript("payhooksClaimEvent", k.outbox, `${k.event(id)}:claim`, id, Math.max(1, Math.round(ttlMs)))) === 1;
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
      const payment = parsePayment(h as Record<string, string>, null);
      return payment ? [payment] : [];
    });
  }

  /**
   * Retention: compacts what is settled, keeping what idempotency needs. A payment is settled
   * when it has no event in the outbox and its last change is older than `retentionMs`; an order
   * when its last change (which every change of an attached payment is) is older than that and
   * none of its payments has an event in the outbox. Members are taken from P:activity, oldest
   * first; one that changes meanwhile is left alone (the version check of ledger-cas).
   *
   * Kept for ever (the tombstone, a few hundred bytes): the payment hash (provider, id, order and
   * attached, facts, the provider state its state machine refuses replays with, v), the order hash
   * without its `items` (terms, references, facts, status, v) and the reference claims, so a
   * replayed notification or a repeated PUT is answered as before. Dropped: the order's items, its
   * payments set (the order's `facts` field names them), its waiting set, its job index entry, the
   * payment's empty outbox set, their P:activity entries, a never-created order's version key with
   * its waiting set (a PUT that arrives after the retention does not pick up payments that named it
   * then; a reference it registers still does), and every index entry whose score (a time in ms:
   * Payme's statement index uses the transaction's create time) is older than `retentionMs` —
   * Payme's GetStatement is never asked about periods that old.
   */
  async function compact(retentionMs: number, batchSize = 500): Promise<{ payments: number; orders: number; left: number; indexEntries: number }> {
    const cutoff = now() - retentionMs;
    const counts = { payments: 0, orders: 0, left: 0, indexEntries: 0 };
    for (;;) {
      // Members not compacted that are still due stay in range: page past them.
      const members = await redis.zrangebyscore(k.activity, "-inf", cutoff, "LIMIT", counts.left, batchSize);
      if (members.length === 0) break;
      for (const m of members) {
        const isPayment = m.startsWith("p:");
        const done = isPayment ? await compactPayment(m.slice(2)) : await compactOrder(m.slice(2));
        if (done && isPayment) counts.payments++;
        else if (done) counts.orders++;
        else {
          // One that changed meanwhile left the range (its score moved on): the offset must not count it.
          const score = await redis.zscore(k.activity, m);
          if (score !== null && Number(score) <= cutoff) counts.left++;
        }
      }
    }
    for (const name of await redis.smembers(k.indexes)) {
      const colon = name.indexOf(":");
      counts.indexEntries += await redis.zremrangebyscore(k.index(name.slice(0, colon), name.slice(colon + 1)), "-inf", cutoff);
    }
    return counts;
  }

  async function compactPayment(member: string): Promise<boolean> {
    const [provider, id] = splitPaymentKey(member);
    const [v, pending] = await Promise.all([redis.hget(k.payment(provider, id), "v"), redis.scard(k.paymentOutbox(provider, id))]);
    if (pending > 0) return false;
    const batch = new Batch();
    batch.versions.push([batch.key(k.payment(provider, id)), v ?? "0"]);
    batch.ops.push(["del", batch.key(k.paymentOutbox(provider, id))]);
    batch.ops.push(["zrem", batch.key(k.activity), `p:${member}`]);
    return (await cas(batch)) === 1;
  }

  async function compactOrder(orderId: string): Promise<boolean> {
    const h = await redis.hgetall(k.order(orderId));
    const batch = new Batch();
    const orderKey = batch.key(k.order(orderId));
    batch.versions.push([orderKey, h["v"] ?? "0"]);
    if (h["orderId"]) {
      const members = h["facts"] !== undefined ? Object.keys(JSON.parse(h["facts"]) as object) : await redis.smembers(k.orderPayments(orderId));
      const pending = await Promise.all(
        members.map((m) => {
          const [provider, id] = splitPaymentKey(m);
          return redis.scard(k.paymentOutbox(provider, id));
        }),
      );
      if (pending.some((n) => n > 0)) return false;
      batch.ops.push(["hdel", orderKey, "items"]);
      // A legacy order (no facts) still reads its payments from the set.
      if (h["facts"] !== undefined) batch.ops.push(["del", batch.key(k.orderPayments(orderId))]);
    } else {
      // Only the version payments bumped while waiting for an order that never came.
      batch.ops.push(["del", orderKey]);
    }
    batch.ops.push(["del", batch.key(k.waiting(orderId))]);
    batch.ops.push(["del", batch.key(k.jobIndex(orderId))]);
    batch.ops.push(["zrem", batch.key(k.activity), `o:${orderId}`]);
    return (await cas(batch)) === 1;
  }

  return {
    compact,
    putOrder,
    getOrder,
    getOrderRecord: readOrder,
    getPayment,
    applyPayment,
    listIndexed,
    pendingEvents,
    dueEvents,
    outboxEvents,
    markEmitted,
    claimEvent,
    upgradeLedger,
  };
}

function parseFacts(h: Record<string, string>): PaymentFacts {
  return {
    status: (h["status"] ?? "unknown") as PaymentStatus,
    currency: h["currency"] || null,
    requested: h["requested"] ? Number(h["requested"]) : null,
    settled: Number(h["settled"] ?? "0"),
    refunded: Number(h["refunded"] ?? "0"),
    livemode: h["livemode"] === "1",
  };
}

/** A payment hash as a record; a legacy one is restated (its order, when attached, gives the amount it was counted for). */
function parsePayment(h: Record<string, string>, legacyOrder: OrderRecord | null): PaymentRecord | null {
  if (!h["provider"]) return null;
  const legacy = isLegacyPayment(h);
  return {
    provider: h["provider"] as ProviderId,
    providerPaymentId: h["providerPaymentId"]!,
    orderId: h["orderId"] || null,
    attached: legacy ? legacyOrder !== null : h["attached"] === "1",
    facts: legacy ? legacyFacts(h, legacyOrder) : parseFacts(h),
    providerStatus: legacy ? legacyProviderStatus(h) : (h["providerStatus"] ?? h["status"] ?? "unknown"),
    at: h["at"]!,
    state: JSON.parse(h["state"] ?? "{}") as Record<string, unknown>,
    v: h["v"] ?? "0",
  };
}

function serializePayment(p: Omit<PaymentRecord, "v">): Record<string, string> {
  return {
    schema: "2",
    provider: p.provider,
    providerPaymentId: p.providerPaymentId,
    orderId: p.orderId ?? "",
    attached: p.attached ? "1" : "0",
    status: p.facts.status,
    providerStatus: p.providerStatus,
    currency: p.facts.currency ?? "",
    requested: p.facts.requested === null ? "" : String(p.facts.requested),
    settled: String(p.facts.settled),
    refunded: String(p.facts.refunded),
    livemode: p.facts.livemode ? "1" : "0",
    at: p.at,
    state: JSON.stringify(p.state),
  };
}
