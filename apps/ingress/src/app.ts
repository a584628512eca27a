import express, { type Express } from "express";
import type { Logger, Redis } from "@payhooks/core";
import { accessLog } from "./access-log";
import { createErrorHandler } from "./http-errors";
import type { RequestMetrics } from "./metrics";
import { createPaymeRouter, type PaymeRouteDeps } from "./routes/payme";
import { createPayramRouter, type PayramRouteDeps } from "./routes/payram";
import { createPayskeRouter, type PayskeRouteDeps } from "./routes/payske";
import { createRobokassaRouter, type RobokassaRouteDeps } from "./routes/robokassa";

export type IngressDeps = {
  logger: Logger;
  /** the producer connection; /readyz pings it */
  redis: Pick<Redis, "ping">;
  providers: {
    payme: PaymeRouteDeps["provider"];
    payram: PayramRouteDeps["provider"];
    payske: PayskeRouteDeps["provider"];
    robokassa: RobokassaRouteDeps["provider"];
  };
  /** Express `trust proxy` (TRUST_PROXY): decides the client address PAYME_ALLOWED_IPS checks. @defaultValue false */
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

  app.use(createPaymeRouter({ provider: deps.providers.payme, bodyLimit, logger, now, metrics }));
  app.use(createRobokassaRouter({ provider: deps.providers.robokassa, bodyLimit, enqueueTimeoutMs, now, metrics }));
  app.use(createPayskeRouter({ provider: deps.providers.payske, bodyLimit, enqueueTimeoutMs, now, metrics }));
  app.use(createPayramRouter({ provider: deps.providers.payram, bodyLimit, enqueueTimeoutMs, now, metrics }));

  app.use((_req, res) => void res.status(404).json({ error: "not_found" }));
  app.use(createErrorHandler(logger));
  return app;
}
