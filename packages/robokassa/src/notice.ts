import { ORDER_ID_PATTERN } from "@payhooks/core";

/** URLSearchParams → first value of each name (a repeated name does not change what was signed first). */
export function firstValues(search: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of search) if (!Object.hasOwn(out, key)) out[key] = value;
  return out;
}

/** What a ResultURL (or SuccessURL) notice says, in our terms. */
export type RobokassaNotice = {
  invId: string;
  /** exactly as received: it is what was signed */
  outSum: string;
  livemode: boolean;
  /** the order: the Shp parameter named by ROBOKASSA_ORDER_PARAM, or else InvId */
  orderId: string | null;
  /** Shp_ parameters as received */
  shp: Record<string, string>;
  fee: string | null;
  paymentMethod: string | null;
  incCurrLabel: string | null;
};

const DECIMAL = /^\d{1,15}(\.\d{1,8})?$/;
const INV_ID = /^\d{1,19}$/;

/**
 * The parameters every signed notice needs, checked before the signature: a short reason for a
 * 400 (`missing OutSum`, `bad InvId` …), or the notice.
 */
export function readNotice(
  params: Readonly<Record<string, string>>,
  orderParam: string | null,
): { ok: true; notice: RobokassaNotice } | { ok: false; reason: string } {
  for (const name of ["OutSum", "InvId", "SignatureValue"]) {
    if (!params[name]) return { ok: false, reason: `missing ${name}` };
  }
  const outSum = params["OutSum"]!;
  const invId = params["InvId"]!;
  if (!DECIMAL.test(outSum)) return { ok: false, reason: "bad OutSum" };
  if (!INV_ID.test(invId)) return { ok: false, reason: "bad InvId" };
  const shp = Object.fromEntries(Object.entries(params).filter(([k]) => k.toLowerCase().startsWith("shp_")));
  return {
    ok: true,
    notice: {
      invId,
      outSum,
      livemode: params["IsTest"] !== "1",
      orderId: orderIdOf(params, invId, orderParam),
      shp,
      fee: params["Fee"] ?? null,
      paymentMethod: params["PaymentMethod"] ?? null,
      incCurrLabel: params["IncCurrLabel"] ?? null,
    },
  };
}

/**
 * The order a notice names: the Shp parameter ROBOKASSA_ORDER_PARAM (name matched
 * case-insensitively), else InvId. A Shp value that is no order id (ORDER_ID_PATTERN) names no
 * order: it would become part of a Redis key, and no order could have it.
 */
export function orderIdOf(params: Readonly<Record<string, string>>, invId: string | undefined, orderParam: string | null): string | null {
  if (orderParam) {
    const wanted = orderParam.toLowerCase();
    const entry = Object.entries(params).find(([k]) => k.toLowerCase() === wanted);
    return entry && ORDER_ID_PATTERN.test(entry[1]) ? entry[1] : null;
  }
  return invId && INV_ID.test(invId) ? invId : null;
}

/**
 * One job per invoice and mode, `robokassa-{live|test}-{InvId}` (docs/protocols/robokassa.md#retries-and-idempotency): a redelivered
 * notice is the same job. InvId is digits only (readNotice), so the id is unambiguous and BullMQ-safe.
 */
export function robokassaJobId(notice: Pick<RobokassaNotice, "invId" | "livemode">): string {
  return `robokassa-${notice.livemode ? "live" : "test"}-${notice.invId}`;
}

/** The ledger's payment id: the InvId, prefixed in test mode so test invoices never meet live ones. */
export function robokassaPaymentId(notice: Pick<RobokassaNotice, "invId" | "livemode">): string {
  return notice.livemode ? notice.invId : `test-${notice.invId}`;
}
