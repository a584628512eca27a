import { durabilityWarnings, type DurabilitySettings } from "./redis-durability";

const SAFE: DurabilitySettings = { appendonly: "yes", appendfsync: "always", maxmemoryPolicy: "noeviction", connectedReplicas: 0 };

describe("durabilityWarnings: one warning per unsafe setting", () => {
  it.each<[string, Partial<DurabilitySettings>, string[]]>([
    ["AOF with fsync always and noeviction", {}, []],
    ["AOF with fsync always, noeviction, with replicas", { connectedReplicas: 2 }, []],
    ["AOF off", { appendonly: "no" }, ["appendonly"]],
    // Without AOF appendfsync does nothing: only the AOF warning.
    ["AOF off with fsync everysec", { appendonly: "no", appendfsync: "everysec" }, ["appendonly"]],
    ["fsync everysec", { appendfsync: "everysec" }, ["appendfsync"]],
    ["fsync no", { appendfsync: "no" }, ["appendfsync"]],
    ["fsync everysec with replicas", { appendfsync: "everysec", connectedReplicas: 1 }, ["appendfsync"]],
    ["fsync everysec, replicas unknown", { appendfsync: "everysec", connectedReplicas: null }, ["appendfsync"]],
    ["an evicting policy", { maxmemoryPolicy: "allkeys-lru" }, ["maxmemory-policy"]],
    ["volatile-lru evicts too", { maxmemoryPolicy: "volatile-lru" }, ["maxmemory-policy"]],
    ["everything unsafe", { appendonly: "no", maxmemoryPolicy: "allkeys-lru" }, ["appendonly", "maxmemory-policy"]],
    ["fsync and eviction", { appendfsync: "everysec", maxmemoryPolicy: "allkeys-lfu" }, ["appendfsync", "maxmemory-policy"]],
    [
      "CONFIG refused",
      { appendonly: null, appendfsync: null, maxmemoryPolicy: null, configError: "ERR unknown command 'CONFIG'" },
      ["unchecked"],
    ],
    ["one setting not reported", { maxmemoryPolicy: null }, ["unchecked"]],
    ["one not reported, one unsafe", { maxmemoryPolicy: null, appendfsync: "everysec" }, ["unchecked", "appendfsync"]],
    // fsync always stops syncing while the AOF is rewritten
    ["fsync always, but not during a rewrite", { noAppendfsyncOnRewrite: "yes" }, ["no-appendfsync-on-rewrite"]],
    ["fsync always, during rewrites too", { noAppendfsyncOnRewrite: "no" }, []],
    ["no fsync during rewrites matters not with everysec (already warned)", { appendfsync: "everysec", noAppendfsyncOnRewrite: "yes" }, ["appendfsync"]],
  ])("%s", (_name, settings, expected) => {
    expect(durabilityWarnings({ ...SAFE, ...settings }).map((w) => w.setting)).toEqual(expected);
  });

  it("names the unsafe value and the fix", () => {
    const [aof] = durabilityWarnings({ ...SAFE, appendonly: "no" });
    expect(aof).toMatchObject({ value: "no", message: expect.stringMatching(/set appendonly yes and appendfsync always/) });
    const [fsync] = durabilityWarnings({ ...SAFE, appendfsync: "everysec" });
    expect(fsync).toMatchObject({ value: "everysec", message: expect.stringMatching(/up to about 1 s .*set appendfsync always$/) });
    const [evict] = durabilityWarnings({ ...SAFE, maxmemoryPolicy: "allkeys-lru" });
    expect(evict).toMatchObject({ value: "allkeys-lru", message: expect.stringMatching(/set maxmemory-policy noeviction/) });
  });

  it("with replicas, still warns about fsync and says why replicas do not make it safe", () => {
    const [withReplicas] = durabilityWarnings({ ...SAFE, appendfsync: "everysec", connectedReplicas: 2 });
    expect(withReplicas!.message).toMatch(/2 connected replica\(s\), but payhooks does not WAIT for them/);
    const [without] = durabilityWarnings({ ...SAFE, appendfsync: "everysec", connectedReplicas: 0 });
    expect(without!.message).not.toMatch(/replica/);
  });

  it("when CONFIG is refused, says why and how to check by hand", () => {
    const [w] = durabilityWarnings({ appendonly: null, appendfsync: null, maxmemoryPolicy: null, connectedReplicas: null, configError: "NOPERM no config" });
    expect(w!.value).toBe("NOPERM no config");
    expect(w!.message).toMatch(/could not check .*CONFIG GET failed \(NOPERM no config\).*redis-cli CONFIG GET appendonly.*appendfsync always and maxmemory-policy noeviction/);
  });
});
