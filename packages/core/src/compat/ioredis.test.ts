/**
 * Fails when an ioredis upgrade changes what ./ioredis.ts relies on. No Redis needed: a cluster
 * whose one seed port nobody listens on loses every node at once, the state the workaround is for.
 */
import { Cluster } from "ioredis";
import { createRedis } from "../redis";
import { clusterUrl } from "../redis-target";
import { freePort } from "../redis-launcher";
import { closeAsPoolDrainWould } from "./ioredis";

const opened: Cluster[] = [];
afterEach(() => {
  for (const c of opened.splice(0)) c.disconnect();
});

/** Resolves with the statuses `cluster` emits from now on, once it emitted `last` (or after `ms`). */
function statuses(cluster: Cluster, last: string, ms: number): Promise<string[]> {
  const seen: string[] = [];
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(seen), ms);
    for (const s of ["connecting", "connect", "ready", "close", "reconnecting", "disconnecting", "end"]) {
      cluster.on(s, () => {
        seen.push(s);
        if (s === last) {
          clearTimeout(timer);
          resolve(seen);
        }
      });
    }
  });
}

/** A cluster that lost every node and waits (a minute) to retry: its connection pool is empty. */
async function lostCluster(make: (port: number) => Cluster): Promise<Cluster> {
  const cluster = make(await freePort());
  opened.push(cluster);
  cluster.on("error", () => undefined);
  cluster.on("node error", () => undefined);
  if (cluster.status !== "reconnecting") await new Promise((r) => cluster.once("reconnecting", r));
  expect(cluster.nodes()).toHaveLength(0);
  return cluster;
}

it("still has the private Cluster methods the workaround calls", () => {
  const proto = Cluster.prototype as unknown as Record<string, unknown>;
  expect(typeof proto["setStatus"]).toBe("function");
  expect(typeof proto["handleCloseEvent"]).toBe("function");
});

it("still leaves a cluster whose pool is empty disconnecting for good (the gap the workaround closes)", async () => {
  const cluster = await lostCluster((port) => new Cluster([{ host: "127.0.0.1", port }], { clusterRetryStrategy: () => 60_000 }));
  const seen = statuses(cluster, "end", 500);
  cluster.disconnect();
  expect(cluster.status).toBe("disconnecting");
  // If this fails, ioredis now ends such a disconnect itself: drop PayhooksCluster's workaround.
  expect(await seen).toEqual(["disconnecting"]);
  expect(cluster.status).toBe("disconnecting");
});

it("closeAsPoolDrainWould ends such a cluster: close, then end, and no retry", async () => {
  const cluster = await lostCluster((port) => new Cluster([{ host: "127.0.0.1", port }], { clusterRetryStrategy: () => 60_000 }));
  cluster.disconnect();
  const seen = statuses(cluster, "end", 2_000);
  closeAsPoolDrainWould(cluster);
  expect(cluster.status).not.toBe("disconnecting");
  expect(await seen).toEqual(["disconnecting", "close", "end"]);
  expect(cluster.status).toBe("end");
});

it("createRedis' cluster ends a disconnect while every node is lost", async () => {
  const cluster = await lostCluster((port) => createRedis(clusterUrl([{ host: "127.0.0.1", port }]), "worker") as Cluster);
  const seen = statuses(cluster, "end", 2_000);
  cluster.disconnect();
  expect(await seen).toEqual(["disconnecting", "close", "end"]);
});
