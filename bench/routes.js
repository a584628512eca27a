// The requests the benchmark sends, one generator per route. Every request is a new delivery
// (a new payment id), signed as the provider signs it, so every one is a real verify and enqueue.
const { signForTest: signPayram } = require("../packages/payram/dist");
const { signForTest: signPayske } = require("../packages/payske/dist");
const { signForTest: signRobokassa } = require("../packages/robokassa/dist");

const ADMIN_TOKEN = "bench-admin-token-0123456789";
const SECRETS = { payram: "bench-payram-key", payske: "whsec_bench_payske_key", robokassa: ["bench-rk-pass-1", "bench-rk-pass-2"], payme: "bench-payme-key" };

/** The environment of every benchmarked process: all four providers, the admin API (metrics) on. */
const BENCH_ENV = {
  PAYRAM_WEBHOOK_SECRET: SECRETS.payram,
  PAYSKE_WEBHOOK_SECRET: SECRETS.payske,
  ROBOKASSA_PASSWORD1: SECRETS.robokassa[0],
  ROBOKASSA_PASSWORD2: SECRETS.robokassa[1],
  PAYME_KEY: SECRETS.payme,
  ADMIN_TOKEN,
  QUEUE_PREFIX: "bench",
};

let seq = 0;
const run = `${process.pid}x${Date.now().toString(36)}`;
const next = () => ++seq;

/** A body of the size and shape the providers send, for the bare server. */
const BARE_BODY = JSON.stringify({ reference_id: "bench-0", invoice_id: "inv-0", status: "FILLED", amount: "49.99", filled_amount: "49.99", currency: "USD", customer_email: "buyer@example.com" });

function payramBody(n) {
  return JSON.stringify({ reference_id: `bench-${run}-${n}`, invoice_id: `inv-${n}`, status: "FILLED", amount: "49.99", filled_amount: "49.99", currency: "USD", customer_email: "buyer@example.com" });
}

function payskeBody(n) {
  const now = Math.floor(Date.now() / 1000);
  return JSON.stringify({
    id: `evt_bench_${run}_${n}`,
    object: "event",
    api_version: "2024-06-20",
    created: now,
    data: { object: { id: `pi_bench_${run}_${n}`, object: "payment_intent", amount: 4999, amount_received: 4999, currency: "usd", status: "succeeded", metadata: { order_id: `bench-order-${n}` }, created: now, livemode: true } },
    livemode: true,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: "payment_intent.succeeded",
  });
}

const paymeAuthorization = `Basic ${Buffer.from(`Paycom:${SECRETS.payme}`).toString("base64")}`;

/**
 * autocannon options per route for an ingress at `ingress.url` (or the bare server at `bareUrl`).
 * `setup` (optional) prepares state the route needs, through the admin API.
 */
function routes(ingress, bareUrl) {
  const post = (path, make) => ({
    url: `${ingress.url}${path}`,
    method: "POST",
    requests: [{ setupRequest: (req) => ({ ...req, ...make(next()) }) }],
  });
  return {
    bare: { request: { url: bareUrl, method: "POST", body: BARE_BODY, headers: { "content-type": "application/json" } } },
    payram: {
      request: post("/webhooks/payram", (n) => {
        const body = payramBody(n);
        return { body, headers: signPayram(body, SECRETS.payram, "signature") };
      }),
    },
    payske: {
      request: post("/webhooks/payske", (n) => {
        const body = payskeBody(n);
        return { body, headers: { "content-type": "application/json; charset=utf-8", "payske-signature": signPayske(body, SECRETS.payske, Math.floor(Date.now() / 1000)) } };
      }),
    },
    robokassa: {
      request: post("/webhooks/robokassa/result", (n) => {
        const params = signRobokassa({ OutSum: "49.99", InvId: String(n), Shp_order: `bench-${n}` }, SECRETS.robokassa[1]);
        return { body: new URLSearchParams(params).toString(), headers: { "content-type": "application/x-www-form-urlencoded" } };
      }),
    },
    payme: {
      // CheckPerformTransaction: a full request–reply through the queue and a worker, no state change.
      setup: () =>
        fetch(`${ingress.adminUrl}/v1/orders/bench-payme`, {
          method: "PUT",
          headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
          body: JSON.stringify({ amount: 500000, currency: "UZS" }),
        }).then((r) => { if (!r.ok) throw new Error(`creating the Payme order: HTTP ${r.status}`); }),
      request: {
        url: `${ingress.url}/webhooks/payme`,
        method: "POST",
        headers: { "content-type": "text/json", authorization: paymeAuthorization },
        body: JSON.stringify({ id: 1, method: "CheckPerformTransaction", params: { amount: 500000, account: { order_id: "bench-payme" } } }),
      },
    },
  };
}

module.exports = { routes, payramBody, BENCH_ENV, ADMIN_TOKEN, SECRETS };
