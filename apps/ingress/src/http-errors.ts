import type { ErrorRequestHandler } from "express";
import type { Logger } from "@payhooks/core";
import { LedgerConflictError, PayloadValidationError } from "@payhooks/core";
import { EnqueueUnavailableError } from "./enqueue";

/**
 * The one place errors become HTTP answers. body-parser tags its errors with `type`; we map
 * those and our own error classes, and everything else is a 500 without details.
 */
export function createErrorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => {
    const type = (err as { type?: unknown }).type;
    if (type === "entity.too.large") return void res.status(413).json({ error: "payload_too_large" });
    if (type === "encoding.unsupported" || type === "charset.unsupported") {
      return void res.status(415).json({ error: "unsupported_encoding" });
    }
    if (type === "request.aborted" || type === "request.size.invalid") {
      return void res.status(400).json({ error: "bad_request" });
    }
    if (type === "entity.parse.failed") return void res.status(400).json({ error: "invalid_json" });
    if (err instanceof PayloadValidationError) {
      return void res.status(400).json({ error: "invalid_payload", message: err.message });
    }
    if (err instanceof LedgerConflictError) return void res.status(409).json({ error: "conflict", message: err.message });
    if (err instanceof EnqueueUnavailableError) {
      logger.warn({ err: { message: err.message, cause: String(err.cause) } }, "enqueue failed; answering 503");
      return void res.status(503).json({ error: "unavailable" });
    }
    logger.error({ err }, "unhandled error");
    if (!res.headersSent) res.status(500).json({ error: "internal_error" });
  };
}
