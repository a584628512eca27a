import type { Request, Response } from "express";
import { ORDER_ID_PATTERN, type PaymentView } from "@payhooks/core";
import { ACTIONS, FLASH, confirmHref, type FlashKey } from "./actions";
import { loadOrderPage, type RowAction, type TimelineRow } from "./data";
import type { ConsoleDeps } from "./deps";
import { CONSOLE_JOB_HREF, maskedText, money, when } from "./format";
import { html, layout, type SafeHtml } from "./html";

const STATUS_TONE: Record<string, "ok" | "warn" | "bad"> = {
  paid: "ok",
  succeeded: "ok",
  overpaid: "warn",
  partially_paid: "warn",
  pending: "warn",
  unpaid: "warn",
  refunded: "warn",
  cancelled: "bad",
  failed: "bad",
  disputed: "bad",
};
const badge = (text: string, tone?: "ok" | "warn" | "bad") => html`<span class="badge ${tone ?? STATUS_TONE[text] ?? "muted"}">${text}</span>`;

function actionButton(a: RowAction | undefined): SafeHtml | string {
  return a ? html`<a class="button" href="${confirmHref(a)}">${ACTIONS[a.action].label}</a>` : "";
}

function jobLink(queue: string, jobId: string): SafeHtml {
  return html`<a class="mono" href="${CONSOLE_JOB_HREF(queue, jobId)}">${jobId}</a>`;
}

function row(r: TimelineRow): SafeHtml {
  const item = (tone: "ok" | "warn" | "bad" | "", kind: string, what: SafeHtml, action: SafeHtml | string = "") =>
    html`<li class="${tone}" data-kind="${r.kind}"><time>${when(r.at)}</time><span class="kind">${kind}</span><div class="what">${what}</div><div>${action}</div></li>`;
  switch (r.kind) {
    case "received": {
      const tone = r.outcome === "accepted" ? "ok" : r.outcome === "pending" ? "warn" : "bad";
      const dup = r.duplicates > 0 ? html`, ${r.duplicates} duplicate deliver${r.duplicates === 1 ? "y" : "ies"}` : "";
      return item(
        tone,
        "Delivery received",
        html`<b>${r.provider}</b> webhook: ${badge(r.outcome, tone)}${dup} · job ${jobLink(r.queue, r.jobId)} (${r.state})${r.error ? html`<br><span class="bad">${maskedText(r.error)}</span>` : ""}`,
        actionButton(r.action),
      );
    }
    case "ledger":
      return item(
        r.result === "applied" ? "ok" : "",
        "Ledger",
        html`${r.provider} payment <span class="mono">${r.paymentId ?? "?"}</span>: ${r.result}${r.reason ? html` — ${maskedText(r.reason)}` : ""}${
          r.events.length ? html` · ${r.events.length} event${r.events.length === 1 ? "" : "s"}` : ""
        }`,
      );
    case "event": {
      const e = r.event;
      return item(
        "",
        "PaymentEvent",
        e
          ? html`<b>${e.type}</b> · ${e.provider} <span class="mono">${e.providerPaymentId}</span> · ${money(e.amount, e.currency)} · ${e.livemode ? "live" : "test"}${
              e.order ? html` · order ${e.order.status}, paid ${money(e.order.paidAmount, e.order.currency)}` : ""
            }<br><span class="mono muted">${r.eventId}</span>`
          : html`<span class="mono">${r.eventId}</span> <span class="muted">(details delivered, not kept)</span>`,
      );
    }
    case "attempt": {
      const n = r.note;
      const ok = !n.error && n.status !== null && n.status < 300;
      return item(
        ok ? "ok" : "bad",
        "Merchant delivery",
        html`attempt ${n.attempt} (${n.via === "inline" ? "in line" : "retry job"}): ${n.status === null ? "no response" : html`HTTP ${n.status}`} in ${n.durationMs} ms${
          n.error ? html` · <span class="bad">${maskedText(n.error)}</span>` : ""
        }${n.nextRetryAt ? html` · next retry ${when(n.nextRetryAt)}` : ""}${n.final && !ok ? html` · <b>no more retries</b>` : ""}<br><span class="mono muted">${n.eventId}</span>`,
      );
    }
    case "delivery-job": {
      const tone = r.state === "completed" ? "ok" : r.state === "failed" ? "bad" : "warn";
      return item(
        tone,
        "Delivery job",
        html`${jobLink("merchant-webhooks", r.jobId)} ${badge(r.state, tone)} · ${r.attemptsMade}/${r.attemptsAllowed} job attempts made${
          r.nextRunAt ? html` · next run ${when(r.nextRunAt)}` : ""
        }${r.error ? html` · <span class="bad">${maskedText(r.error)}</span>` : ""}`,
        actionButton(r.action),
      );
    }
  }
}

function paymentRow(p: PaymentView, orderCurrency: string): SafeHtml {
  return html`<tr><td>${p.provider}</td><td class="mono">${p.providerPaymentId}</td><td>${badge(p.status)} <span class="muted">${p.providerStatus}</span></td>
<td>${money(p.requested, p.currency)}</td><td>${money(p.settled, p.currency)}</td><td>${p.refunded ? money(p.refunded, p.currency) : "—"}</td>
<td>${money(p.counted, orderCurrency)}${p.mismatch ? html` <span class="bad">(${p.mismatch})</span>` : ""}</td><td>${p.livemode ? "live" : "test"}</td><td>${when(Date.parse(p.at))}</td></tr>`;
}

/** GET /console/orders/:orderId — the order, its payments and one timeline, oldest first. */
export function createOrderPage(deps: ConsoleDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const orderId = String(req.params["orderId"]);
    if (!ORDER_ID_PATTERN.test(orderId)) {
      res.status(400).type("html").send(layout("Bad order id", html`<h1>Not an order id</h1>`, { active: "order" }));
      return;
    }
    const { order, rows } = await loadOrderPage(deps, orderId);
    const done = typeof req.query["done"] === "string" && Object.hasOwn(FLASH, req.query["done"]) ? FLASH[req.query["done"] as FlashKey] : undefined;
    if (!order && rows.length === 0) {
      res.status(404).type("html").send(layout("Order not found", html`<h1>No order <span class="mono">${orderId}</span></h1><p>Neither the ledger nor the job index knows it.</p>`, { active: "order", query: orderId }));
      return;
    }
    const summary = order
      ? html`<div class="card"><dl>
<dt>Status</dt><dd>${badge(order.status)}</dd>
<dt>Amount</dt><dd>${money(order.amount, order.currency)}</dd>
<dt>Paid</dt><dd>${money(order.paidAmount, order.currency)}</dd>
<dt>Mode</dt><dd>${order.livemode ? "live" : "test"}</dd>
<dt>Created</dt><dd>${when(Date.parse(order.createdAt))}</dd><dt>Updated</dt><dd>${when(Date.parse(order.updatedAt))}</dd>
</dl></div>`
      : html`<div class="card warn">The ledger has no order <span class="mono">${orderId}</span> (not created yet, or compacted); its jobs are below.</div>`;
    const payments = order?.payments.length
      ? html`<div class="scroll"><table><thead><tr><th>Provider</th><th>Payment id</th><th>Status</th><th>Requested</th><th>Settled</th><th>Refunded</th><th>Counted</th><th>Mode</th><th>Last change</th></tr></thead>
<tbody>${order.payments.map((p) => paymentRow(p, order.currency))}</tbody></table></div>`
      : html`<p class="muted">No payment attached.</p>`;
    const timeline = rows.length ? html`<ol class="timeline">${rows.map(row)}</ol>` : html`<p class="muted">Nothing on the timeline (kept 30 days).</p>`;
    const body = html`<h1>Order <span class="mono">${orderId}</span></h1>${summary}
<h2>Payments</h2>${payments}
<h2>Timeline <span class="muted">(oldest first)</span></h2>${timeline}`;
    res.type("html").send(layout(`Order ${orderId}`, body, { active: "order", query: orderId, ...(done ? { flash: done } : {}) }));
  };
}
