import { loadBaseConfig as loadConfig } from "./config";
import { ConfigError } from "./errors";
import { hasHashTag, keyPrefix, parseClusterNodes, parseClusterUrl } from "./redis-target";

function configError(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe("selecting Redis Cluster", () => {
  it("turns REDIS_CLUSTER_NODES into a redis+cluster:// REDIS_URL", () => {
    const config = loadConfig({ REDIS_CLUSTER_NODES: "10.0.0.1:7000, redis-b.internal:7001,[::1]:7002" });
    expect(config.REDIS_URL).toBe("redis+cluster://10.0.0.1:7000,redis-b.internal:7001,[::1]:7002");
    expect(config).not.toHaveProperty("REDIS_CLUSTER_NODES");
    expect(parseClusterUrl(config.REDIS_URL).nodes).toEqual([
      { host: "10.0.0.1", port: 7000 },
      { host: "redis-b.internal", port: 7001 },
      { host: "::1", port: 7002 },
    ]);
  });

  it("accepts a redis+cluster:// URL with credentials, and rediss+cluster:// for TLS", () => {
    expect(loadConfig({ REDIS_URL: "redis+cluster://app:p%40ss@10.0.0.1:7000,10.0.0.2:7000" }).REDIS_URL).toBe(
      "redis+cluster://app:p%40ss@10.0.0.1:7000,10.0.0.2:7000",
    );
    expect(parseClusterUrl("redis+cluster://app:p%40ss@10.0.0.1:7000,10.0.0.2:7000")).toEqual({
      nodes: [
        { host: "10.0.0.1", port: 7000 },
        { host: "10.0.0.2", port: 7000 },
      ],
      username: "app",
      password: "p@ss",
      tls: false,
    });
    expect(parseClusterUrl("rediss+cluster://:secret@h:6380")).toEqual({ nodes: [{ host: "h", port: 6380 }], password: "secret", tls: true });
  });

  it("keeps the single-server default when neither is set", () => {
    expect(loadConfig({}).REDIS_URL).toBe("redis://127.0.0.1:6379");
  });

  it.each([
    ["a port missing", "10.0.0.1:7000,10.0.0.2", "10.0.0.2"],
    ["a port out of range", "10.0.0.1:70000", "10.0.0.1:70000"],
    ["an empty entry", "10.0.0.1:7000,,10.0.0.2:7000", ""],
    ["a URL instead of host:port", "redis://10.0.0.1:7000", "redis://10.0.0.1:7000"],
    ["a space inside a host", "redis a:7000", "redis a:7000"],
  ])("refuses REDIS_CLUSTER_NODES with %s, naming the variable and the bad entry", (_name, value, bad) => {
    expect(configError({ REDIS_CLUSTER_NODES: value })).toBe(
      `REDIS_CLUSTER_NODES: must be a comma-separated list of host:port, e.g. 10.0.0.1:7000,10.0.0.2:7000 (bad: "${bad}")`,
    );
  });

  it("refuses a redis+cluster:// URL with a bad node, without echoing its password", () => {
    const message = configError({ REDIS_URL: "redis+cluster://app:zzsecretzz@10.0.0.1:7000,nope" });
    expect(message).toMatch(/^REDIS_URL: must be redis\+cluster:\/\/\[user:pass@\]host:port,host:port \(bad cluster node "nope"/);
    expect(message).not.toContain("zzsecretzz");
  });

  it("refuses REDIS_CLUSTER_NODES together with REDIS_URL", () => {
    expect(configError({ REDIS_URL: "redis://127.0.0.1:6379", REDIS_CLUSTER_NODES: "127.0.0.1:7000" })).toBe(
      "REDIS_CLUSTER_NODES: set it or REDIS_URL, not both",
    );
  });

  it("parses host:port lists as Redis writes them", () => {
    expect(parseClusterNodes("127.0.0.1:30001,127.0.0.1:30002")).toEqual({
      ok: true,
      nodes: [
        { host: "127.0.0.1", port: 30001 },
        { host: "127.0.0.1", port: 30002 },
      ],
    });
    expect(parseClusterNodes("127.0.0.1:0")).toEqual({ ok: false, bad: "127.0.0.1:0" });
  });
});

describe("keyPrefix", () => {
  const cluster = "redis+cluster://127.0.0.1:7000";
  it.each([
    // [QUEUE_PREFIX, REDIS_URL, effective prefix]
    ["payhooks", "redis://127.0.0.1:6379", "payhooks"],
    ["payhooks", "unix:///tmp/redis.sock", "payhooks"],
    ["{payhooks}", "redis://127.0.0.1:6379", "{payhooks}"],
    ["payhooks", cluster, "{payhooks}"],
    ["payhooks", "rediss+cluster://h:7000", "{payhooks}"],
    ["{payhooks}", cluster, "{payhooks}"],
    ["shop-{ph}", cluster, "shop-{ph}"],
    // "{}" is no hash tag (Redis hashes the whole key then): wrapped, so the tag is "pay{"
    ["pay{}hooks", cluster, "{pay{}hooks}"],
    ["pay}{hooks", cluster, "{pay}{hooks}"],
  ])("%s against %s → %s", (prefix, url, expected) => {
    expect(keyPrefix({ QUEUE_PREFIX: prefix, REDIS_URL: url })).toBe(expected);
    if (url.includes("+cluster")) expect(hasHashTag(expected)).toBe(true);
  });
});
