import type { ErrorRequestHandler } from "express";
import type { Logger } from "@payhooks/core";
import { LedgerConflictError, PayloadValidationError } from "@payhooks/core";
import { EnqueueUnavailableError } from "./enqueue";

/**
 * ioredis has no error classes for a connection that is down or a command that timed out; these
 * are its messages for the fail-fast connection (no offline queue, 1 s command timeout).
 */
const REDIS_UNAVAILABLE = /^(Stream isn't writeable|Connection is closed|Command timed out|Reached the max retries per request limit)/;

function isRedisUnavailable(err: unknown): boolean {
  return err instanceof Error && (REDIS_UNAVAILABLE.test(err.message) || err.name === "MaxRetriesPerRequestError");
}

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
    // Any other body-parser error carries just a 4xx `status`: a compressed body that does not
    // inflate (corrupt gzip/deflate/br) is a 400 wrapping zlib's error. The request is at fault.
    const status = (err as { status?: unknown }).status;
    if (typeof status === "number" && status >= 400 && status < 500) return void res.status(status).json({ error: "bad_request" });
    if (err instanceof EnqueueUnavailableError) {
      logger.warn({ err: { message: err.message, cause: String(err.cause) } }, "enqueue failed; answering 503");
      return void res.status(503).json({ error: "unavailable" });
    }
    if (isRedisUnavailable(err)) {
      logger.warn({ err: { message: (err as Error).message } }, "redis unavailable; answering 503");
      return void res.status(503).json({ error: "unavailable" });
    }
    logger.error({ err }, "unhandled error");
    if (!res.headersSent) res.status(500).json({ error: "internal_error" });
  };
}
