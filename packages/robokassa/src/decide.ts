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
 * A ResultURL notice against the ledger (issue 4). The first notice of an invoice (per mode) is
 * the one recorded; repeats change nothing. OutSum equal to the order's amount, as an exact
 * decimal in the order's currency (which must be the shop's) → order `paid`, `payment.succeeded`;
 * different → order unchanged, `payment.amount_mismatch`; no such order → recorded, no order.
 * Test-mode money never moves an order.
 */
export function decideRobokassa(
  n: RobokassaNotice,
  current: { payment: PaymentRecord | null; order: OrderRecord | null },
  shopCurrency: string,
  receivedAt: number,
): PaymentDecision {
  if (current.payment) return { kind: "ignored", reason: "invoice already recorded" };
  const order = current.order;
  // OutSum is always in the shop's currency, whatever the order says.
  const currency = shopCurrency;
  const amount = outSumMinor(n.outSum, currency);
  const matches = order !== null && order.currency === shopCurrency && amount === order.amount;
  const moves = matches && n.livemode;
  const occurredAt = new Date(receivedAt).toISOString();
  const paidAfter = order ? order.paidAmount + (moves ? amount! : 0) : 0;
  return {
    kind: "applied",
    payment: {
      status: order && !matches ? "amount_mismatch" : "paid",
      amount,
      currency,
      at: occurredAt,
      livemode: n.livemode,
      contribution: moves ? amount! : 0,
      state: { invId: n.invId, outSum: n.outSum },
    },
    ...(moves ? { orderStatus: paidAfter > order!.amount ? "overpaid" : "paid" } : {}),
    events: [
      {
        type: order && !matches ? "payment.amount_mismatch" : "payment.succeeded",
        amount,
        currency,
        occurredAt,
        data: {
          invId: n.invId,
          outSum: n.outSum,
          ...(n.fee !== null ? { fee: n.fee } : {}),
          ...(n.paymentMethod !== null ? { paymentMethod: n.paymentMethod } : {}),
          ...(n.incCurrLabel !== null ? { incCurrLabel: n.incCurrLabel } : {}),
          ...(order && !matches ? { orderAmount: order.amount, orderCurrency: order.currency } : {}),
        },
      },
    ],
  };
}
