import type { Request, Response } from "express";
import { QUEUES } from "@payhooks/core";
import type { QueueKey } from "../dashboard";
import type { ConsoleDeps } from "./deps";
import { html, layout } from "./html";

/** Stand-in for the overview page (./overview.ts replaces it): each queue's job counts. */
export function createOverviewPage(deps: ConsoleDeps): (req: Request, res: Response) => Promise<void> {
  return async (_req, res) => {
    const keys = Object.keys(QUEUES) as QueueKey[];
    const counts = await Promise.all(keys.map((k) => deps.queues[k].getJobCounts("waiting", "active", "delayed", "failed", "completed")));
    const rows = keys.map(
      (k, i) => html`<tr><td>${QUEUES[k]}</td>${(["waiting", "active", "delayed", "failed", "completed"] as const).map((s) => html`<td>${counts[i]![s] ?? 0}</td>`)}</tr>`,
    );
    const body = html`<h1>Overview</h1><div class="scroll"><table><thead><tr><th>Queue</th><th>Waiting</th><th>Active</th><th>Delayed</th><th>Failed</th><th>Completed</th></tr></thead><tbody>${rows}</tbody></table></div>`;
    res.type("html").send(layout("Overview", body, { active: "overview" }));
  };
}
