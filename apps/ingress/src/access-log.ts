import { performance } from "node:perf_hooks";
import type { RequestHandler } from "express";
import type { Logger } from "@payhooks/core";

/**
 * One log line per request when its response finishes (or the client goes away first):
 * `request completed` at info for 2xx/3xx, warn for 4xx, error for 5xx, `request aborted` at warn.
 *
 * This replaces pino-http, whose per-request child loggers (two `logger.child` calls, each
 * serializing and redacting its bindings) and full response serializer were the largest single
 * cost of an acknowledgement in the CPU profile (bench/profile.js). The line keeps pino-http's
 * shape — `req {id, method, url}`, `res {statusCode}`, `responseTime` in ms — and carries no
 * headers, no body and no query string: `url` is the path only, since RoboKassa sends its whole
 * notice (signature, Shp_ values, the payer's e-mail) in the query of a GET.
 */
/** "/webhooks/robokassa/result?InvId=1&SignatureValue=…" → "/webhooks/robokassa/result". */
export function pathOf(url: string): string {
  const q = url.indexOf("?");
  return q < 0 ? url : url.slice(0, q);
}

export function accessLog(logger: Logger): RequestHandler {
  let lastId = 0;
  return (req, res, next) => {
    const id = ++lastId;
    const started = performance.now();
    const done = (): void => {
      res.off("finish", done);
      res.off("close", done);
      const statusCode = res.statusCode;
      const aborted = !res.writableFinished;
      const level = statusCode >= 500 ? "error" : statusCode >= 400 || aborted ? "warn" : "info";
      if (!logger.isLevelEnabled(level)) return;
      const line = {
        req: { id, method: req.method, url: pathOf(req.originalUrl) },
        res: { statusCode },
        responseTime: Math.round(performance.now() - started),
      };
      logger[level](line, aborted ? "request aborted" : "request completed");
    };
    res.on("finish", done);
    res.on("close", done);
    next();
  };
}
