/**
 * The start-up durability check against real redis-servers set up in different ways, as the
 * built ingress runs it: a child process whose JSON log lines are read back.
 */
import {
  freePort,
  redisInline,
  removeRedisServer,
  startIngress,
  startRedisCluster,
  startRedisServer,
  waitFor,
  type RedisServer,
} from "@payhooks/testing";
import { checkRedisDurability } from "./redis-durability";

type Logged = { level: number; msg: string; check?: string; setting?: string; value?: string };

/** Starts the ingress against `redisUrl`, waits until it listens, stops it, returns its output. */
async function ingressOutput(redisUrl: string): Promise<string> {
  const { proc } = await startIngress({ REDIS_URL: redisUrl, PAYRAM_WEBHOOK_SECRET: "durability-test-key" });
  await proc.stop();
  return proc.output();
}

/** The durability warnings among its log lines. */
function durabilityLines(output: string): Logged[] {
  return output
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Logged)
    .filter((l) => l.check === "redis-durability");
}

const servers: RedisServer[] = [];
async function server(...options: Parameters<typeof startRedisServer>): Promise<RedisServer> {
  const s = await startRedisServer(...options);
  servers.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => removeRedisServer(s)));
});

it.each<[string, Parameters<typeof startRedisServer>[0], Array<[string, string]>]>([
  ["AOF with appendfsync always and noeviction (as npm start runs it)", { aof: true }, []],
  ["AOF off", {}, [["appendonly", "no"]]],
  [
    "AOF with everysec and an evicting policy",
    { args: ["--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "allkeys-lru"] },
    [["appendfsync", "everysec"], ["maxmemory-policy", "allkeys-lru"]],
  ],
  ["CONFIG renamed away, as some managed Redis do", { aof: true, args: ["--rename-command", "CONFIG", ""] }, [["unchecked", "ERR unknown command 'CONFIG', with args beginning with: 'GET' 'appendonly' "]]],
])("%s: the ingress logs exactly the warnings for it", async (_name, options, expected) => {
  const redis = await server(options);
  const output = await ingressOutput(redis.url);
  const lines = durabilityLines(output);
  expect(lines.map((l) => [l.setting, l.value])).toEqual(expected);
  expect(lines.every((l) => l.level === 40)).toBe(true);
  expect(output).not.toContain(redis.socketPath);
});

it("a user without CONFIG (ACL): one warning saying the settings could not be checked, and neither the URL nor its password logged", async () => {
  const port = await freePort();
  const password = "durability-pw-5f1c9e";
  await server({ port, aof: true, args: ["--user", "payhooks", "on", `>${password}`, "~*", "&*", "+@all", "-config"] });
  const url = `redis://payhooks:${password}@127.0.0.1:${port}`;
  const output = await ingressOutput(url);
  const lines = durabilityLines(output);
  expect(lines.map((l) => l.setting)).toEqual(["unchecked"]);
  expect(lines[0]!.value).toMatch(/^NOPERM/);
  expect(lines[0]!.msg).toMatch(/could not check Redis durability settings: .*redis-cli CONFIG GET appendonly/);
  expect(output).not.toContain(password);
  expect(output).not.toContain(url);
});

it("appendfsync everysec with a connected replica: still warned, and the warning says the replica does not make it safe", async () => {
  const port = await freePort();
  const primary = await server({ port, args: ["--appendonly", "yes", "--appendfsync", "everysec"] });
  await server({ args: ["--replicaof", "127.0.0.1", String(port)] });
  await waitFor(async () => /connected_slaves:1/.test(await redisInline({ path: primary.socketPath }, "INFO replication")) || undefined, "the replica to connect");
  const lines = durabilityLines(await ingressOutput(primary.url));
  expect(lines.map((l) => [l.setting, l.value])).toEqual([["appendfsync", "everysec"]]);
  expect(lines[0]!.msg).toMatch(/1 connected replica\(s\), but payhooks does not WAIT for them/);
});

it("a Redis Cluster: every master is checked, one warning per setting naming the masters", async () => {
  const cluster = await startRedisCluster();
  const client = cluster.client("durability-test");
  try {
    await waitFor(async () => (client.status === "ready" ? true : undefined), "the cluster client");
    const warnings = await checkRedisDurability(client);
    expect(warnings.map((w) => w.setting)).toEqual(["appendonly"]);
    expect(warnings[0]!.nodes).toHaveLength(3);
    expect(new Set(warnings[0]!.nodes).size).toBe(3);
  } finally {
    await client.quit().catch(() => client.disconnect());
    await cluster.remove();
  }
});
