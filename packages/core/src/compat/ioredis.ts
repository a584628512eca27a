/**
 * The one place payhooks reaches into ioredis' private internals.
 *
 * Checked against ioredis 5.11.1, pinned exactly in packages/core, apps/ingress and apps/worker
 * package.json. On an upgrade, re-check in ioredis' built/cluster/index.js (ioredis.test.ts
 * fails when one of these changes):
 * - `Cluster#setStatus(status)` still sets `status` at once and emits the status on next tick;
 * - `Cluster#handleCloseEvent(reason?)` still ends a cluster closed by hand ("end", no retry);
 * - `Cluster#disconnect()` while every node is lost (between reconnect attempts: the connection
 *   pool is empty) still leaves the cluster "disconnecting" for good. If ioredis now ends it by
 *   itself, PayhooksCluster's workaround in ../redis.ts (and this module) can go.
 */
import type { Cluster } from "ioredis";

/** What this module needs of ioredis' Cluster beyond its public type. */
type ClusterInternals = { setStatus(status: "close"): void; handleCloseEvent(reason?: Error): void };

/**
 * Does for a disconnecting cluster what its connection pool's "drain" does once the last node
 * connection has ended: status "close", then `handleCloseEvent`, which (closed by hand, so no
 * retry) sets "end". For a pool that is already empty, where no "drain" will come.
 */
export function closeAsPoolDrainWould(cluster: Cluster): void {
  const internals = cluster as unknown as ClusterInternals;
  internals.setStatus("close");
  internals.handleCloseEvent();
}
