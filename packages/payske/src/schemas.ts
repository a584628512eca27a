import { z } from "zod";
import { ORDER_ID_PATTERN, PayloadValidationError, jobIdFor, type ProviderId } from "@payhooks/core";

/**
 * A Stripe-style v1 event (docs/protocols/payske.md#fields-read). Loose: Payske may add fields. Only what the
 * ingress needs to accept and deduplicate it is required here; `data.object` is read by the
 * worker, per event type.
 */
export const PayskeEventSchema = z.looseObject({
  id: z.string().regex(/^[A-Za-z0-9_]{1,255}$/, "must be an event id such as evt_…"),
  object: z.literal("event"),
  type: z.string().min(1).max(128),
  created: z.number().int().nonnegative().max(253_402_300_799),
  livemode: z.boolean(),
  data: z.looseObject({ object: z.record(z.string(), z.unknown()) }),
});
export type PayskeEvent = z.infer<typeof PayskeEventSchema>;

/** The event as the worker reads it, or PayloadValidationError naming the first bad field (the job is quarantined). */
export function parsePayskeEvent(body: unknown): PayskeEvent {
  const parsed = PayskeEventSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PayloadValidationError(`${issue?.path.join(".") || "event"}: ${issue?.message ?? "invalid"}`);
  }
  return parsed.data;
}

/** What the ingress reads of any authenticated delivery, to name its job and take its mode; nothing here refuses. */
export function readPayskeDelivery(body: unknown): { id: string | null; type: string | null; livemode: boolean | null; thin: boolean } {
  const b = typeof body === "object" && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  const id = typeof b["id"] === "string" && /^[A-Za-z0-9_]{1,255}$/.test(b["id"]) ? b["id"] : null;
  const type = typeof b["type"] === "string" && /^[A-Za-z0-9_.]{1,128}$/.test(b["type"]) ? b["type"] : null;
  const livemode = typeof b["livemode"] === "boolean" ? b["livemode"] : null;
  return { id, type, livemode, thin: b["object"] === THIN_EVENT_OBJECT };
}

/**
 * A thin event (Stripe's event notifications, `object: "v2.core.event"`) carries no object, only
 * a pointer to fetch: it is acknowledged and recorded, and it moves no money.
 */
export const THIN_EVENT_OBJECT = "v2.core.event";

/** One job per event: a redelivered event is the same job (docs/protocols/payske.md#retries-and-idempotency). */
export function payskeJobId(event: Pick<PayskeEvent, "id">, provider: ProviderId = "payske"): string {
  return jobIdFor(provider, [event.id]);
}

const Id = z.string().min(1).max(255);
const MinorUnits = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const Currency = z.string().regex(/^[a-zA-Z]{3}$/).transform((c) => c.toUpperCase());
const Metadata = z.record(z.string(), z.unknown()).nullish();
/** Expandable references arrive as an id or as the expanded object. */
const Ref = z.union([Id, z.looseObject({ id: Id })]).nullish().transform((r) => (r == null ? null : typeof r === "string" ? r : r.id));

const PaymentIntent = z.looseObject({
  id: Id,
  amount: MinorUnits,
  amount_received: MinorUnits.nullish(),
  currency: Currency,
  metadata: Metadata,
  last_payment_error: z.looseObject({ code: z.string().nullish(), decline_code: z.string().nullish() }).nullish(),
});
/** Before `amount_total` (API versions before 2020), a session listed what it sold here. */
const DisplayItem = z.looseObject({ amount: MinorUnits, currency: Currency, quantity: z.number().int().positive().max(1_000_000) });
const CheckoutSession = z.looseObject({
  id: Id,
  payment_intent: Ref,
  payment_status: z.string().nullish(),
  amount_total: MinorUnits.nullish(),
  currency: Currency.nullish(),
  display_items: z.array(DisplayItem).nullish(),
  client_reference_id: z.string().nullish(),
  metadata: Metadata,
});
const Charge = z.looseObject({
  id: Id,
  payment_intent: Ref,
  amount: MinorUnits,
  amount_refunded: MinorUnits,
  currency: Currency,
  metadata: Metadata,
});
const Dispute = z.looseObject({
  id: Id,
  charge: Ref,
  payment_intent: Ref,
  amount: MinorUnits,
  currency: Currency,
  reason: z.string().nullish(),
  metadata: Metadata,
});

/** What an event means for the ledger. `other` is recorded on the job and changes nothing. */
export type PayskeChange =
  /** `requested`: what it was for; `amount`: what it received (null: the event does not say) */
  | { kind: "succeeded"; requested: number | null; amount: number | null; currency: string | null }
  | { kind: "failed"; amount: number; currency: string; failureCode: string | null }
  | { kind: "refunded"; chargeAmount: number; amountRefunded: number; currency: string }
  | { kind: "disputed"; disputeId: string; amount: number; currency: string; reason: string | null };

export type PayskeNotification = {
  eventId: string;
  type: string;
  /** ms since epoch, from the event's `created` */
  createdMs: number;
  livemode: boolean;
  /** the payment in the ledger: the PaymentIntent when there is one, else the object itself */
  paymentId: string;
  /** from metadata[orderKey], or a Checkout Session's client_reference_id */
  orderId: string | null;
  change: PayskeChange;
};

function parseObject<T extends z.ZodType>(schema: T, event: PayskeEvent): z.infer<T> {
  const parsed = schema.safeParse(event.data.object);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PayloadValidationError(`${event.type}: data.object.${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"}`);
  }
  return parsed.data;
}

/**
 * What a Checkout Session charged: `amount_total`, or — for sessions of API versions before it
 * existed — the sum of `display_items` when they are all in one currency. Null when it says neither.
 */
function sessionTotal(session: z.infer<typeof CheckoutSession>): { amount: number | null; currency: string | null } {
  if (session.amount_total !== null && session.amount_total !== undefined) return { amount: session.amount_total, currency: session.currency ?? null };
  const items = session.display_items ?? [];
  const currencies = new Set(items.map((i) => i.currency));
  if (items.length === 0 || currencies.size !== 1) return { amount: null, currency: session.currency ?? null };
  const total = items.reduce((sum, i) => sum + i.amount * i.quantity, 0);
  return Number.isSafeInteger(total) ? { amount: total, currency: [...currencies][0]! } : { amount: null, currency: null };
}

/**
 * The order an object names: metadata[orderKey], else the fallback (a session's
 * client_reference_id). A value that is no order id (ORDER_ID_PATTERN) names no order: it would
 * become part of a Redis key, and no order could have it (the admin API refuses such ids).
 */
function orderFrom(metadata: Record<string, unknown> | null | undefined, orderKey: string, fallback?: string | null): string | null {
  const value = metadata?.[orderKey];
  if (typeof value === "string" && ORDER_ID_PATTERN.test(value)) return value;
  return typeof fallback === "string" && ORDER_ID_PATTERN.test(fallback) ? fallback : null;
}

/**
 * The mapped event types (README, "Payske's mapping"), or null for any other type. Throws PayloadValidationError
 * when a mapped type carries an object that is not what its type says.
 */
export function toPayskeNotification(event: PayskeEvent, orderKey: string): PayskeNotification | null {
  const base = { eventId: event.id, type: event.type, createdMs: event.created * 1000, livemode: event.livemode };
  switch (event.type) {
    case "payment_intent.succeeded": {
      const pi = parseObject(PaymentIntent, event);
      return {
        ...base,
        paymentId: pi.id,
        orderId: orderFrom(pi.metadata, orderKey),
        change: { kind: "succeeded", requested: pi.amount, amount: pi.amount_received ?? pi.amount, currency: pi.currency },
      };
    }
    case "checkout.session.completed":
    case "checkout.session.async_payment_succeeded": {
      const session = parseObject(CheckoutSession, event);
      const { amount, currency } = sessionTotal(session);
      // A completed session with payment still pending (bank debits) is not a payment yet. Before
      // `payment_status` existed (API versions before 2020), a session completed only once paid.
      if (session.payment_status !== undefined && session.payment_status !== null && session.payment_status !== "paid") return null;
      return {
        ...base,
        paymentId: session.payment_intent ?? session.id,
        orderId: orderFrom(session.metadata, orderKey, session.client_reference_id),
        change: { kind: "succeeded", requested: amount, amount, currency },
      };
    }
    case "payment_intent.payment_failed": {
      const pi = parseObject(PaymentIntent, event);
      return {
        ...base,
        paymentId: pi.id,
        orderId: orderFrom(pi.metadata, orderKey),
        change: { kind: "failed", amount: pi.amount, currency: pi.currency, failureCode: pi.last_payment_error?.decline_code ?? pi.last_payment_error?.code ?? null },
      };
    }
    case "charge.refunded": {
      const charge = parseObject(Charge, event);
      return {
        ...base,
        paymentId: charge.payment_intent ?? charge.id,
        orderId: orderFrom(charge.metadata, orderKey),
        change: { kind: "refunded", chargeAmount: charge.amount, amountRefunded: charge.amount_refunded, currency: charge.currency },
      };
    }
    case "charge.dispute.created": {
      const dispute = parseObject(Dispute, event);
      return {
        ...base,
        paymentId: dispute.payment_intent ?? dispute.charge ?? dispute.id,
        orderId: orderFrom(dispute.metadata, orderKey),
        change: { kind: "disputed", disputeId: dispute.id, amount: dispute.amount, currency: dispute.currency, reason: dispute.reason ?? null },
      };
    }
    default:
      return null;
  }
}

/**
 * Checks what the worker will read of an event: a mapped type whose `data.object` is not what
 * its type says (a negative, fractional or unsafe amount, a bad currency …) throws
 * PayloadValidationError. The ingress does not call it: every verified delivery is acknowledged
 * 200 and queued, and the worker quarantines one it cannot read (docs/protocols/payske.md#answers).
 * Unmapped types pass; the order metadata key picks, never refuses.
 */
export function checkPayskeObject(event: PayskeEvent): void {
  toPayskeNotification(event, "order_id");
}
