/**
 * `payhooks simulate payske <scenario>` (and `stripe`): Stripe-style events
 * (docs/protocols/payske.md, #stripe-instance), signed `t=…,v1=…` with the endpoint's first live
 * secret. One factory serves every endpoint of the scheme: Payske at /webhooks/payske
 * (`payske-signature`), Stripe at /webhooks/stripe (`stripe-signature`); they differ only in
 * route, header and variable names.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { Scenario, SimulatorPart } from "@payhooks/core";
import type { PayskeSettings } from "./config";
import { signForTest } from "./verify";

export type PayskeSimulatorOptions<C> = {
  /** the provider id the registry serves it under (`payske`, `stripe`) */
  provider: string;
  /** the route, e.g. `/webhooks/payske` */
  path: string;
  /** the lower-cased signature header, e.g. `payske-signature` */
  signatureHeader: string;
  /** the endpoint's settings out of the configuration (payskeConfigFor(…).settings) */
  settings: (config: C) => PayskeSettings;
  /** the variable of the live signing secrets, e.g. `PAYSKE_WEBHOOK_SECRET` */
  secretVariable: string;
};

/** The default order: 49.99 USD in cents. */
const DEFAULT_ORDER = { amount: 4_999, currency: "USD" } as const;

const ALPHANUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/** A Stripe-style object id: `pi_3` + 24 alphanumerics. */
const stripeId = (prefix: string): string => prefix + [...randomBytes(24)].map((b) => ALPHANUM[b % ALPHANUM.length]).join("");

type Event = { id: string; type: string; [key: string]: unknown };
/** One delivery: the event, its line for the report, and the payment it leaves in which provider status. */
type Delivery = { body: Event; summary: string; payment: string; status: string };

const SCENARIOS = {
  succeeded: "payment_intent.succeeded for the order: paid",
  refunded: "payment_intent.succeeded, then charge.refunded in full: refunded",
  failed: "payment_intent.payment_failed (card declined): order stays awaiting_payment",
  checkout: "checkout.session.completed, paid, naming the order by client_reference_id: paid",
} as const;
type ScenarioName = keyof typeof SCENARIOS;

/** The events a scenario delivers, in order, for `order` (ids fresh each run). */
function deliveriesFor(scenario: ScenarioName, order: { orderId: string; amount: number; currency: string }, orderKey: string): Delivery[] {
  const currency = order.currency.toLowerCase();
  const pi = stripeId("pi_3");
  const charge = stripeId("ch_3");
  const metadata = { [orderKey]: order.orderId };
  const createdAt = Math.floor(Date.now() / 1000);
  const paymentIntent = {
    id: pi,
    object: "payment_intent",
    amount: order.amount,
    amount_received: order.amount,
    currency,
    status: "succeeded",
    latest_charge: charge,
    payment_method_types: ["card"],
    description: `Order ${order.orderId}`,
    metadata,
    created: createdAt,
    livemode: true,
  };
  const event = (type: string, object: Record<string, unknown>, extra: Record<string, unknown> = {}): Event => ({
    id: stripeId("evt_1"),
    object: "event",
    api_version: "2024-06-20",
    created: Math.floor(Date.now() / 1000),
    data: { object, ...extra },
    livemode: true,
    pending_webhooks: 1,
    request: { id: stripeId("req_"), idempotency_key: randomUUID() },
    type,
  });

  const deliveries: Delivery[] = [];
  const paid = (what: string) => `${what} ${order.amount} ${currency}, metadata.${orderKey} ${order.orderId}`;
  switch (scenario) {
    case "succeeded":
    case "refunded":
      deliveries.push({ body: event("payment_intent.succeeded", paymentIntent), summary: `${pi}, ${paid("amount_received")}`, payment: pi, status: "succeeded" });
      if (scenario === "refunded") {
        const refunded = {
          id: charge,
          object: "charge",
          amount: order.amount,
          amount_captured: order.amount,
          amount_refunded: order.amount,
          captured: true,
          refunded: true,
          currency,
          payment_intent: pi,
          status: "succeeded",
          metadata,
          created: createdAt,
          livemode: true,
        };
        deliveries.push({
          body: event("charge.refunded", refunded, { previous_attributes: { amount_refunded: 0, refunded: false } }),
          summary: `${charge} of ${pi}, amount_refunded ${order.amount} of ${order.amount} ${currency}`,
          payment: pi,
          status: "refunded",
        });
      }
      break;
    case "failed":
      deliveries.push({
        body: event("payment_intent.payment_failed", {
          ...paymentIntent,
          amount_received: 0,
          status: "requires_payment_method",
          latest_charge: null,
          last_payment_error: { type: "card_error", code: "card_declined", decline_code: "insufficient_funds", message: "Your card has insufficient funds." },
        }),
        summary: `${pi}, ${paid("amount")}, card_declined / insufficient_funds`,
        payment: pi,
        status: "failed",
      });
      break;
    case "checkout": {
      const session = {
        id: stripeId("cs_live_a1"),
        object: "checkout.session",
        mode: "payment",
        status: "complete",
        payment_status: "paid",
        amount_subtotal: order.amount,
        amount_total: order.amount,
        currency,
        client_reference_id: order.orderId,
        customer_details: { email: "buyer@example.com" },
        payment_intent: pi,
        // The order travels in client_reference_id only: that is the path this scenario exercises.
        metadata: {},
        created: createdAt,
        livemode: true,
      };
      deliveries.push({
        body: event("checkout.session.completed", session),
        summary: `${session.id} (payment_intent ${pi}), amount_total ${order.amount} ${currency}, client_reference_id ${order.orderId}`,
        payment: pi,
        status: "succeeded",
      });
      break;
    }
    default: {
      const exhaustive: never = scenario;
      return exhaustive;
    }
  }
  return deliveries;
}

/**
 * The simulator of one Stripe-scheme endpoint. Payske's own: `payskeSimulatorFor({ provider:
 * "payske", path: "/webhooks/payske", signatureHeader: "payske-signature", settings:
 * payskeConfigFor("PAYSKE", "payske").settings, secretVariable: "PAYSKE_WEBHOOK_SECRET" })`.
 */
export function payskeSimulatorFor<C>(options: PayskeSimulatorOptions<C>): SimulatorPart<C> {
  const name = options.provider.charAt(0).toUpperCase() + options.provider.slice(1);
  const scenario = (key: ScenarioName): Scenario<C> => ({
    description: SCENARIOS[key],
    async run(ctx) {
      const settings = options.settings(ctx.config);
      const secret = settings.secrets[0] ?? "";
      for (const delivery of deliveriesFor(key, ctx.order, settings.orderMetadataKey)) {
        const body = JSON.stringify(delivery.body);
        const { ok } = await ctx.send({
          name: delivery.body.type,
          path: options.path,
          headers: { "content-type": "application/json; charset=utf-8", [options.signatureHeader]: signForTest(body, secret, Math.floor(Date.now() / 1000)) },
          body,
          summary: `${delivery.body.id}: ${delivery.summary}`,
          expected: '200 {"received":true}',
          accept: (status, answer) => status === 200 && (answer as { received?: unknown } | null)?.received === true,
          hint: (status) =>
            status === 400
              ? `400: the ingress refused the delivery; check ${options.secretVariable} (and the clocks, for timestamp_out_of_tolerance).`
              : undefined,
          settles: { paymentId: delivery.payment, providerStatus: delivery.status },
        });
        if (!ok) return;
      }
    },
  });
  return {
    order: () => ({ ...DEFAULT_ORDER }),
    missing: (config) =>
      options.settings(config).secrets.length === 0 ? { variable: options.secretVariable, why: `${name} deliveries are signed with the endpoint secret` } : null,
    scenarios: {
      succeeded: scenario("succeeded"),
      refunded: scenario("refunded"),
      failed: scenario("failed"),
      checkout: scenario("checkout"),
    },
  };
}
