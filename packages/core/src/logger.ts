import pino, { type Logger } from "pino";

/**
 * Paths that pino replaces with "[redacted]". Secrets travel in headers (Basic auth, API keys,
 * signatures: each provider module names its own, see redactPaths) and in a few body fields
 * (Payme's ChangePassword). Full payloads are never logged.
 */
export const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  'req.headers["webhook-signature"]',
  "headers.authorization",
  "*.secret",
  "*.password",
  "*.apiKey",
  "*.token",
  "*.card",
  "*.pan",
];

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

/** REDACT_PATHS plus, for each header name, its value under `req.headers` and `headers`. */
export function redactPaths(secretHeaders: readonly string[] = []): string[] {
  const extra = secretHeaders.flatMap((h) => [`req.headers[${JSON.stringify(h)}]`, `headers[${JSON.stringify(h)}]`]);
  return [...new Set([...REDACT_PATHS, ...extra])];
}

export function createLogger(options: { level: LogLevel; name: string; secretHeaders?: readonly string[] }): Logger {
  return pino({
    name: options.name,
    level: options.level,
    redact: { paths: redactPaths(options.secretHeaders), censor: "[redacted]" },
    base: { pid: process.pid, role: options.name },
  });
}

export type { Logger };
