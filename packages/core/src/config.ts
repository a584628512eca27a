import { BlockList, isIP } from "node:net";
import { z } from "zod";
import { ConfigError } from "./errors";
import { clusterUrl, isClusterUrl, parseClusterNodes, parseClusterUrl, type ClusterNodeAddress } from "./redis-target";

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** A decimal integer written as digits only ("0x10", "1e3" and " " are refused, not coerced). */
export const Int = (min: number, max: number) =>
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

const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

const RedisUrl = z
  .string()
  .regex(/^(rediss?:\/\/|unix:\/\/\/|rediss?\+cluster:\/\/)/, "must start with redis://, rediss://, unix:/// or redis+cluster://")
  .superRefine((url, ctx) => {
    if (!isClusterUrl(url)) return;
    try {
      parseClusterUrl(url);
    } catch (err) {
      // The message names the bad node only, never the credentials before "@".
      ctx.addIssue({ code: "custom", message: `must be redis+cluster://[user:pass@]host:port,host:port (${(err as Error).message})` });
    }
  });

/** "10.0.0.1:7000,10.0.0.2:7000" → the seed nodes of a Redis Cluster. */
const ClusterNodes = z.string().transform((s, ctx): ClusterNodeAddress[] => {
  const parsed = parseClusterNodes(s);
  if (parsed.ok) return parsed.nodes;
  ctx.addIssue({ code: "custom", message: `must be a comma-separated list of host:port, e.g. 10.0.0.1:7000,10.0.0.2:7000 (bad: "${parsed.bad}")` });
  return z.NEVER;
});

/** A Standard Webhooks secret: "whsec_" followed by base64 of at least 24 bytes. */
const WhsecSecret = z
  .string()
  .regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, "must be whsec_ followed by base64")
  .refine((s) => Buffer.from(s.slice(6), "base64").length >= 24, { message: "must decode to at least 24 bytes", abort: true });

/** "true" | "false" | hop count | comma-separated addresses, subnets or loopback/linklocal/uniquelocal, as Express's `trust proxy` takes them. */
const TrustProxy = z.string().transform((s, ctx): boolean | number | string => {
  if (s === "true" || s === "false") return s === "true";
  if (/^\d{1,2}$/.test(s)) return Number(s);
  for (const raw of s.split(",")) {
    const entry = raw.trim();
    const [ip, bits, extra] = entry.split("/");
    const named = ["loopback", "linklocal", "uniquelocal"].includes(entry);
    if (!named && !(ip && isIP(ip) && extra === undefined && (bits === undefined || /^\d{1,3}$/.test(bits)))) {
      ctx.addIssue({ code: "custom", message: `must be true, false, a hop count or a list of addresses/subnets (bad: "${entry.slice(0, 64)}")` });
      return z.NEVER;
    }
  }
  return s;
});

/**
 * Whether the caller at `ip` is on an allow-list that AddressList built (an IPv4-mapped IPv6
 * address is taken as its IPv4 address); no address is on no list.
 */
export function callerAllowed(list: BlockList, ip: string | null): boolean {
  if (!ip) return false;
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1];
  if (v4) return list.check(v4, "ipv4");
  return list.check(ip, isIP(ip) === 6 ? "ipv6" : "ipv4");
}

/** "185.234.113.1-185.234.113.15, 10.0.0.0/8, ::1" → a BlockList of the allowed callers. */
export const AddressList = z.string().transform((s, ctx) => {
  const list = new BlockList();
  for (const raw of s.split(",")) {
    const entry = raw.trim();
    const range = /^([^-\s]+)-([^-\s]+)$/.exec(entry);
    const subnet = /^([^/\s]+)\/(\d{1,3})$/.exec(entry);
    const family = (ip: string) => (isIP(ip) === 6 ? "ipv6" : "ipv4");
    if (range && isIP(range[1]!) && isIP(range[1]!) === isIP(range[2]!)) {
      list.addRange(range[1]!, range[2]!, family(range[1]!));
    } else if (subnet && isIP(subnet[1]!) && Number(subnet[2]) <= (isIP(subnet[1]!) === 6 ? 128 : 32)) {
      list.addSubnet(subnet[1]!, Number(subnet[2]), family(subnet[1]!));
    } else if (isIP(entry)) {
      list.addAddress(entry, family(entry));
    } else {
      ctx.addIssue({ code: "custom", message: `"${entry.slice(0, 64)}" is not an address, a range a-b or a subnet a/n` });
      return z.NEVER;
    }
  }
  return list;
});

/** Comma-separated secrets (several while one is rotated), each used verbatim. */
export const SecretList = z
  .string()
  .transform((s) => s.split(",").map((x) => x.trim()))
  .refine((list) => list.every((x) => x.length > 0), "must not hold an empty secret (check the commas)");

/**
 * The variables every process reads whatever providers it serves. Each provider module adds its
 * own fragment (ProviderModule.config); `@payhooks/providers` joins them into the one schema
 * each process's main.ts parses. Empty strings count as unset (docker-compose passes `VAR=` as "").
 */
export const BaseConfigObject = z.object({
    /**
     * @defaultValue redis://127.0.0.1:6379 — also accepts unix:///path/to/redis.sock, and
     * redis+cluster://[user:pass@]host:port,host:port for a Redis Cluster.
     */
    REDIS_URL: RedisUrl.optional(),
    /**
     * Redis Cluster seed nodes, `host:port,host:port`: the same as REDIS_URL=redis+cluster://…
     * (which is also where a password goes). Parsed into REDIS_URL; set one or the other.
     */
    REDIS_CLUSTER_NODES: ClusterNodes.optional(),
    /** Public webhook port. @defaultValue 3000 */
    PORT: port(3000),
    /** Admin API port (orders). @defaultValue 3001 */
    ADMIN_PORT: port(3001),
    /** The admin API listens on loopback unless told otherwise. @defaultValue 127.0.0.1 */
    ADMIN_HOST: z.string().min(1).default("127.0.0.1"),
    /** Bearer token for the admin API; without it the admin API is not started. */
    ADMIN_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
    /**
     * Prefix of every Redis key (BullMQ queues and the ledger). Against a Redis Cluster it is
     * wrapped in braces unless it already holds a hash tag: use keyPrefix(config), never this.
     */
    QUEUE_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_{}-]{1,64}$/, "may hold letters, digits, _ - { } only")
      .default("payhooks"),
    /** Largest webhook body accepted; larger bodies get 413. @defaultValue 256kb */
    BODY_LIMIT: ByteSize.default(256 * 1024),
    /** Jobs one worker process runs at once, per provider queue. @defaultValue 16 */
    WORKER_CONCURRENCY: Int(1, 1000).default(16),
    /**
     * BullMQ's job lock (`lockDuration`, renewed every half of it) and the interval at which
     * workers look for jobs whose lock expired (`stalledInterval`): a job whose worker process
     * died runs again on another worker within about twice this. @defaultValue 30000 (BullMQ's)
     */
    WORKER_LOCK_MS: Int(1_000, 600_000).default(30_000),
    LOG_LEVEL: z.enum(LOG_LEVELS).default("info"),
    /** Express `trust proxy`: which proxies' X-Forwarded-For is believed for the client address. @defaultValue false */
    TRUST_PROXY: TrustProxy.default(false),
    /** Test harnesses only (refused unless NODE_ENV=test): shifts the worker's clock, e.g. past Payme's 12 hours. */
    CLOCK_OFFSET_MS: Int(0, 10 * 365 * 86_400_000).default(0),
    NODE_ENV: z.string().optional(),
    /** Where PaymentEvents are POSTed, signed per Standard Webhooks. */
    MERCHANT_WEBHOOK_URL: z.url({ protocol: /^https?$/ }).optional(),
    MERCHANT_WEBHOOK_SECRET: WhsecSecret.optional(),
    /** Per-attempt timeout of a merchant delivery, the response's headers and body included. @defaultValue 10000 */
    MERCHANT_WEBHOOK_TIMEOUT_MS: Int(100, 60_000).default(10_000),
    /**
     * Who makes a PaymentEvent's first delivery attempt. `inline`: the job that changed the
     * payment, at once (a `merchant-webhooks` job only for the retries, so an event delivered at
     * once costs no job of its own); `job`: a `merchant-webhooks` job for every event (each
     * delivery visible as a job, at the cost of one more BullMQ job per event). Either way every
     * attempt is on the order's timeline. @defaultValue inline
     */
    MERCHANT_FIRST_ATTEMPT: z.enum(["inline", "job"]).default("inline"),
    /**
     * true: every PaymentEvent is also added to the `payment-events` queue, for the merchant's own
     * BullMQ consumers. Off by default: nothing in payhooks consumes that queue, so with no
     * consumer its wait list would only grow. @defaultValue false
     */
    PAYMENT_EVENTS_QUEUE: z.enum(["true", "false"]).default("false").transform((s) => s === "true"),
    /**
     * How long settled payments and orders are kept whole before the daily compaction reduces
     * them to tombstones (see ledger.compact). Longer than any provider looks back: Payme's
     * GetStatement reconciliation, Stripe-style refunds and disputes (up to about 180 days).
     * @defaultValue 400
     */
    LEDGER_RETENTION_DAYS: Int(30, 3_650).default(400),
    /** How much of the merchant's response body a delivery reads; the rest is discarded unread. @defaultValue 65536 */
    MERCHANT_WEBHOOK_MAX_RESPONSE_BYTES: Int(0, 16 * 1024 * 1024).default(64 * 1024),
  });

type BaseFields = z.infer<typeof BaseConfigObject>;
type Issue = (variable: string, message: string) => void;

/** What spans several base variables. */
function refineBase(c: BaseFields, issue: Issue): void {
  if (c.CLOCK_OFFSET_MS !== 0 && c.NODE_ENV !== "test") issue("CLOCK_OFFSET_MS", "is for tests only: set NODE_ENV=test to use it");
  if (c.MERCHANT_WEBHOOK_URL && !c.MERCHANT_WEBHOOK_SECRET) issue("MERCHANT_WEBHOOK_SECRET", "is required when MERCHANT_WEBHOOK_URL is set");
  if (c.REDIS_URL !== undefined && c.REDIS_CLUSTER_NODES !== undefined) issue("REDIS_CLUSTER_NODES", "set it or REDIS_URL, not both");
}

/** One connection setting from here on: REDIS_CLUSTER_NODES becomes a redis+cluster:// REDIS_URL. */
function finish<T extends BaseFields>({ REDIS_CLUSTER_NODES: nodes, ...c }: T): Omit<T, "REDIS_CLUSTER_NODES"> & { REDIS_URL: string } {
  return { ...c, REDIS_URL: c.REDIS_URL ?? (nodes ? clusterUrl(nodes) : DEFAULT_REDIS_URL) };
}

/** The base variables' parsed form. */
export type BaseConfig = ReturnType<typeof finish<BaseFields>>;

/** A fragment to join: a module's variables and what spans them. */
export type ConfigFragment = {
  /** who declares these variables, for the error a duplicate name gives */
  owner: string;
  shape: z.ZodRawShape;
  /** the variables that hold secrets: no two providers may share one value */
  secrets?: readonly string[];
  refine?(config: Record<string, unknown>, issue: Issue): void;
};

/**
 * One secret in the hands of two providers would let either's signed deliveries pass as the
 * other's (Payske and Stripe sign the same way): every value of every provider's secret
 * variables must belong to that provider alone.
 */
function refineSharedSecrets(c: Record<string, unknown>, fragments: readonly ConfigFragment[], issue: Issue): void {
  const owner = new Map<string, { fragment: string; variable: string }>();
  for (const f of fragments) {
    for (const variable of f.secrets ?? []) {
      const value = c[variable];
      const values = Array.isArray(value) ? value : typeof value === "string" ? [value] : [];
      for (const v of values) {
        const first = owner.get(v);
        if (first && first.fragment !== f.owner) issue(variable, `must not repeat a secret of ${first.variable} (${first.fragment})`);
        else if (!first) owner.set(v, { fragment: f.owner, variable });
      }
    }
  }
}

/**
 * The base schema joined with every fragment. Two fragments (or a fragment and the base) that
 * declare one variable are a programming error, thrown at once: one would silently win.
 */
export function buildConfigSchema(fragments: readonly ConfigFragment[]) {
  const shape: z.ZodRawShape = { ...BaseConfigObject.shape };
  const owners = new Map<string, string>(Object.keys(shape).map((k) => [k, "core"]));
  for (const f of fragments) {
    for (const name of Object.keys(f.shape)) {
      const taken = owners.get(name);
      if (taken) throw new Error(`configuration variable ${name} is declared by both ${taken} and ${f.owner}`);
      owners.set(name, f.owner);
    }
    Object.assign(shape, f.shape);
  }
  return z
    .object(shape)
    .superRefine((c, ctx) => {
      const issue: Issue = (variable, message) => ctx.addIssue({ code: "custom", path: [variable], message });
      refineBase(c as BaseFields, issue);
      for (const f of fragments) f.refine?.(c, issue);
      refineSharedSecrets(c, fragments, issue);
    })
    .transform((c) => finish(c as BaseFields) as BaseConfig & Record<string, unknown>);
}

/**
 * Parses the environment with `schema`. Throws ConfigError whose message has one line per bad
 * variable, e.g. `PORT: Too big: expected number to be <=65535`. Never logs values (they may be secrets).
 */
export function parseEnvironment<T>(schema: z.ZodType<T>, env: NodeJS.ProcessEnv): T {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  // One line per variable: its first problem is enough to fix it.
  const lines = new Map<string, string>();
  for (const issue of result.error.issues) {
    const name = issue.path.join(".") || "environment";
    if (!lines.has(name)) lines.set(name, `${name}: ${issue.message}`);
  }
  throw new ConfigError([...lines.values()].join("\n"));
}

/**
 * For a process's main.ts only: `parse(env)`, or — for a bad environment — one line per variable
 * on stderr (`payhooks <role>: invalid configuration: PORT: …`) and exit 1.
 */
export function parseOrExit<T>(role: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const line of err.message.split("\n")) console.error(`payhooks ${role}: invalid configuration: ${line}`);
    process.exit(1);
  }
}

/** The base variables alone (tools that serve no provider). */
export function loadBaseConfig(env: NodeJS.ProcessEnv): BaseConfig {
  return parseEnvironment(buildConfigSchema([]), env);
}
