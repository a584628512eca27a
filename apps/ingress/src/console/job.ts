import type { Request, Response } from "express";
import { delayedUntil } from "@payhooks/core";
import { ACTIONS, FLASH, confirmHref, type FlashKey } from "./actions";
import { actionFor, findJob, orderOfJob, queueKeyOf, queueOf } from "./data";
import type { ConsoleDeps } from "./deps";
import { CONSOLE_ORDER_HREF, maskedJson, maskedText, when } from "./format";
import { html, layout } from "./html";

/**
 * GET /console/jobs/:queue/:jobId — one job by id (how a quarantined delivery that names no
 * order is reached): state, attempts, last error, data and result masked as on the dashboard,
 * and its action.
 */
export function createJobPage(deps: ConsoleDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const queue = String(req.params["queue"]);
    const jobId = String(req.params["jobId"]);
    const found = queueKeyOf(queue) ? await findJob(deps, jobId, [queue]) : null;
    if (!found) {
      res.status(404).type("html").send(layout("No such job", html`<h1>No job <span class="mono">${jobId}</span> in ${queue}</h1>`, { query: jobId }));
      return;
    }
    const { job } = found;
    const state = await job.getState();
    const nextRun = state === "delayed" ? await delayedUntil(deps.redis, queueOf(deps, queue), jobId) : null;
    const action = actionFor(queue, job, state);
    const orderId = orderOfJob(job);
    const done = typeof req.query["done"] === "string" && Object.hasOwn(FLASH, req.query["done"]) ? FLASH[req.query["done"] as FlashKey] : undefined;
    const body = html`<h1>Job <span class="mono">${jobId}</span></h1>
<div class="card"><dl><dt>Queue</dt><dd>${queue}</dd><dt>Name</dt><dd>${job.name}</dd><dt>State</dt><dd>${state}</dd>
<dt>Created</dt><dd>${when(job.timestamp)}</dd><dt>Finished</dt><dd>${when(job.finishedOn)}</dd>
<dt>Attempts</dt><dd>${job.attemptsMade}/${job.opts.attempts ?? 1}</dd>
${state === "delayed" ? html`<dt>Next run</dt><dd>${when(nextRun)}</dd>` : ""}
<dt>Last error</dt><dd>${maskedText(job.failedReason) || "—"}</dd>
<dt>Order</dt><dd>${orderId ? html`<a class="mono" href="${CONSOLE_ORDER_HREF(orderId)}">${orderId}</a>` : "—"}</dd></dl>
${action ? html`<p><a class="button" href="${confirmHref(action)}">${ACTIONS[action.action].label}</a></p>` : ""}</div>
<h2>Data <span class="muted">(masked)</span></h2><pre class="card scroll mono">${maskedJson(job.data)}</pre>
<h2>Result <span class="muted">(masked)</span></h2><pre class="card scroll mono">${maskedJson(job.returnvalue)}</pre>`;
    res.type("html").send(layout(`Job ${jobId}`, body, { query: jobId, ...(done ? { flash: done } : {}) }));
  };
}
