import { ORDER_ID_PATTERN, PayloadValidationError, type CallResult, type Envelope, type PaymentDecision, type WorkerContext, type WorkerPart } from "@payhooks/core";
import { attemptOf, decideComplete, decidePrepare, isNamedAttempt, namedOrder, type ClickCurrent, type ClickOutcome } from "./attempt";
import { CLICK_ERRORS, clickReply, type ClickReply } from "./codes";
import type { ClickConfig } from "./config";
import { ClickCallSchema, type ClickCall } from "./request";

const read = (reply: ClickReply, orderId: string | null = null): CallResult => ({ reply, outcome: "read", events: [], orderId });
const echo = (call: ClickCall) => ({ click_trans_id: call.click_trans_id, merchant_trans_id: call.merchant_trans_id });

/** Runs a decision through the ledger's compare-and-set; the answer is the decision that stuck. */
async function transition(
  ctx: WorkerContext<ClickConfig>,
  call: ClickCall,
  clickTransId: string,
  decide: (current: ClickCurrent) => ClickOutcome,
): Promise<CallResult> {
  let reply: ClickReply | undefined;
  const orderId = ORDER_ID_PATTERN.test(call.merchant_trans_id) ? call.merchant_trans_id : null;
  const applied = await ctx.apply({
    provider: "click",
    providerPaymentId: clickTransId,
    ...(orderId ? { orderId } : {}),
    livemode: true,
    decide: (current): PaymentDecision => {
      const outcome = decide(current);
      reply = outcome.reply;
      return outcome.decision;
    },
  });
  return { reply: reply!, outcome: applied.result.kind, events: applied.events, orderId: applied.result.orderId ?? orderId };
}

/**
 * The attempt a Complete names, found through its order: Complete is matched by our
 * `merchant_prepare_id`, not by `click_trans_id` (Click's tester sends a fresh one). The
 * order's payments are its attempts (a Prepare creates one only for an existing order), so no
 * separate index is kept. The mapping never changes once written; the transition itself
 * re-reads the attempt under the compare-and-set.
 */
async function findAttempt(ctx: WorkerContext<ClickConfig>, call: ClickCall, paymentIds: readonly string[]): Promise<string | null> {
  const records = await Promise.all(paymentIds.map((id) => ctx.ledger.getPayment("click", id)));
  const named = records.filter((p) => isNamedAttempt(call, p) && attemptOf(p) !== null);
  // One attempt per merchant_prepare_id; should the counter ever repeat an id (a Redis that lost
  // it), the attempt of this very click_trans_id wins over an older one.
  const found = named.find((p) => attemptOf(p)!.clickTransId === call.click_trans_id) ?? named[0];
  return found ? found.providerPaymentId : null;
}

/**
 * Answers one Prepare or Complete (docs/protocols/click.md#prepare, #complete) from the ledger.
 * A payload that is no Click call cannot come from the ingress: the job fails and the caller
 * hears -7.
 */
export async function answerClick(envelope: Envelope, ctx: WorkerContext<ClickConfig>): Promise<CallResult> {
  const parsed = ClickCallSchema.safeParse(envelope.payload);
  if (envelope.provider !== "click" || !parsed.success) throw new PayloadValidationError("invalid click call");
  const call = parsed.data;
  const now = ctx.clock();
  if (call.action === 0) return transition(ctx, call, call.click_trans_id, (current) => decidePrepare(call, current, { now }));

  const orderId = ORDER_ID_PATTERN.test(call.merchant_trans_id) ? call.merchant_trans_id : null;
  const order = namedOrder(call, orderId ? await ctx.ledger.getOrderRecord(orderId) : null);
  if (!order) return read(clickReply(CLICK_ERRORS.USER_NOT_FOUND, echo(call)), orderId);
  const attempts = Object.keys(order.payments)
    .filter((member) => member.startsWith("click/"))
    .map((member) => member.slice("click/".length));
  const clickTransId = await findAttempt(ctx, call, attempts);
  if (clickTransId === null) return read(clickReply(CLICK_ERRORS.TRANSACTION_NOT_FOUND, echo(call)), order.orderId);
  return transition(ctx, call, clickTransId, (current) => decideComplete(call, current, { now }));
}

export const clickWorker: WorkerPart<ClickConfig> = { kind: "request-reply", answer: answerClick };
