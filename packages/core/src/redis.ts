import IORedis, { Cluster, type ClusterNode, type ClusterOptions, type RedisOptions } from "ioredis";
import { closeAsPoolDrainWould } from "./compat/ioredis";
import { isClusterUrl, parseClusterUrl } from "./redis-target";

/**
 * How a connection behaves, by what it is used for:
 * - `producer`: ingress enqueues. No offline queue and a 1 s command timeout, so an enqueue
 *   fails fast while Redis is down or hung and the provider gets 503 (it retries; nothing lost).
 *   Auto-pipelining: the commands of concurrent requests issued in one tick go out in one write
 *   (fewer syscalls per acknowledgement under load; each command still gets its own reply).
 * - `worker`: BullMQ workers and QueueEvents; blocking commands, so no per-request retry limit.
 */
export type RedisRole = "producer" | "worker";

/** A connection to one Redis or to a Redis Cluster: everything that takes a connection takes either. */
export type RedisConnection = IORedis | Cluster;

/** Parses redis://, rediss:// and unix:///path/to.sock URLs into ioredis options. */
export function redisOptionsFromUrl(url: string): RedisOptions {
  if (url.startsWith("unix://")) {
    const u = new URL(url);
    const db = u.searchParams.get("db");
    return { path: decodeURIComponent(u.pathname), ...(db ? { db: Number(db) } : {}) };
  }
  const u = new URL(url);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : undefined;
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(db !== undefined && Number.isInteger(db) ? { db } : {}),
    ...(u.protocol === "rediss:" ? { tls: {} } : {}),
  };
}

export function redisOptionsFor(role: RedisRole): RedisOptions {
  const reconnect = { retryStrategy: (times: number) => Math.min(50 * times, 1000) };
  switch (role) {
    case "producer":
      return { ...reconnect, enableAutoPipelining: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, connectTimeout: 1000, commandTimeout: 1000 };
    case "worker":
      return { ...reconnect, maxRetriesPerRequest: null, enableReadyCheck: true };
  }
}

/**
 * The same roles for an ioredis Cluster. Options of the cluster object decide what happens while
 * it is not ready; `redisOptions` go to each node's connection (ioredis' Cluster docs):
 * - `producer`: `enableOfflineQueue: false` on the cluster, so a command while the cluster is
 *   down or re-reading its slots rejects at once ("Cluster isn't ready…") instead of waiting;
 *   1 s connect and command timeouts per node. (ioredis always gives node connections an offline
 *   queue of their own; the command timeout bounds what waits there.)
 * - `worker`: `maxRetriesPerRequest: null` in `redisOptions`, where BullMQ looks for it.
 * Both re-discover the cluster after every node was lost (`clusterRetryStrategy`, capped at 1 s
 * like the single-server `retryStrategy`).
 */
export function clusterOptionsFor(role: RedisRole): ClusterOptions {
  const reconnect = { clusterRetryStrategy: (times: number) => Math.min(50 * times, 1000), slotsRefreshTimeout: 1000 };
  switch (role) {
    case "producer":
      return { ...reconnect, enableAutoPipelining: true, enableOfflineQueue: false, redisOptions: { maxRetriesPerRequest: 0, connectTimeout: 1000, commandTimeout: 1000 } };
    case "worker":
      return { ...reconnect, enableReadyCheck: true, redisOptions: { maxRetriesPerRequest: null } };
  }
}

/**
 * ioredis' Cluster with one gap closed. Its `disconnect()` reports "end" only once the last node
 * connection has ended (the pool's "drain"); but between reconnect attempts after every node was
 * lost the pool is empty, so a `disconnect()` then never ends (ioredis 5.11; the maintainers
 * noted the same for a not-yet-connected cluster in ioredis#352 and handled only that case).
 * BullMQ's `Worker.close()` waits for that "end" on its blocking connection, so a worker told to
 * stop shortly after a whole-cluster restart hung until its shutdown deadline. Here such a
 * disconnect ends at once (the private part is in ./compat/ioredis). `duplicate()` keeps the
 * class, since BullMQ duplicates connections.
 */
class PayhooksCluster extends Cluster {
  constructor(
    private readonly seeds: ClusterNode[],
    options: ClusterOptions,
  ) {
    super(seeds, options);
  }

  override disconnect(reconnect = false): void {
    const empty = this.nodes().length === 0;
    super.disconnect(reconnect);
    if (reconnect || !empty || this.status !== "disconnecting") return;
    // Later, not now: BullMQ reconnects a cluster with disconnect() then connect() at once, and
    // a "close" emitted into that new connect() would end the cluster for good.
    setImmediate(() => {
      if (this.status !== "disconnecting" || this.nodes().length > 0) return;
      closeAsPoolDrainWould(this);
    });
  }

  override duplicate(overrideStartupNodes: ClusterNode[] = [], overrideOptions: ClusterOptions = {}): Cluster {
    return new PayhooksCluster(overrideStartupNodes.length > 0 ? overrideStartupNodes : [...this.seeds], { ...this.options, ...overrideOptions });
  }
}

/**
 * A connection with `role`'s behaviour to what `url` names: an ioredis Cluster for
 * `redis+cluster://` / `rediss+cluster://` URLs (see loadConfig: REDIS_CLUSTER_NODES becomes one),
 * otherwise one Redis.
 */
export function createRedis(url: string, role: RedisRole, name?: string): RedisConnection {
  if (isClusterUrl(url)) {
    const target = parseClusterUrl(url);
    const options = clusterOptionsFor(role);
    return new PayhooksCluster(target.nodes, {
      ...options,
      redisOptions: {
        ...options.redisOptions,
        ...(target.username ? { username: target.username } : {}),
        ...(target.password ? { password: target.password } : {}),
        ...(target.tls ? { tls: {} } : {}),
        ...(name ? { connectionName: name } : {}),
      },
    });
  }
  return new IORedis({ ...redisOptionsFromUrl(url), ...redisOptionsFor(role), ...(name ? { connectionName: name } : {}) });
}

/**
 * The masters of a cluster, or the one server: where a command that is not about one key (SCAN,
 * INFO, DBSIZE) has to go to see everything.
 */
export function primaries(redis: RedisConnection): IORedis[] {
  return redis instanceof Cluster ? redis.nodes("master") : [redis];
}

export type { IORedis as Redis };
