import { createRedis, keyPrefix, type RedisConnection } from "@payhooks/core";
import { startRedisCluster } from "./redis-cluster";
import { removeRedisServer, startRedisServer } from "./redis-server";

/** `single`: one private redis-server on a unix socket. `cluster`: a private 3-master Redis Cluster. */
export type TestRedisMode = "single" | "cluster";

/** The environment variable that picks the mode; the `e2e:cluster` jest project sets it to `cluster`. */
export const TEST_REDIS_ENV = "PAYHOOKS_TEST_REDIS";

/** The mode `startTestRedis()` uses in this process: `cluster` when PAYHOOKS_TEST_REDIS=cluster. */
export function testRedisMode(env: NodeJS.ProcessEnv = process.env): TestRedisMode {
  const value = env[TEST_REDIS_ENV];
  if (value === undefined || value === "" || value === "single") return "single";
  if (value === "cluster") return "cluster";
  throw new Error(`${TEST_REDIS_ENV} must be single or cluster, not ${JSON.stringify(value)}`);
}

/** What an end-to-end test needs from its Redis, whichever the mode. */
export type TestRedis = {
  mode: TestRedisMode;
  /** REDIS_URL for the ingress and worker processes */
  url: string;
  /** The key prefix the services use for QUEUE_PREFIX=`queuePrefix` here ({@link keyPrefix}). */
  prefix(queuePrefix: string): string;
  /**
   * A direct connection (worker options: it waits out a Redis restart) for the test's own Queues
   * and reads. Closed by `remove()`.
   */
  client(name?: string): RedisConnection;
  /** Stops the server or every cluster node (SIGKILL to simulate a crash). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again, empty without persistence; a cluster is back once cluster_state is ok. */
  restart(): Promise<void>;
  /** Closes the clients, stops Redis and removes its temp dir. */
  remove(): Promise<void>;
};

/** Starts the Redis of an end-to-end test in the mode PAYHOOKS_TEST_REDIS asks for. */
export async function startTestRedis(mode: TestRedisMode = testRedisMode()): Promise<TestRedis> {
  const clients: RedisConnection[] = [];
  const track = (client: RedisConnection) => {
    client.on("error", () => undefined); // a test that kills Redis would otherwise print every reconnect
    clients.push(client);
    return client;
  };
  const closeClients = () => Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect()))).then(() => undefined);

  if (mode === "cluster") {
    const cluster = await startRedisCluster();
    return {
      mode,
      url: cluster.url,
      prefix: (queuePrefix) => keyPrefix({ QUEUE_PREFIX: queuePrefix, REDIS_URL: cluster.url }),
      client: (name) => track(cluster.client(name)),
      stop: (signal) => cluster.stop(signal),
      restart: () => cluster.restart(),
      remove: async () => {
        await closeClients();
        await cluster.remove();
      },
    };
  }
  const server = await startRedisServer();
  return {
    mode,
    url: server.url,
    prefix: (queuePrefix) => keyPrefix({ QUEUE_PREFIX: queuePrefix, REDIS_URL: server.url }),
    client: (name = "payhooks-test") => track(createRedis(server.url, "worker", name)),
    stop: (signal) => server.stop(signal),
    restart: () => server.restart(),
    remove: async () => {
      await closeClients();
      await removeRedisServer(server);
    },
  };
}
