/**
 * Redis Cluster mode, shown to be a real cluster: the built ingress (REDIS_URL=redis+cluster://…)
 * and worker (REDIS_CLUSTER_NODES=…) run against a private 3-master cluster with an untagged
 * QUEUE_PREFIX; a Payram payment goes through, and then every key of the run is read back from
 * every master. The e2e:cluster jest project runs the whole end-to-end suite against a cluster;
 * this file proves what that suite cannot see: where the keys went.
 */
import { resolve } from "node:path";
import { QUEUES, keyPrefix, primaries, type RedisConnection } from "@payhooks/core";
import { signForTest } from "@payhooks/payram";
import { adminClient, spawnNode, startIngress, startRedisCluster, startWorker, waitFor, type NodeProcess, type RedisCluster } from "@payhooks/testing";

const CLI = resolve(__dirname, "../../cli/dist/payhooks.js");
const PAYRAM_SECRET = "cluster-payram-project-key";
const ADMIN_TOKEN = "cluster-admin-token-0123456789";
const PREFIX = "ct";
const PAYMENT = "0b9f4c1e-7d2a-4e8b-9f3c-1a2b3c4d5e6f";

let cluster: RedisCluster;
let direct: RedisConnection;
let ingress: Awaited<ReturnType<typeof startIngress>>;
let worker: NodeProcess;
let nodesList: string;

beforeAll(async () => {
  cluster = await startRedisCluster();
  direct = cluster.client("cluster-test");
  nodesList = cluster.nodes.map((n) => `127.0.0.1:${n.port}`).join(",");
  const common = { QUEUE_PREFIX: PREFIX, PAYRAM_WEBHOOK_SECRET: PAYRAM_SECRET, ADMIN_TOKEN };
  // Both ways of selecting cluster mode, one per process: they must agree on every key.
  [ingress, worker] = await Promise.all([
    startIngress({ ...common, REDIS_URL: cluster.url }),
    startWorker({ ...common, REDIS_CLUSTER_NODES: nodesList }),
  ]);
}, 40_000);

afterAll(async () => {
  await Promise.all([ingress?.proc.stop(), worker?.stop()]);
  await direct?.quit().catch(() => undefined);
  await cluster?.remove();
});

/** Every key on every master, by master port (SCAN has to ask each master: one sees its own slots). */
async function keysByMaster(): Promise<Map<number, string[]>> {
  const byMaster = new Map<number, string[]>();
  for (const node of primaries(direct)) {
    const keys: string[] = [];
    let cursor = "0";
    do {
      const [next, batch] = await node.scan(cursor, "COUNT", 1000);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== "0");
    byMaster.set(node.options.port!, keys.sort());
  }
  return byMaster;
}

const keyslot = async (key: string) => Number(await direct.cluster("KEYSLOT", key));

it("hash-tags an untagged QUEUE_PREFIX in cluster mode only, and leaves a tagged one alone", () => {
  expect(keyPrefix({ QUEUE_PREFIX: PREFIX, REDIS_URL: cluster.url })).toBe("{ct}");
  expect(keyPrefix({ QUEUE_PREFIX: "{shop}-payhooks", REDIS_URL: cluster.url })).toBe("{shop}-payhooks");
  expect(keyPrefix({ QUEUE_PREFIX: PREFIX, REDIS_URL: "redis://127.0.0.1:6379" })).toBe("ct");
});

it("is a real 3-master cluster whose masters split the slots", async () => {
  expect(primaries(direct)).toHaveLength(3);
  const slots = await direct.cluster("SLOTS");
  expect(new Set(slots.map((s) => s[2]![1])).size).toBe(3);
  expect(slots.reduce((sum, [from, to]) => sum + (to - from + 1), 0)).toBe(16_384);
  // Keys without a hash tag spread over the masters: these four land on at least two.
  const ownerOf = async (key: string) => {
    const slot = await keyslot(key);
    return slots.find(([from, to]) => from <= slot && slot <= to)![2]![1];
  };
  const owners = new Set(await Promise.all(["order-a", "order-b", "order-c", "order-d"].map(ownerOf)));
  expect(owners.size).toBeGreaterThan(1);
});

it("takes a payment through ingress and worker and keeps every key of the run in the prefix's one slot", async () => {
  const admin = adminClient(ingress.adminUrl, ADMIN_TOKEN);
  expect(await admin.putOrder("order-cl-1", { amount: 1250, currency: "USD", references: { payram: PAYMENT } })).toBe(201);
  const body = JSON.stringify({ reference_id: PAYMENT, status: "FILLED", amount: "12.50", filled_amount: "12.50", currency: "USD", timestamp: 1_763_800_000 });
  const res = await fetch(`${ingress.url}/webhooks/payram`, { method: "POST", headers: signForTest(body, PAYRAM_SECRET), body });
  expect(res.status).toBe(200);
  await waitFor(async () => ((await admin.getOrder("order-cl-1")).status === "paid" ? true : undefined), "order paid");
  // The worker indexes the job by order after completing it, and records its metrics.
  await waitFor(async () => ((await direct.exists("{ct}:jobindex:order:order-cl-1", "{ct}:metrics:worker")) === 2 ? true : undefined), "job index and metrics");

  const byMaster = await keysByMaster();
  const all = [...byMaster.values()].flat();
  // Ledger, queues, job index and worker metrics: the whole pipeline wrote keys…
  expect(all).toEqual(
    expect.arrayContaining([
      "{ct}:ledger:order:order-cl-1",
      `{ct}:ledger:payment:payram:${PAYMENT}`,
      `{ct}:ledger:ref:payram:${PAYMENT}`,
      "{ct}:payram:completed",
      "{ct}:payram:meta",
      "{ct}:payment-events:wait",
      "{ct}:jobindex:order:order-cl-1",
      "{ct}:metrics:worker",
    ]),
  );
  // …every one under the hash-tagged prefix, all on one master, none on the other two.
  expect(all.filter((k) => !k.startsWith("{ct}:"))).toEqual([]);
  const holding = [...byMaster.entries()].filter(([, keys]) => keys.length > 0);
  expect(holding).toHaveLength(1);
  // One slot: the ledger's and the queue's keys hash alike, and that slot holds every key.
  const slot = await keyslot("ct");
  expect(await keyslot("{ct}:ledger:order:order-cl-1")).toBe(slot);
  expect(await keyslot("{ct}:payram:completed")).toBe(slot);
  const master = primaries(direct).find((n) => n.options.port === holding[0]![0])!;
  expect(Number(await master.cluster("COUNTKEYSINSLOT", slot))).toBe(all.length);
});

it("serves the admin dashboard and /metrics from the cluster", async () => {
  const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const board = await fetch(`${ingress.adminUrl}/admin/queues/api/queues`, { headers });
  expect(board.status).toBe(200);
  const { queues } = (await board.json()) as { queues: Array<{ name: string; counts: Record<string, number> }> };
  expect(queues.map((q) => q.name).sort()).toEqual(Object.values(QUEUES).sort());
  expect(queues.find((q) => q.name === QUEUES.payram)!.counts["completed"]).toBe(1);
  const metrics = await (await fetch(`${ingress.adminUrl}/metrics`, { headers })).text();
  expect(metrics).toMatch(/^payhooks_metrics_redis_up 1$/m);
  expect(metrics).toMatch(/^payhooks_queue_jobs\{queue="payment-events",state="waiting"\} 1$/m);
});

it("runs the payhooks CLI against the cluster (REDIS_CLUSTER_NODES)", async () => {
  const proc = spawnNode(CLI, { REDIS_CLUSTER_NODES: nodesList, QUEUE_PREFIX: PREFIX }, ["status", "--json"]);
  expect(await proc.stop("SIGCONT")).toBe(0); // SIGCONT changes nothing: just wait for the exit
  const rows = JSON.parse(proc.output()) as Array<{ queue: string; completed: number; waiting: number; workers: number }>;
  expect(rows.find((r) => r.queue === QUEUES.payram)).toMatchObject({ completed: 1, workers: 1 });
  expect(rows.find((r) => r.queue === QUEUES.paymentEvents)).toMatchObject({ waiting: 1 });
});

it("refuses REDIS_CLUSTER_NODES that is not a host:port list, naming the variable", async () => {
  const proc = spawnNode(CLI, { REDIS_CLUSTER_NODES: "127.0.0.1:6379,127.0.0.1", QUEUE_PREFIX: PREFIX }, ["status"]);
  expect(await proc.stop("SIGCONT")).toBe(2);
  expect(proc.output()).toContain('REDIS_CLUSTER_NODES: must be a comma-separated list of host:port, e.g. 10.0.0.1:7000,10.0.0.2:7000 (bad: "127.0.0.1")');
});
