import type { Request, Response } from "express";
import { ORDER_ID_PATTERN, delayedUntil } from "@payhooks/core";
import { actionFor, findJob, orderOfJob, queueKeyOf, queueOf, type RowAction } from "./data";
import type { ConsoleDeps } from "./deps";
import { CONSOLE_JOB_HREF, CONSOLE_ORDER_HREF, maskedText, when } from "./format";
import { CSRF_FIELD } from "./csrf";
import { CONSOLE_PATH, html, layout } from "./html";

export const ACTIONS = {
  retry: { label: "Retry", done: "retried", explain: "Runs the failed job again now." },
  "run-now": { label: "Retry now", done: "promoted", explain: "Runs the delayed job now instead of waiting for its next retry." },
  reprocess: {
    label: "Re-process",
    done: "reprocessed",
    explain: "Runs the quarantined delivery through the worker again (it reads the payload anew; the ledger applies a change once).",
  },
} as const satisfies Record<RowAction["action"], { label: string; done: string; explain: string }>;
export type ActionName = keyof typeof ACTIONS;

/** The flash messages a redirect after an action may name (by key: no text is ever reflected from the URL). */
export const FLASH = {
  retried: { kind: "ok", text: "Retried: the job is waiting for a worker." },
  promoted: { kind: "ok", text: "Retry now: the job is waiting for a worker." },
  reprocessed: { kind: "ok", text: "Re-processed: the job is waiting for a worker." },
  stale: { kind: "error", text: "Nothing done: the job is no longer in the state the button was for. The page shows it as it is now." },
  gone: { kind: "error", text: "Nothing done: no such job (it may have been removed by its retention)." },
} as const;
export type FlashKey = keyof typeof FLASH;

function isAction(value: unknown): value is ActionName {
  return typeof value === "string" && Object.hasOwn(ACTIONS, value);
}

/** Where to send the operator back: the order page when the job names an order, else the job page. */
function backTo(orderId: string | null, queue: string, jobId: string, flash: FlashKey): string {
  const base = orderId && ORDER_ID_PATTERN.test(orderId) ? CONSOLE_ORDER_HREF(orderId) : CONSOLE_JOB_HREF(queue, jobId);
  return `${base}?done=${flash}`;
}

/** A link to the confirmation page of an action (GET, changes nothing). */
export function confirmHref(a: RowAction): string {
  return `${CONSOLE_PATH}/confirm?${new URLSearchParams({ action: a.action, queue: a.queue, jobId: a.jobId }).toString()}`;
}

/**
 * GET /console/confirm: what the action will do to which job, and a form that POSTs it with the
 * anti-forgery token. The button on the order page is a plain link here: no script needed.
 */
export function createConfirmPage(deps: ConsoleDeps, csrf: string) {
  return async (req: Request, res: Response): Promise<void> => {
    const { action, queue, jobId } = req.query;
    if (!isAction(action) || typeof queue !== "string" || typeof jobId !== "string" || !queueKeyOf(queue)) {
      res.status(400).type("html").send(layout("Bad request", html`<h1>Bad request</h1><p>Unknown action or job.</p>`));
      return;
    }
    const found = await findJob(deps, jobId, [queue]);
    if (!found) {
      res.status(404).type("html").send(layout("No such job", html`<h1>No such job</h1><p class="mono">${queue} / ${jobId}</p>`));
      return;
    }
    const state = await found.job.getState();
    const nextRun = state === "delayed" ? await delayedUntil(deps.redis, queueOf(deps, queue), jobId) : null;
    const offered = actionFor(queue, found.job, state);
    const orderId = orderOfJob(found.job);
    const spec = ACTIONS[action];
    const body =
      offered?.action === action
        ? html`<form method="post" action="${CONSOLE_PATH}/actions" class="card">
<p>${spec.explain}</p>
<dl><dt>Job</dt><dd class="mono">${queue} / ${jobId}</dd><dt>State</dt><dd>${state}</dd><dt>Attempts made</dt><dd>${found.job.attemptsMade}</dd>
${state === "delayed" ? html`<dt>Next run</dt><dd>${when(nextRun)}</dd>` : ""}
<dt>Last error</dt><dd>${maskedText(found.job.failedReason) || "—"}</dd>${orderId ? html`<dt>Order</dt><dd class="mono">${orderId}</dd>` : ""}</dl>
<input type="hidden" name="${CSRF_FIELD}" value="${csrf}"><input type="hidden" name="action" value="${action}">
<input type="hidden" name="queue" value="${queue}"><input type="hidden" name="jobId" value="${jobId}">
<p><button type="submit">Confirm: ${spec.label}</button> <a class="button secondary" href="${orderId ? CONSOLE_ORDER_HREF(orderId) : CONSOLE_JOB_HREF(queue, jobId)}">Cancel</a></p></form>`
        : html`<div class="card"><p>This job is ${state} now: ${spec.label.toLowerCase()} does not apply.</p>
<p><a href="${orderId ? CONSOLE_ORDER_HREF(orderId) : CONSOLE_JOB_HREF(queue, jobId)}">Back</a></p></div>`;
    res.type("html").send(layout(`${spec.label}?`, html`<h1>${spec.label} this job?</h1>${body}`));
  };
}

/**
 * POST /console/actions (behind the cross-site checks): checks the job is still in the state the
 * action is for, acts (failed → job.retry("failed"); delayed → job.promote()), writes one audit
 * line, and redirects back (POST/redirect/GET, 303).
 */
export function createActionHandler(deps: ConsoleDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const { action, queue, jobId } = body;
    if (!isAction(action) || typeof queue !== "string" || typeof jobId !== "string" || !queueKeyOf(queue)) {
      res.status(400).type("text/plain").send("Bad request\n");
      return;
    }
    const found = await findJob(deps, jobId, [queue]);
    if (!found) return void res.redirect(303, `${CONSOLE_PATH}/search?${new URLSearchParams({ q: jobId })}`);
    const { job } = found;
    const orderId = orderOfJob(job);
    const state = await job.getState();
    const offered = actionFor(queue, job, state);
    if (offered?.action !== action) {
      deps.logger.info({ audit: true, action, queue, jobId, orderId, outcome: "refused", state }, "console action not applicable");
      return void res.redirect(303, backTo(orderId, queue, jobId, "stale"));
    }
    if (state === "failed") await job.retry("failed");
    else await job.promote();
    deps.logger.info({ audit: true, action, queue, jobId, orderId, was: state }, "console action");
    res.redirect(303, backTo(orderId, queue, jobId, ACTIONS[action].done));
  };
}
