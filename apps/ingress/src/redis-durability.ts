/**
 * Does the Redis behind the ingress keep what it acknowledged? The ingress answers a provider
 * 2xx once Redis has confirmed the job, and the provider never sends it again; so whatever Redis
 * loses after that confirmation is lost for good (README "Guarantees, and how they are kept").
 * At start-up the ingress reads Redis' persistence and eviction settings and logs one warning per
 * unsafe one. It never refuses to start: a managed Redis may be safe in ways it cannot see.
 */
import { Cluster } from "ioredis";
import { primaries, type Redis, type RedisConnection } from "@payhooks/core";

/** What one Redis server says about itself; null where it would not say. */
export type DurabilitySettings = {
  /** CONFIG GET appendonly: "yes" or "no" */
  appendonly: string | null;
  /** CONFIG GET appendfsync: "always", "everysec" or "no" */
  appendfsync: string | null;
  /** CONFIG GET maxmemory-policy */
  maxmemoryPolicy: string | null;
  /** CONFIG GET no-appendfsync-on-rewrite: "yes" stops the fsyncs while the AOF is rewritten (absent: not read) */
  noAppendfsyncOnRewrite?: string | null;
  /** INFO replication connected_slaves */
  connectedReplicas: number | null;
  /** Why CONFIG GET failed (its error message), when it did */
  configError?: string;
};

export type DurabilitySetting = "appendonly" | "appendfsync" | "no-appendfsync-on-rewrite" | "maxmemory-policy" | "unchecked";

export type DurabilityWarning = {
  setting: DurabilitySetting;
  /** the unsafe value, or for `unchecked` why the settings could not be read */
  value: string;
  message: string;
};

const HOW_TO_CHECK =
  "check them with `redis-cli CONFIG GET appendonly`, `CONFIG GET appendfsync` and `CONFIG GET maxmemory-policy`, " +
  "or in your provider's console: payhooks needs appendonly yes, appendfsync always and maxmemory-policy noeviction";

/**
 * The warnings for one server's settings, in a fixed order. `appendfsync` is judged only with
 * AOF on (without AOF it does nothing). With replicas connected, `appendfsync` other than
 * `always` is still a warning: payhooks does not wait for replicas (no WAIT), so a job can be
 * acknowledged before any replica has it, and a power loss of the primary's host can lose it;
 * the warning says that replicas narrow this window but do not close it.
 */
export function durabilityWarnings(settings: DurabilitySettings): DurabilityWarning[] {
  const warnings: DurabilityWarning[] = [];
  const unread = [
    settings.appendonly === null ? "appendonly" : null,
    settings.appendonly === "yes" && settings.appendfsync === null ? "appendfsync" : null,
    settings.maxmemoryPolicy === null ? "maxmemory-policy" : null,
  ].filter((s): s is string => s !== null);
  if (unread.length > 0) {
    const why = settings.configError ? `CONFIG GET failed (${settings.configError})` : `Redis did not report ${unread.join(", ")}`;
    warnings.push({
      setting: "unchecked",
      value: settings.configError ?? unread.join(", "),
      message: `could not check Redis durability settings: ${why}; ${HOW_TO_CHECK}`,
    });
  }
  if (settings.appendonly !== null && settings.appendonly !== "yes") {
    warnings.push({
      setting: "appendonly",
      value: settings.appendonly,
      message:
        "Redis runs without AOF (appendonly no): a Redis restart or crash loses every job acknowledged since the last snapshot, " +
        "and providers do not resend what they got a 2xx for; set appendonly yes and appendfsync always",
    });
  }
  if (settings.appendonly === "yes" && settings.appendfsync !== null && settings.appendfsync !== "always") {
    const loss =
      settings.appendfsync === "everysec"
        ? "a power loss or kernel crash of the Redis host can lose up to about 1 s of acknowledged jobs"
        : "a power loss or kernel crash of the Redis host can lose acknowledged jobs not yet flushed by the OS (often up to 30 s)";
    const replicas =
      settings.connectedReplicas !== null && settings.connectedReplicas > 0
        ? `; the server has ${settings.connectedReplicas} connected replica(s), but payhooks does not WAIT for them, so a job can be acknowledged before a replica has it`
        : "";
    warnings.push({
      setting: "appendfsync",
      value: settings.appendfsync,
      message: `Redis appendfsync is ${settings.appendfsync}, not always: ${loss}${replicas}; set appendfsync always`,
    });
  }
  if (settings.appendonly === "yes" && settings.appendfsync === "always" && settings.noAppendfsyncOnRewrite === "yes") {
    warnings.push({
      setting: "no-appendfsync-on-rewrite",
      value: "yes",
      message:
        "Redis no-appendfsync-on-rewrite is yes: while the AOF is rewritten, appendfsync always stops syncing, and a crash then " +
        "can lose acknowledged jobs; set no-appendfsync-on-rewrite no",
    });
  }
  if (settings.maxmemoryPolicy !== null && settings.maxmemoryPolicy !== "noeviction") {
    warnings.push({
      setting: "maxmemory-policy",
      value: settings.maxmemoryPolicy,
      message:
        `Redis maxmemory-policy is ${settings.maxmemoryPolicy}, not noeviction: when memory runs out Redis may delete queued jobs and ledger keys; ` +
        "set maxmemory-policy noeviction (then a full Redis refuses writes and providers get 503 and retry)",
    });
  }
  return warnings;
}

/** CONFIG GET `name`: its value, or null when the reply does not carry it. */
async function configGet(redis: Redis, name: string): Promise<string | null> {
  const reply = (await redis.call("CONFIG", "GET", name)) as unknown;
  if (!Array.isArray(reply)) return null;
  const i = reply.findIndex((v, k) => k % 2 === 0 && String(v).toLowerCase() === name);
  return i >= 0 && reply[i + 1] !== undefined ? String(reply[i + 1]) : null;
}

/** Reads one server's settings. A refused CONFIG (renamed away, or not allowed by an ACL) is reported, not thrown. */
export async function readDurabilitySettings(redis: Redis): Promise<DurabilitySettings> {
  let connectedReplicas: number | null = null;
  try {
    const info = await redis.info("replication");
    const m = /^connected_slaves:(\d+)/m.exec(info);
    connectedReplicas = m ? Number(m[1]) : null;
  } catch {
    // INFO refused too: replicas unknown
  }
  try {
    return {
      appendonly: await configGet(redis, "appendonly"),
      appendfsync: await configGet(redis, "appendfsync"),
      maxmemoryPolicy: await configGet(redis, "maxmemory-policy"),
      noAppendfsyncOnRewrite: await configGet(redis, "no-appendfsync-on-rewrite"),
      connectedReplicas,
    };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { appendonly: null, appendfsync: null, maxmemoryPolicy: null, connectedReplicas, configError: message };
  }
}

export type NodeWarning = DurabilityWarning & {
  /** for a Redis Cluster: the masters (host:port) the warning is about */
  nodes?: string[];
};

/**
 * The warnings for the Redis behind `redis`: one server, or every master of a cluster (one
 * warning per setting, naming the masters it applies to). Nothing here names the URL or its
 * credentials: a cluster's masters are named by host and port only.
 */
export async function checkRedisDurability(redis: RedisConnection): Promise<NodeWarning[]> {
  const servers = primaries(redis);
  const bySetting = new Map<DurabilitySetting, NodeWarning>();
  for (const server of servers) {
    for (const warning of durabilityWarnings(await readDurabilitySettings(server))) {
      const node = `${server.options.host ?? ""}:${server.options.port ?? ""}`;
      const seen = bySetting.get(warning.setting);
      if (seen) seen.nodes?.push(node);
      else bySetting.set(warning.setting, redis instanceof Cluster ? { ...warning, nodes: [node] } : warning);
    }
  }
  const order: DurabilitySetting[] = ["unchecked", "appendonly", "appendfsync", "maxmemory-policy"];
  return order.flatMap((s) => (bySetting.has(s) ? [bySetting.get(s)!] : []));
}
