import express, { type Express } from "express";
import type { Logger, Redis } from "@payhooks/core";
import { accessLog } from "./access-log";
import { createErrorHandler } from "./http-errors";
import type { RequestMetrics } from "./metrics";
import { createProviderRouter, type ProviderRuntime } from "./pipeline";

export type IngressDeps = {
  logger: Logger;
  /** the producer connection; /readyz pings it */
  redis: Pick<Redis, "ping">;
  /** every provider in the registry, configured or not (an unconfigured one answers in its dialect that it is not) */
  providers: readonly ProviderRuntime[];
  /** Express `trust proxy` (TRUST_PROXY): decides the client address an allow-list checks. @defaultValue false */
  trustProxy?: boolean | number | string;
  /** @defaultValue 256 KiB */
  bodyLimit?: number;
  /** upper bound on one enqueue before the provider gets 503. @defaultValue 2000 */
  enqueueTimeoutMs?: number;
  now?: () => number;
  /** request counts by outcome and ack latency (createIngressMetrics); without it nothing is counted */
  metrics?: RequestMetrics;
};

/** The public webhook app, without listen(): tests build it and main.ts serves it. */
export function createApp(deps: IngressDeps): Express {
  const { logger, bodyLimit = 256 * 1024, enqueueTimeoutMs = 2_000, now = Date.now, metrics } = deps;
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.set("trust proxy", deps.trustProxy ?? false);
  // One line per request; headers and bodies are never logged.
  app.use(accessLog(logger));

  app.get("/healthz", (_req, res) => void res.json({ status: "ok" }));
  app.get("/readyz", async (_req, res) => {
    try {
      await deps.redis.ping();
      res.json({ status: "ready" });
    } catch {
      res.status(503).json({ status: "unavailable", error: "redis_unreachable" });
    }
  });

  for (const provider of deps.providers) {
    app.use(createProviderRouter(provider, { logger, bodyLimit, enqueueTimeoutMs, now, ...(metrics ? { metrics } : {}) }));
  }

  app.use((_req, res) => void res.status(404).json({ error: "not_found" }));
  app.use(createErrorHandler(logger));
  return app;
}
