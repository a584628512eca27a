import { currencyExponent, toMinorUnits, type OrderRecord, type PaymentDecision, type PaymentRecord } from "@payhooks/core";
import type { RobokassaNotice } from "./notice";

/** `OutSum` in minor units of `currency`, or null when it has more precision than the currency (`100.005`). */
export function outSumMinor(outSum: string, currency: string): number | null {
  try {
    return toMinorUnits(outSum, currencyExponent(currency));
  } catch {
    return null;
  }
}

/**
 * A ResultURL notice against the ledger. The first notice of an invoice (per mode) is the one
 * recorded; repeats change nothing. The payment settled `OutSum`, an exact decimal in the shop's
 * currency (RoboKassa states no other amount); `IsTest=1` makes it a test payment. Whether it
 * pays its order (same mode, currency and amount) is the core's rule.
 */
export function decideRobokassa(
  n: RobokassaNotice,
  current: { payment: PaymentRecord | null; order: OrderRecord | null },
  shopCurrency: string,
  receivedAt: number,
): PaymentDecision {
  if (current.payment) return { kind: "ignored", reason: "invoice already recorded" };
  // OutSum is always in the shop's currency, whatever the order says.
  const currency = shopCurrency;
  const amount = outSumMinor(n.outSum, currency);
  const occurredAt = new Date(receivedAt).toISOString();
  return {
    kind: "applied",
    payment: {
      facts: {
        // An OutSum finer than the currency's minor unit is no amount any order can have.
        status: amount === null ? "unknown" : "succeeded",
        currency,
        requested: amount,
        settled: amount ?? 0,
        refunded: 0,
        livemode: n.livemode,
      },
      providerStatus: "paid",
      at: occurredAt,
      state: { invId: n.invId, outSum: n.outSum },
    },
    events: [
      {
        type: amount === null ? "payment.amount_mismatch" : "payment.succeeded",
        amount,
        currency,
        occurredAt,
        data: {
          invId: n.invId,
          outSum: n.outSum,
          ...(amount === null ? { mismatch: { reason: "amount", detail: `OutSum has more decimals than ${currency} allows` } } : {}),
          ...(n.fee !== null ? { fee: n.fee } : {}),
          ...(n.paymentMethod !== null ? { paymentMethod: n.paymentMethod } : {}),
          ...(n.incCurrLabel !== null ? { incCurrLabel: n.incCurrLabel } : {}),
        },
      },
    ],
  };
}
