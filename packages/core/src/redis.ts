import IORedis, { type RedisOptions } from "ioredis";

/**
 * How a connection behaves, by what it is used for:
 * - `producer`: ingress enqueues. No offline queue and a 1 s command timeout, so an enqueue
 *   fails fast while Redis is down or hung and the provider gets 503 (it retries; nothing lost).
 * - `worker`: BullMQ workers and QueueEvents; blocking commands, so no per-request retry limit.
 */
export type RedisRole = "producer" | "worker";

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
      return { ...reconnect, enableOfflineQueue: false, maxRetriesPerRequest: 0, connectTimeout: 1000, commandTimeout: 1000 };
    case "worker":
      return { ...reconnect, maxRetriesPerRequest: null, enableReadyCheck: true };
  }
}

export function createRedis(url: string, role: RedisRole, name?: string): IORedis {
  return new IORedis({ ...redisOptionsFromUrl(url), ...redisOptionsFor(role), ...(name ? { connectionName: name } : {}) });
}

export type { IORedis as Redis };
