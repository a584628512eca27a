/**
 * `payhooks simulate payram <scenario>`: Payram's status notices (docs/protocols/payram.md), signed with
 * `X-Payram-Signature: sha256=<HMAC of the raw body>` only — never the legacy `API-Key` header,
 * which is the key itself.
 */
import { randomUUID } from "node:crypto";
import { currencyExponent, formatMinorUnits, type Scenario, type SimulatorPart } from "@payhooks/core";
import type { PayramConfig } from "./config";
import { signForTest } from "./verify";

/** The default order: 49.99 USD in cents. */
const DEFAULT_ORDER = { amount: 4_999, currency: "USD" } as const;

/** Minor units as Payram writes them: "49.99". */
const decimal = (minor: number, currency: string): string => formatMinorUnits(minor, currencyExponent(currency));

type Fill = [status: string, filled: number];

function fillScenario(description: string, fills: (requested: number) => Fill[]): Scenario<PayramConfig> {
  return {
    description,
    async run(ctx) {
      const { order, config } = ctx;
      const reference = order.references.payram;
      if (reference === undefined) {
        // The driver refuses an existing order without one before anything is sent.
        ctx.note(`order ${order.orderId} has no Payram reference: nothing was sent.`);
        return;
      }
      if (order.source === "assumed") ctx.note(`Payram: reference_id ${reference} is new, so the payment cannot be matched to an order.`);
      const requested = order.amount;
      for (const [status, filled] of fills(requested)) {
        const body = JSON.stringify({
          reference_id: reference,
          invoice_id: `INV-${order.orderId}`,
          customer_id: "cust_sim_0001",
          customer_email: "buyer@example.com",
          status,
          amount: decimal(requested, order.currency),
          filled_amount: decimal(filled, order.currency),
          ...(order.currency === "USD" ? { filled_amount_in_usd: decimal(filled, "USD") } : {}),
          currency: order.currency,
          timestamp: Math.floor(Date.now() / 1000),
        });
        const { ok } = await ctx.send({
          name: status,
          path: "/webhooks/payram",
          headers: signForTest(body, config.PAYRAM_WEBHOOK_SECRET ?? "", "signature"),
          body,
          summary: `reference_id ${reference}, amount ${decimal(requested, order.currency)} ${order.currency}, filled_amount ${decimal(filled, order.currency)}`,
          expected: "200 Webhook received successfully",
          accept: (code) => code === 200,
          hint: (code) => (code === 401 ? "401: the signature was refused; check PAYRAM_WEBHOOK_SECRET against the ingress's." : undefined),
          settles: { paymentId: reference, providerStatus: status },
        });
        if (!ok) return;
      }
    },
  };
}

/** Payram's scenarios for `payhooks simulate payram <scenario>`. */
export const payramSimulator: SimulatorPart<PayramConfig> = {
  // The reference is how Payram names the order: an existing order must carry one (references.payram).
  order: () => ({ ...DEFAULT_ORDER, references: { payram: randomUUID() } }),
  missing: (config) =>
    config.PAYRAM_WEBHOOK_SECRET === undefined ? { variable: "PAYRAM_WEBHOOK_SECRET", why: "Payram webhooks are signed with the project API key" } : null,
  scenarios: {
    filled: fillScenario("OPEN, then FILLED for the full amount: order paid", (requested) => [
      ["OPEN", 0],
      ["FILLED", requested],
    ]),
    partial: fillScenario("OPEN, PARTIALLY_FILLED, then FILLED: order partially_paid, then paid", (requested) => [
      ["OPEN", 0],
      ["PARTIALLY_FILLED", Math.max(1, Math.floor(requested * 0.4))],
      ["FILLED", requested],
    ]),
    overpaid: fillScenario("OPEN, then OVER_FILLED with more than requested: order overpaid", (requested) => [
      ["OPEN", 0],
      ["OVER_FILLED", requested + Math.max(1, Math.ceil(requested * 0.1))],
    ]),
  },
};
