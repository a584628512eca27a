/**
 * `payhooks simulate robokassa <scenario>`: a ResultURL notice (docs/protocols/robokassa.md), POSTed as
 * RoboKassa posts it and signed `OutSum:InvId:Password#2[:Shp_…]` with the shop's algorithm.
 */
import { randomInt } from "node:crypto";
import { currencyExponent, formatMinorUnits, type Scenario, type SimulatorPart } from "@payhooks/core";
import type { RobokassaConfig } from "./config";
import { signForTest } from "./verify";

/** The default order: 1 500 in kopecks (OutSum 1500.000000), in the shop's currency. */
const DEFAULT_AMOUNT = 150_000;
/** RoboKassa's InvId is an int32 in the shop cabinet; a simulated one stays in its range. */
const MAX_INV_ID = 2_147_483_647;

/** Minor units as RoboKassa writes them: "1500.000000" (6 places). */
function outSumOf(minor: number, currency: string): string {
  const [whole, fraction = ""] = formatMinorUnits(minor, currencyExponent(currency)).split(".");
  return `${whole}.${fraction.padEnd(6, "0")}`;
}

function resultScenario(kind: "result" | "test", description: string): Scenario<RobokassaConfig> {
  const test = kind === "test";
  const variable = test ? "ROBOKASSA_TEST_PASSWORD2" : "ROBOKASSA_PASSWORD2";
  return {
    description,
    missing: (config) =>
      config[variable] !== undefined
        ? null
        : { variable, why: test ? "an IsTest=1 notice is signed with the test Password #2" : "a ResultURL notice is signed with Password #2" },
    async run(ctx) {
      const { order, config } = ctx;
      const orderParam = config.ROBOKASSA_ORDER_PARAM ?? null;
      const currency = config.ROBOKASSA_CURRENCY;
      const algorithm = config.ROBOKASSA_HASH;
      // Without ROBOKASSA_ORDER_PARAM the InvId is the order id (`orderIds: "numeric"`).
      const invId = orderParam === null ? order.orderId : String(randomInt(100_000_000, MAX_INV_ID));
      const outSum = outSumOf(order.amount, order.currency);
      // RoboKassa's commission, as it reports it in Fee (3.9 %, a typical card rate).
      const fee = outSumOf(Math.round(order.amount * 0.039), order.currency);
      const params: Record<string, string> = {
        OutSum: outSum,
        InvId: invId,
        Fee: fee,
        EMail: "buyer@example.com",
        PaymentMethod: "BankCard",
        IncCurrLabel: "BankCardPSR",
        ...(test ? { IsTest: "1" } : {}),
        ...(orderParam ? { [orderParam]: order.orderId } : {}),
      };
      const signed = signForTest(params, config[variable] ?? "", algorithm);
      const { ok } = await ctx.send({
        name: test ? "ResultURL (IsTest=1)" : "ResultURL",
        path: "/webhooks/robokassa/result",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(signed).toString(),
        summary: `InvId ${invId}, OutSum ${outSum} ${currency}${orderParam ? `, ${orderParam} ${order.orderId}` : ""}, ${algorithm} with ${test ? "test " : ""}Password #2`,
        expected: `200 OK${invId}`,
        accept: (status, answer) => status === 200 && answer === `OK${invId}`,
        hint: (status, answer) =>
          answer === "bad sign"
            ? `The signature was refused: check ROBOKASSA_${test ? "TEST_" : ""}PASSWORD2, ROBOKASSA_HASH and ROBOKASSA_ORDER_PARAM against the ingress's.`
            : status === 503
              ? "503: RoboKassa is not configured on the ingress (ROBOKASSA_PASSWORD1 and 2), or Redis did not confirm the job."
              : undefined,
        settles: { paymentId: test ? `test-${invId}` : invId },
      });
      if (!ok) return;
      if (test) ctx.note("test: IsTest=1 notices are recorded (payment test-{InvId}, livemode false) but never move an order: it stays as it was.");
      if (order.currency !== currency) ctx.note(`the order is in ${order.currency}, the shop in ${currency} (ROBOKASSA_CURRENCY): expect payment.amount_mismatch.`);
    },
  };
}

/** RoboKassa's scenarios for `payhooks simulate robokassa <scenario>`. */
export const robokassaSimulator: SimulatorPart<RobokassaConfig> = {
  order: (config) => ({ amount: DEFAULT_AMOUNT, currency: config.ROBOKASSA_CURRENCY }),
  orderIds: (config) => (config.ROBOKASSA_ORDER_PARAM === undefined ? "numeric" : "any"),
  // Each scenario needs its own Password #2 (live or test): see Scenario.missing.
  missing: () => null,
  scenarios: {
    result: resultScenario("result", "a ResultURL notice (POST) paying the order in full: answered OK{InvId}, order paid"),
    test: resultScenario("test", "a ResultURL notice with IsTest=1, signed with the test Password #2: recorded, order unchanged"),
  },
};
