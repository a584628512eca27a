import type { Request, Response } from "express";
import type { Queue } from "bullmq";
import {
  ACTIVITY_BUCKET_MS,
  ORDER_ID_PATTERN,
  newestFailed,
  oldestWaitingAt,
  readActivity,
  readWorkerMetrics,
  type ActivityOutcome,
  type ActivityWindow,
  type ProviderActivity,
} from "@payhooks/core";
import { QUEUE_STATES } from "../metrics";
import type { ConsoleDeps } from "./deps";
import { maskedText } from "./format";
import { CONSOLE_PATH, html, layout, type SafeHtml } from "./html";

/**
 * The console's overview (GET /console): per provider what it sent in the last hour and what
 * became of it (a server-rendered SVG chart and the totals in words), every queue's depth and
 * oldest waiting job, merchant delivery failures, and the last failed jobs linked to their
 * orders. Each section is read on its own, with a bounded number of Redis commands whatever the
 * queues hold: 60 HGETALLs (one pipeline), per queue one getJobCounts plus an LINDEX and an HGET,
 * one HGETALL of the workers' hash, one pipeline of ZREVRANGEs and {@link FAILURES_SHOWN} jobs.
 * A section Redis could not answer says so; the others still show.
 */

/** Minutes the activity charts cover. */
export const ACTIVITY_MINUTES = 60;
/** Failed jobs listed, newest first, across every queue. */
export const FAILURES_SHOWN = 20;
/** Characters of a failure's reason shown (after masking). */
export const REASON_CHARS = 160;

type QueueState = (typeof QUEUE_STATES)[number];

export type QueueRow = { name: string; counts: Record<QueueState, number>; oldestWaitingAt: number | null };

export type FailureRow = {
  queue: string;
  jobId: string;
  name: string;
  failedAt: number;
  attemptsMade: number;
  /** masked and truncated */
  reason: string;
  /** the order the job concerns, when its data names one */
  orderId: string | null;
};

export type DeliveryFailures = {
  /** attempts without a 2xx that BullMQ retries, since the workers' figures began */
  failedAttempts: number;
  /** deliveries whose last attempt got no 2xx */
  exhausted: number;
  delivered: number;
};

/** What the page shows; null: that section could not be read. */
export type OverviewData = {
  now: number;
  activity: ActivityWindow | null;
  queues: QueueRow[] | null;
  deliveries: DeliveryFailures | null;
  failures: FailureRow[] | null;
  /** the failed set of `merchant-webhooks` (null when its queue is not known or not read) */
  merchantFailedJobs: number | null;
};

// ---- reading -------------------------------------------------------------------------------

const MERCHANT_QUEUE_KEY = "merchantWebhooks";

/**
 * A failure's reason as the page shows it. BullMQ keeps an error's message, which may quote the
 * payload, so it is masked as every console page masks free text (a string holding an e-mail
 * address is "[redacted]" whole, a card number inside it is replaced where it stands), then cut
 * to {@link REASON_CHARS}.
 */
export function displayReason(reason: string): string {
  const masked = maskedText(reason);
  return masked.length > REASON_CHARS ? `${masked.slice(0, REASON_CHARS - 1)}…` : masked;
}

/** The order a failed job concerns, from what is known without a scan: a PaymentEvent's (or a return value's) orderId. */
function orderIdOf(job: { data?: unknown; returnvalue?: unknown }): string | null {
  for (const source of [job.returnvalue, job.data]) {
    const id = (source as { orderId?: unknown } | null | undefined)?.orderId;
    if (typeof id === "string" && ORDER_ID_PATTERN.test(id)) return id;
  }
  return null;
}

async function readQueues(deps: ConsoleDeps, queues: Queue[]): Promise<QueueRow[]> {
  return Promise.all(
    queues.map(async (queue) => {
      const [counts, oldest] = await Promise.all([queue.getJobCounts(...QUEUE_STATES), oldestWaitingAt(deps.redis, queue)]);
      return {
        name: queue.name,
        counts: Object.fromEntries(QUEUE_STATES.map((s) => [s, counts[s] ?? 0])) as Record<QueueState, number>,
        oldestWaitingAt: oldest,
      };
    }),
  );
}

async function readFailures(deps: ConsoleDeps, queues: Queue[]): Promise<FailureRow[]> {
  const newest = await newestFailed(deps.redis, queues, FAILURES_SHOWN);
  const jobs = await Promise.all(newest.map(({ queue, jobId }) => queue.getJob(jobId)));
  const rows: FailureRow[] = [];
  newest.forEach(({ queue, jobId, failedAt }, i) => {
    const job = jobs[i];
    if (!job) return; // removed since the set was read
    rows.push({
      queue: queue.name,
      jobId,
      name: job.name,
      failedAt: job.finishedOn ?? failedAt,
      attemptsMade: job.attemptsMade,
      reason: displayReason(job.failedReason ?? ""),
      orderId: orderIdOf(job),
    });
  });
  return rows;
}

/** Everything the overview shows, each section read independently (a failed one is null and logged). */
export async function loadOverview(deps: ConsoleDeps): Promise<OverviewData> {
  const now = deps.now();
  const queues = Object.values(deps.queues);
  const settled = await Promise.allSettled([
    readActivity(deps.redis, deps.prefix, now, ACTIVITY_MINUTES),
    readQueues(deps, queues),
    readWorkerMetrics(deps.redis, deps.prefix),
    readFailures(deps, queues),
  ] as const);
  const [activity, queueRows, workers, failures] = settled;
  const value = <T>(result: PromiseSettledResult<T>, section: string): T | null => {
    if (result.status === "fulfilled") return result.value;
    deps.logger.warn({ section, err: { message: (result.reason as Error)?.message } }, "overview section not read");
    return null;
  };
  const rows = value(queueRows, "queues");
  const metrics = value(workers, "deliveries");
  const count = (outcome: string) => metrics?.deliveries.find((d) => d.outcome === outcome)?.count ?? 0;
  const merchantName = (deps.queues as Partial<Record<string, Queue>>)[MERCHANT_QUEUE_KEY]?.name;
  return {
    now,
    activity: value(activity, "activity"),
    queues: rows,
    deliveries: metrics ? { failedAttempts: count("failed_attempt"), exhausted: count("exhausted"), delivered: count("delivered") } : null,
    failures: value(failures, "failures"),
    merchantFailedJobs: rows?.find((r) => r.name === merchantName)?.counts.failed ?? null,
  };
}

// ---- rendering -----------------------------------------------------------------------------

/** What the chart draws, bottom to top; duplicates are in the words only (they changed nothing). */
const CHARTED: ReadonlyArray<{ outcome: ActivityOutcome; label: string; color: string }> = [
  { outcome: "accepted", label: "accepted", color: "#1a7f37" },
  { outcome: "refused", label: "refused", color: "#bf8700" },
  { outcome: "quarantined", label: "quarantined", color: "#cf222e" },
];

const PROVIDER_NAMES: Record<string, string> = {
  payme: "Payme",
  payram: "Payram",
  payske: "Payske",
  robokassa: "RoboKassa",
  stripe: "Stripe",
  click: "Click",
};

/** The chart's drawing box (SVG user units): one bar and one gap per minute; it is stretched to the page's width. */
export const CHART = { height: 80, bar: 8, gap: 2 } as const;

const hhmm = (ms: number): string => new Date(ms).toISOString().slice(11, 16);

/** "12 s", "3 min", "2 h 5 min", "3 d 4 h". */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** A bar's height for `value` on a scale where `max` fills the chart; anything above zero is at least one unit tall. */
export function barHeight(value: number, max: number): number {
  if (value <= 0 || max <= 0) return 0;
  return Math.max(1, Math.round((value / max) * CHART.height));
}

function totalsInWords(p: ProviderActivity): string {
  const t = p.totals;
  return `${t.accepted} accepted, ${t.duplicate} duplicate, ${t.refused} refused, ${t.quarantined} quarantined`;
}

/** One provider's hour as stacked bars, one per minute, with a title and a description that say it in words. */
export function renderChart(p: ProviderActivity, from: number): SafeHtml {
  const name = PROVIDER_NAMES[p.provider] ?? p.provider;
  const minutes = p.perMinute.accepted.length;
  const stacks = Array.from({ length: minutes }, (_, i) => CHARTED.map((c) => p.perMinute[c.outcome][i] ?? 0));
  const max = Math.max(0, ...stacks.map((s) => s.reduce((a, b) => a + b, 0)));
  const busiest = stacks.findIndex((s) => s.reduce((a, b) => a + b, 0) === max);
  const id = `chart-${p.provider}`;
  const bars = stacks.map((stack, i) => {
    let y = CHART.height;
    const x = i * (CHART.bar + CHART.gap);
    const at = hhmm(from + i * ACTIVITY_BUCKET_MS);
    return stack.map((value, k) => {
      const h = barHeight(value, max);
      if (h === 0) return "";
      y -= h;
      const c = CHARTED[k]!;
      return html`<rect x="${x}" y="${y}" width="${CHART.bar}" height="${h}" fill="${c.color}"><title>${at} UTC: ${value} ${c.label}</title></rect>`;
    });
  });
  const desc =
    max === 0
      ? "No deliveries in the last hour."
      : `${totalsInWords(p)} in the last ${minutes} minutes; busiest minute ${hhmm(from + busiest * ACTIVITY_BUCKET_MS)} UTC with ${max}.`;
  return html`<svg role="img" aria-labelledby="${id}-t ${id}-d" viewBox="0 0 ${minutes * (CHART.bar + CHART.gap)} ${CHART.height}" preserveAspectRatio="none" style="display:block;width:100%;height:5rem;background:#f6f7f9">
<title id="${id}-t">${name}: deliveries per minute, last ${minutes} minutes</title><desc id="${id}-d">${desc}</desc>${bars}</svg>`;
}

function renderActivity(window: ActivityWindow | null): SafeHtml {
  if (!window) return html`<p class="bad">Could not read the activity counters from Redis.</p>`;
  const active = window.providers.filter((p) => Object.values(p.totals).some((n) => n > 0));
  const idle = window.providers.filter((p) => !active.includes(p));
  const end = window.from + window.minutes * ACTIVITY_BUCKET_MS;
  const legend = html`<p class="muted" style="margin:.25rem 0">${CHARTED.map(
    (c, i) => html`${i ? " · " : ""}<span style="display:inline-block;width:.7em;height:.7em;background:${c.color}"></span> ${c.label}`,
  )}; minutes ${hhmm(window.from)}–${hhmm(end)} UTC, each chart on its own scale.</p>`;
  return html`${active.length ? legend : ""}${active.map(
    (p) => html`<div class="card provider" data-provider="${p.provider}">
<h3 style="margin:0 0 .4rem;font-size:1rem">${PROVIDER_NAMES[p.provider] ?? p.provider}</h3>
${renderChart(p, window.from)}
<div style="display:flex;justify-content:space-between" class="muted" aria-hidden="true"><small>${hhmm(window.from)}</small><small>now</small></div>
<p class="totals" style="margin:.3rem 0 0"><strong>${p.totals.accepted}</strong> accepted · ${p.totals.duplicate} duplicate · <span class="${p.totals.refused ? "warn" : ""}">${p.totals.refused} refused</span> · <span class="${p.totals.quarantined ? "bad" : ""}">${p.totals.quarantined} quarantined</span></p>
</div>`,
  )}${
    idle.length
      ? html`<p class="muted idle">${active.length ? "No deliveries in the last hour from" : "No deliveries in the last hour from any provider"}${active.length ? html`: ${idle.map((p, i) => html`${i ? ", " : ""}${PROVIDER_NAMES[p.provider] ?? p.provider}`)}` : ""}.</p>`
      : ""
  }`;
}

function renderQueues(rows: QueueRow[] | null, now: number): SafeHtml {
  if (!rows) return html`<p class="bad">Could not read the queues from Redis.</p>`;
  return html`<div class="scroll"><table class="queues">
<thead><tr><th scope="col">Queue</th>${QUEUE_STATES.map((s) => html`<th scope="col">${s}</th>`)}<th scope="col">Oldest waiting</th></tr></thead>
<tbody>${rows.map(
    (r) => html`<tr data-queue="${r.name}"><th scope="row" class="mono">${r.name}</th>${QUEUE_STATES.map(
      (s) => html`<td class="${s === "failed" && r.counts[s] > 0 ? "bad" : ""}">${r.counts[s]}</td>`,
    )}<td>${r.oldestWaitingAt === null ? html`<span class="muted">none</span>` : formatAge(now - r.oldestWaitingAt)}</td></tr>`,
  )}</tbody></table></div>`;
}

function renderDeliveries(d: DeliveryFailures | null, failedJobs: number | null): SafeHtml {
  return html`<div class="card"><dl class="deliveries">
<dt>Failed attempts, retried</dt><dd>${d ? d.failedAttempts : "unknown"}</dd>
<dt>Exhausted (left failed)</dt><dd class="${d && d.exhausted > 0 ? "bad" : ""}">${d ? d.exhausted : "unknown"}</dd>
<dt>Delivered</dt><dd>${d ? d.delivered : "unknown"}</dd>
<dt>Failed jobs in merchant-webhooks now</dt><dd class="${failedJobs ? "bad" : ""}">${failedJobs ?? "unknown"}</dd>
</dl><p class="muted" style="margin:.5rem 0 0"><small>Attempt counts are summed by every worker since the figures began (Prometheus: payhooks_merchant_deliveries_total).</small></p></div>`;
}

/** The link a failure gets: its order's page when the job names one, otherwise a search for the job id. */
export function failureHref(row: Pick<FailureRow, "orderId" | "jobId">): string {
  return row.orderId !== null
    ? `${CONSOLE_PATH}/orders/${encodeURIComponent(row.orderId)}`
    : `${CONSOLE_PATH}/search?q=${encodeURIComponent(row.jobId)}`;
}

function renderFailures(rows: FailureRow[] | null, now: number): SafeHtml {
  if (!rows) return html`<p class="bad">Could not read the failed jobs from Redis.</p>`;
  if (rows.length === 0) return html`<p class="muted">No failed jobs.</p>`;
  return html`<div class="scroll"><table class="failures">
<thead><tr><th scope="col">Failed</th><th scope="col">Queue</th><th scope="col">Job</th><th scope="col">Reason</th><th scope="col">Order</th></tr></thead>
<tbody>${rows.map(
    (r) => html`<tr><td><span title="${new Date(r.failedAt).toISOString()}">${formatAge(now - r.failedAt)} ago</span></td><td class="mono">${r.queue}</td>
<td class="mono">${r.jobId}<br><small class="muted">${r.name}, ${r.attemptsMade} attempt${r.attemptsMade === 1 ? "" : "s"}</small></td>
<td>${r.reason}</td><td><a href="${failureHref(r)}">${r.orderId !== null ? html`<span class="mono">${r.orderId}</span>` : "find job"}</a></td></tr>`,
  )}</tbody></table></div>`;
}

/** The page's body (inside the console layout). Pure: everything it shows is in `data`, every value escaped. */
export function renderOverview(data: OverviewData): SafeHtml {
  return html`<h1>Overview</h1>
<p class="muted">As of ${new Date(data.now).toISOString().slice(0, 19).replace("T", " ")} UTC. Reload for fresh figures.</p>
<section aria-labelledby="h-activity"><h2 id="h-activity">Deliveries, last hour</h2>${renderActivity(data.activity)}</section>
<section aria-labelledby="h-queues"><h2 id="h-queues">Queues</h2>${renderQueues(data.queues, data.now)}</section>
<section aria-labelledby="h-merchant"><h2 id="h-merchant">Merchant deliveries</h2>${renderDeliveries(data.deliveries, data.merchantFailedJobs)}</section>
<section aria-labelledby="h-failures"><h2 id="h-failures">Last failures</h2>${renderFailures(data.failures, data.now)}</section>`;
}

/** GET /console: mounted by the console router behind the admin auth. */
export function createOverviewPage(deps: ConsoleDeps): (req: Request, res: Response) => Promise<void> {
  return async (_req, res) => {
    const data = await loadOverview(deps);
    res.type("html").send(layout("Overview", renderOverview(data), { active: "overview" }));
  };
}
