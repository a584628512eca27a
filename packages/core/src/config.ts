import { z } from "zod";
import { ConfigError } from "./errors";

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** A decimal integer written as digits only ("0x10", "1e3" and " " are refused, not coerced). */
const Int = (min: number, max: number) =>
  z.string().regex(/^\d{1,15}$/, "must be a whole number").transform(Number).pipe(z.number().min(min).max(max));
const port = (fallback: number) => Int(0, 65_535).default(fallback);

/** "256kb", "1mb", "4096" → bytes. */
const ByteSize = z
  .string()
  .regex(/^\d+\s*(b|kb|mb)?$/i, "must be a size such as 256kb, 1mb or 4096")
  .transform((s) => {
    const m = /^(\d+)\s*(b|kb|mb)?$/i.exec(s)!;
    const unit = (m[2] ?? "b").toLowerCase();
    return Number(m[1]) * (unit === "mb" ? 1024 * 1024 : unit === "kb" ? 1024 : 1);
  })
  .pipe(z.number().int().min(1024, "must be at least 1kb").max(16 * 1024 * 1024, "must be at most 16mb"));

const RedisUrl = z
  .string()
  .regex(/^(rediss?:\/\/|unix:\/\/\/)/, "must start with redis://, rediss:// or unix:///");

/** A Standard Webhooks secret: "whsec_" followed by base64 of at least 24 bytes. */
const WhsecSecret = z
  .string()
  .regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, "must be whsec_ followed by base64")
  .refine((s) => Buffer.from(s.slice(6), "base64").length >= 24, { message: "must decode to at least 24 bytes", abort: true });

/**
 * The whole environment payhooks reads, parsed once by each process's main.ts.
 * Empty strings count as unset (docker-compose passes `VAR=` through as "").
 */
export const ConfigSchema = z
  .object({
    /** @defaultValue redis://127.0.0.1:6379 — also accepts unix:///path/to/redis.sock */
    REDIS_URL: RedisUrl.default("redis://127.0.0.1:6379"),
    /** Public webhook port. @defaultValue 3000 */
    PORT: port(3000),
    /** Admin API port (orders). @defaultValue 3001 */
    ADMIN_PORT: port(3001),
    /** The admin API listens on loopback unless told otherwise. @defaultValue 127.0.0.1 */
    ADMIN_HOST: z.string().min(1).default("127.0.0.1"),
    /** Bearer token for the admin API; without it the admin API is not started. */
    ADMIN_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
    /** Prefix of every Redis key (BullMQ queues and the ledger). Hash-tag it for Redis Cluster. */
    QUEUE_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_{}-]{1,64}$/, "may hold letters, digits, _ - { } only")
      .default("payhooks"),
    /** Largest webhook body accepted; larger bodies get 413. @defaultValue 256kb */
    BODY_LIMIT: ByteSize.default(256 * 1024),
    /** Jobs one worker process runs at once, per provider queue. @defaultValue 16 */
    WORKER_CONCURRENCY: Int(1, 1000).default(16),
    LOG_LEVEL: z.enum(LOG_LEVELS).default("info"),
    /** Payram project API key: the HMAC key of X-Payram-Signature and the legacy API-Key value. */
    PAYRAM_WEBHOOK_SECRET: z.string().min(1).optional(),
    /** Where PaymentEvents are POSTed, signed per Standard Webhooks. */
    MERCHANT_WEBHOOK_URL: z.url({ protocol: /^https?$/ }).optional(),
    MERCHANT_WEBHOOK_SECRET: WhsecSecret.optional(),
    /** Per-attempt timeout of a merchant delivery. @defaultValue 10000 */
    MERCHANT_WEBHOOK_TIMEOUT_MS: Int(100, 60_000).default(10_000),
  })
  .superRefine((c, ctx) => {
    if (c.MERCHANT_WEBHOOK_URL && !c.MERCHANT_WEBHOOK_SECRET) {
      ctx.addIssue({
        code: "custom",
        path: ["MERCHANT_WEBHOOK_SECRET"],
        message: "is required when MERCHANT_WEBHOOK_URL is set",
      });
    }
  });

export type Config = z.infer<typeof ConfigSchema>;

/** Providers whose secrets are present; the others answer 503 provider_not_configured. */
export function enabledProviders(config: Config): { payram: boolean } {
  return { payram: config.PAYRAM_WEBHOOK_SECRET !== undefined };
}

/**
 * For a process's main.ts only: the parsed configuration, or — for a bad environment — one
 * line per variable on stderr (`payhooks <role>: invalid configuration: PORT: …`) and exit 1.
 */
export function loadConfigOrExit(role: string, env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const line of err.message.split("\n")) console.error(`payhooks ${role}: invalid configuration: ${line}`);
    process.exit(1);
  }
}

/**
 * Parses the environment. Throws ConfigError whose message has one line per bad variable,
 * e.g. `PORT: Too big: expected number to be <=65535`. Never logs values (they may be secrets).
 */
export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const result = ConfigSchema.safeParse(cleaned);
  if (result.success) return result.data;
  // One line per variable: its first problem is enough to fix it.
  const lines = new Map<string, string>();
  for (const issue of result.error.issues) {
    const name = issue.path.join(".") || "environment";
    if (!lines.has(name)) lines.set(name, `${name}: ${issue.message}`);
  }
  throw new ConfigError([...lines.values()].join("\n"));
}
