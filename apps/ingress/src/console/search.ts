import type { Request, Response } from "express";
import { search, type SearchMatch } from "./data";
import type { ConsoleDeps } from "./deps";
import { CONSOLE_JOB_HREF, CONSOLE_ORDER_HREF } from "./format";
import { html, layout } from "./html";

const HELP = html`<div class="card"><p>Search by any of:</p><ul>
<li>an <b>order id</b></li>
<li>a provider's <b>payment id</b>: Payme transaction id, Click id, RoboKassa InvId, Payram reference, Payske / Stripe PaymentIntent</li>
<li>a <b>PaymentEvent id</b> (<span class="mono">evt_…</span>, the last 30 days)</li>
<li>a <b>job id</b> (e.g. <span class="mono">payram-…</span>, <span class="mono">stripe-evt_…</span>)</li></ul>
<p class="muted">Each is looked up by key in the ledger and the job index: nothing is scanned.</p></div>`;

function describe(m: SearchMatch) {
  const order = (orderId: string | null) => (orderId ? html`<a class="mono" href="${CONSOLE_ORDER_HREF(orderId)}">${orderId}</a>` : html`<span class="muted">no order yet</span>`);
  switch (m.kind) {
    case "order":
      return html`<li>Order ${order(m.orderId)}</li>`;
    case "payment":
      return html`<li>${m.provider} payment <span class="mono">${m.paymentId}</span>${m.via === "reference" ? " (a reference the order registered)" : ""} → order ${order(m.orderId)}</li>`;
    case "event":
      return html`<li>PaymentEvent <span class="mono">${m.eventId}</span> → order ${order(m.orderId)}</li>`;
    case "job":
      return html`<li>Job <a class="mono" href="${CONSOLE_JOB_HREF(m.queue, m.jobId)}">${m.queue} / ${m.jobId}</a> → order ${order(m.orderId)}</li>`;
  }
}

/**
 * GET /console/search?q=… — when everything found points to one order, straight to its page
 * (303); a job that names no order (a quarantined delivery) goes to the job's page; otherwise a
 * list of what matched.
 */
export function createSearchPage(deps: ConsoleDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const q = typeof req.query["q"] === "string" ? req.query["q"].trim() : "";
    if (!q) {
      res.type("html").send(layout("Search", html`<h1>Search</h1>${HELP}`, { active: "search" }));
      return;
    }
    const matches = await search(deps, q);
    const orders = new Set(matches.map((m) => m.orderId).filter((o): o is string => o !== null));
    if (orders.size === 1 && matches.every((m) => m.orderId !== null)) return void res.redirect(303, CONSOLE_ORDER_HREF([...orders][0]!));
    if (matches.length === 1 && matches[0]!.kind === "job") return void res.redirect(303, CONSOLE_JOB_HREF(matches[0]!.queue, matches[0]!.jobId));
    const body = matches.length
      ? html`<h1>${matches.length} matches for <span class="mono">${q}</span></h1><ul class="card">${matches.map(describe)}</ul>`
      : html`<h1>Nothing found for <span class="mono">${q}</span></h1>${HELP}`;
    res.status(matches.length ? 200 : 404).type("html").send(layout(`Search ${q}`, body, { active: "search", query: q }));
  };
}
