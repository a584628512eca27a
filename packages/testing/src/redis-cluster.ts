import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { clusterUrl, createRedis, type RedisConnection } from "@payhooks/core";
import { freePort, waitFor } from "./processes";
import { findRedisServer, redisInline } from "./redis-server";

export type RedisClusterOptions = {
  /** @defaultValue 3 (Redis Cluster's minimum number of masters) */
  masters?: number;
  /** Keep each node's data in `dataDir/node-N` with AOF on; default: the temp dir, no persistence. */
  dataDir?: string;
  /**
   * `cluster-node-timeout` (ms). Masters have no replicas here, so it only decides how soon a
   * node is flagged as failing; 5 s keeps a node the loaded test machine stalls from being
   * flagged. @defaultValue 5000
   */
  nodeTimeoutMs?: number;
};

export type RedisClusterNode = {
  port: number;
  /** the cluster bus port, set explicitly: the default port+10000 may be past 65535 */
  busPort: number;
  socketPath: string;
  pid(): number;
};

/**
 * A Redis Cluster of our own, shaped like {@link RedisServer} so a test can use either:
 * `url`, `stop(signal)` and `restart()` act on every node.
 */
export type RedisCluster = {
  /** redis+cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3 (what REDIS_URL gets) */
  url: string;
  nodes: readonly RedisClusterNode[];
  /** Stops every node (SIGTERM, or SIGKILL to simulate a crash) and waits for them to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /**
   * Starts every node again on its ports with its nodes.conf, so each rejoins with the slots it
   * had, and waits for cluster_state:ok on all of them. Without persistence the data is gone.
   */
  restart(): Promise<void>;
  /** A new ioredis Cluster (worker options) for a test's own reads and queues; the caller closes it. */
  client(name?: string): RedisConnection;
  /** Stops every node and removes the private temp dir (a `dataDir` given to start is kept). */
  remove(): Promise<void>;
};

/** The redis-cli next to redis-server, or on PATH. */
function findRedisCli(server: string): string {
  const beside = join(dirname(server), "redis-cli");
  return existsSync(beside) ? beside : "redis-cli";
}

type NodeHandle = RedisClusterNode & { launch(): Promise<void>; stop(signal?: NodeJS.Signals): Promise<void> };

/**
 * One `redis-server --cluster-enabled yes` on 127.0.0.1:`port`, with its own unix socket and
 * nodes.conf in `dir`. As with startRedisServer, readiness is `INFO server` reporting our child's
 * PID, on the socket and on the port, so a foreign Redis on a reused port makes us abort.
 */
function clusterNode(binary: string, dir: string, port: number, busPort: number, persistent: boolean, nodeTimeoutMs: number): NodeHandle {
  const socketPath = join(dir, "redis.sock");
  const args = [
    "--port", String(port),
    "--bind", "127.0.0.1",
    "--unixsocket", socketPath,
    "--unixsocketperm", "700",
    "--dir", dir,
    "--save", "",
    "--appendonly", persistent ? "yes" : "no",
    "--maxmemory-policy", "noeviction",
    "--daemonize", "no",
    "--loglevel", "warning",
    "--cluster-enabled", "yes",
    "--cluster-config-file", join(dir, "nodes.conf"),
    "--cluster-port", String(busPort),
    "--cluster-node-timeout", String(nodeTimeoutMs),
  ];
  let child: ChildProcess | null = null;
  let log = "";

  async function launch(): Promise<void> {
    const proc = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
    child = proc;
    proc.stdout!.on("data", (c: Buffer) => (log += c.toString()));
    proc.stderr!.on("data", (c: Buffer) => (log += c.toString()));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`redis-server (cluster node ${port}) exited with ${proc.exitCode}: ${log.trim().slice(-500)}`);
      try {
        for (const target of [{ path: socketPath }, { port, host: "127.0.0.1" }]) {
          const pid = Number(/process_id:(\d+)/.exec(await redisInline(target, "INFO server", 500))?.[1]);
          if (pid !== proc.pid) throw new Error(`${"path" in target ? socketPath : `port ${port}`} answered with PID ${pid}, not ours (${proc.pid})`);
        }
        return;
      } catch (err) {
        if (err instanceof Error && /not ours/.test(err.message)) {
          proc.kill("SIGKILL");
          throw err;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    proc.kill("SIGKILL");
    throw new Error(`redis-server (cluster node ${port}) did not become ready: ${log.trim().slice(-500)}`);
  }

  async function stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once("exit", () => resolve());
      proc.kill(signal);
    });
  }

  return { port, busPort, socketPath, pid: () => child?.pid ?? -1, launch, stop };
}

/** CLUSTER INFO of one node as a map ("cluster_state" → "ok"). */
async function clusterInfo(node: RedisClusterNode): Promise<Map<string, string>> {
  const text = await redisInline({ path: node.socketPath }, "CLUSTER INFO", 500);
  return new Map(text.split("\r\n").flatMap((line) => (line.includes(":") ? [line.split(":", 2) as [string, string]] : [])));
}

/** Until every node says the cluster is ok, knows every node and sees every slot assigned. */
async function waitForClusterOk(nodes: readonly RedisClusterNode[], timeoutMs: number): Promise<void> {
  await waitFor(
    async () => {
      for (const node of nodes) {
        const info = await clusterInfo(node);
        if (info.get("cluster_state") !== "ok" || info.get("cluster_known_nodes") !== String(nodes.length) || info.get("cluster_slots_ok") !== "16384") {
          return undefined;
        }
      }
      return true;
    },
    "cluster_state:ok on every node",
    timeoutMs,
  );
}

/**
 * Starts a Redis Cluster of our own: `masters` redis-server processes on free 127.0.0.1 ports,
 * each in its own directory (nodes.conf, unix socket) under one private temp dir, joined with
 * `redis-cli --cluster create … --cluster-replicas 0 --cluster-yes`, and ready once every node
 * reports cluster_state:ok.
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const binary = findRedisServer();
  if (!binary) throw new Error("redis-server not found: install it (apt-get install redis-server)");
  const masters = options.masters ?? 3;
  if (masters < 3) throw new Error("a Redis Cluster needs at least 3 masters");
  const runDir = mkdtempSync(join(tmpdir(), "payhooks-redis-cluster-"));
  const ports = new Set<number>();
  while (ports.size < masters * 2) ports.add(await freePort());
  const [clientPorts, busPorts] = [[...ports].slice(0, masters), [...ports].slice(masters)];
  const nodes = clientPorts.map((port, i) => {
    const dir = options.dataDir ? join(options.dataDir, `node-${i}`) : join(runDir, `node-${i}`);
    mkdirSync(dir, { recursive: true });
    return clusterNode(binary, dir, port, busPorts[i]!, options.dataDir !== undefined, options.nodeTimeoutMs ?? 5_000);
  });
  const stopAll = (signal?: NodeJS.Signals) => Promise.all(nodes.map((n) => n.stop(signal))).then(() => undefined);

  try {
    await Promise.all(nodes.map((n) => n.launch()));
    const cli = spawn(
      findRedisCli(binary),
      ["--cluster", "create", ...nodes.map((n) => `127.0.0.1:${n.port}`), "--cluster-replicas", "0", "--cluster-yes"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    cli.stdout!.on("data", (c: Buffer) => (output += c.toString()));
    cli.stderr!.on("data", (c: Buffer) => (output += c.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => cli.kill("SIGKILL"), 20_000);
      cli.once("exit", (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    if (code !== 0 || !output.includes("All 16384 slots covered")) {
      throw new Error(`redis-cli --cluster create failed (exit ${code}): ${output.trim().slice(-800)}`);
    }
    await waitForClusterOk(nodes, 20_000);
  } catch (err) {
    await stopAll("SIGKILL");
    rmSync(runDir, { recursive: true, force: true });
    throw err;
  }

  const url = clusterUrl(nodes.map((n) => ({ host: "127.0.0.1", port: n.port })));
  return {
    url,
    nodes: nodes.map(({ port, busPort, socketPath, pid }) => ({ port, busPort, socketPath, pid })),
    stop: stopAll,
    restart: async () => {
      await Promise.all(nodes.map((n) => n.launch()));
      await waitForClusterOk(nodes, 30_000);
    },
    client: (name = "payhooks-test") => createRedis(url, "worker", name),
    remove: async () => {
      await stopAll();
      rmSync(runDir, { recursive: true, force: true });
    },
  };
}
