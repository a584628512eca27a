/**
 * Which Redis payhooks talks to, as pure functions over strings (no ioredis here, so the config
 * schema can use them): one server (`redis://`, `rediss://`, `unix:///`) or a Redis Cluster
 * (`redis+cluster://[user:pass@]host:port,host:port,…`, or `REDIS_CLUSTER_NODES`), and the key
 * prefix that follows from it.
 */

export type ClusterNodeAddress = { host: string; port: number };

export type ClusterTarget = {
  /** the seed nodes; ioredis discovers the rest with CLUSTER SLOTS */
  nodes: ClusterNodeAddress[];
  username?: string;
  password?: string;
  /** `rediss+cluster://`: TLS to every node */
  tls: boolean;
};

const CLUSTER_SCHEME = /^(rediss?)\+cluster:\/\//;
/** a DNS name, an IPv4 address, or an IPv6 address in brackets */
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*|\[[0-9A-Fa-f:.]+\])$/;

/** "10.0.0.1:7000,redis-b:7000" → nodes; the first entry that is not `host:port` when one is not. */
export function parseClusterNodes(list: string): { ok: true; nodes: ClusterNodeAddress[] } | { ok: false; bad: string } {
  const nodes: ClusterNodeAddress[] = [];
  for (const raw of list.split(",")) {
    const entry = raw.trim();
    const colon = entry.lastIndexOf(":");
    const host = entry.slice(0, colon);
    const port = entry.slice(colon + 1);
    if (colon < 1 || !HOST.test(host) || !/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65_535) {
      return { ok: false, bad: entry.slice(0, 64) };
    }
    nodes.push({ host: host.startsWith("[") ? host.slice(1, -1) : host, port: Number(port) });
  }
  return { ok: true, nodes };
}

export function isClusterUrl(url: string): boolean {
  return CLUSTER_SCHEME.test(url);
}

/**
 * Parses `redis+cluster://[user:pass@]host:port,host:port` (or `rediss+cluster://` for TLS).
 * Throws a TypeError that names the bad node, never the credentials.
 */
export function parseClusterUrl(url: string): ClusterTarget {
  const scheme = CLUSTER_SCHEME.exec(url);
  if (!scheme) throw new TypeError("not a redis+cluster:// URL");
  const rest = url.slice(scheme[0].length).replace(/\/$/, "");
  const at = rest.lastIndexOf("@");
  const userinfo = at >= 0 ? rest.slice(0, at) : "";
  const parsed = parseClusterNodes(rest.slice(at + 1));
  if (!parsed.ok) throw new TypeError(`bad cluster node "${parsed.bad}": use host:port,host:port`);
  const colon = userinfo.indexOf(":");
  const username = colon >= 0 ? userinfo.slice(0, colon) : userinfo;
  const password = colon >= 0 ? userinfo.slice(colon + 1) : "";
  return {
    nodes: parsed.nodes,
    ...(username ? { username: decodeURIComponent(username) } : {}),
    ...(password ? { password: decodeURIComponent(password) } : {}),
    tls: scheme[1] === "rediss",
  };
}

/** The `redis+cluster://` URL of these nodes (what `REDIS_CLUSTER_NODES` stands for). */
export function clusterUrl(nodes: readonly ClusterNodeAddress[]): string {
  return `redis+cluster://${nodes.map((n) => `${n.host.includes(":") ? `[${n.host}]` : n.host}:${n.port}`).join(",")}`;
}

/**
 * True when Redis Cluster would hash every key starting with `prefix` by the same tag: the first
 * "{" is followed, later, by a "}" with at least one character between them (Redis' rule).
 */
export function hasHashTag(prefix: string): boolean {
  const open = prefix.indexOf("{");
  return open >= 0 && prefix.indexOf("}", open + 1) > open + 1;
}

/**
 * The prefix of every payhooks key — BullMQ queues, the ledger, the job index, the worker
 * metrics hash, Payme's keys. The one place it is computed: callers never use QUEUE_PREFIX as is.
 *
 * Against one Redis it is QUEUE_PREFIX unchanged. Against a Redis Cluster it is QUEUE_PREFIX
 * wrapped in braces unless it already holds a hash tag (`payhooks` → `{payhooks}`), so every key
 * lands in one slot: BullMQ's Lua scripts and the ledger's compare-and-set touch several keys
 * (some built inside the script from the prefix), and Redis Cluster refuses a script or MULTI
 * whose keys span slots. The price: all of payhooks' data lives on one master.
 */
export function keyPrefix(config: { QUEUE_PREFIX: string; REDIS_URL: string }): string {
  if (!isClusterUrl(config.REDIS_URL) || hasHashTag(config.QUEUE_PREFIX)) return config.QUEUE_PREFIX;
  return `{${config.QUEUE_PREFIX}}`;
}
