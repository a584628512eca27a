import pino, { type Logger } from "pino";

/**
 * Paths that pino replaces with "[redacted]". Secrets travel in headers (Basic auth, API keys,
 * signatures) and in a few body fields (Payme's ChangePassword). Full payloads are never logged.
 */
export const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  'req.headers["api-key"]',
  'req.headers["x-payram-signature"]',
  'req.headers["payske-signature"]',
  'req.headers["webhook-signature"]',
  "headers.authorization",
  'headers["api-key"]',
  "*.secret",
  "*.password",
  "*.apiKey",
  "*.token",
  "*.card",
  "*.pan",
];

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export function createLogger(options: { level: LogLevel; name: string }): Logger {
  return pino({
    name: options.name,
    level: options.level,
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    base: { pid: process.pid, role: options.name },
  });
}

export type { Logger };
