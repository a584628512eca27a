/** `npm start` as a user runs it: the built launcher as a real child process. */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { signForTest } from "@payhooks/payram";
import { freePort, redisInline, removeRedisServer, spawnNode, startRedisServer, waitFor } from "@payhooks/testing";

const START = resolve(__dirname, "../dist/start.js");

it("stops with one line naming the fix when there is no redis-server and no REDIS_URL", async () => {
  // An empty PATH: no redis-server can be found (the launcher runs node by its own path).
  const emptyDir = mkdtempSync(join(tmpdir(), "payhooks-nopath-"));
  const proc = spawnNode(START, { PATH: emptyDir });
  const code = await proc.stop("SIGCONT"); // a no-op signal: just wait for it to exit
  rmSync(emptyDir, { recursive: true, force: true });
  expect(code).toBe(1);
  const lines = proc.output().trim().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/no redis-server found and REDIS_URL is not set: install Redis \(apt-get install redis-server\) or set REDIS_URL/);
});

/** CONFIG GET `name` over RESP inline: the value. */
async function configGet(port: number, name: string): Promise<string | undefined> {
  const reply = await redisInline({ port }, `CONFIG GET ${name}`);
  // *2 $len name $len value
  return reply.split("\r\n").filter((l) => l !== "" && !/^[*$]/.test(l))[1];
}

it("runs Redis (AOF on, appendfsync always), ingress and worker, accepts a webhook, and stops everything on Ctrl-C", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "payhooks-start-"));
  const port = await freePort();
  const proc = spawnNode(START, {
    PORT: String(port),
    ADMIN_PORT: String(await freePort()),
    PAYRAM_WEBHOOK_SECRET: "start-test-key",
    PAYHOOKS_DATA_DIR: dataDir,
  });
  try {
    const redisLine = await proc.waitForLine(/started redis-server at redis:\/\/127\.0\.0\.1:\d+/);
    const redisPort = Number(/:(\d+) \(AOF/.exec(redisLine)![1]);
    // Through the URL it tells the user to export: every acknowledged write is fsync'ed.
    const exported = await proc.waitForLine(/export REDIS_URL=redis:\/\/127\.0\.0\.1:\d+$/);
    const exportedPort = Number(/:(\d+)$/.exec(exported)![1]);
    expect(await configGet(exportedPort, "appendonly")).toBe("yes");
    expect(await configGet(exportedPort, "appendfsync")).toBe("always");
    expect(await configGet(exportedPort, "maxmemory-policy")).toBe("noeviction");
    await proc.waitForLine(/"msg":"ingress listening"/);
    // The ingress checked that Redis at start-up (before it listened) and found nothing unsafe.
    expect(proc.output()).not.toContain('"check":"redis-durability"');
    await proc.waitForLine(/"msg":"worker ready"/);

    const body = JSON.stringify({ reference_id: "start-1", status: "OPEN", amount: "1.00" });
    const res = await fetch(`http://127.0.0.1:${port}/webhooks/payram`, { method: "POST", headers: signForTest(body, "start-test-key"), body });
    expect(res.status).toBe(200);
    await waitFor(async () => /ledger:payment:payram:start-1/.test(await redisInline({ port: redisPort }, "KEYS *ledger:payment*")) || undefined, "payment in the ledger");
    expect(readdirSync(dataDir)).toContain("appendonlydir");

    expect(await proc.stop("SIGINT")).toBe(0);
    expect(proc.output()).toContain("payhooks: stopped");
    await expect(redisInline({ port: redisPort }, "PING", 300)).rejects.toThrow();
  } finally {
    // After a failed assertion: Ctrl-C, so the launcher stops its Redis, ingress and worker too
    // (a SIGKILL would orphan them and keep jest waiting on their inherited pipes).
    await proc.stop("SIGINT");
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 30_000);

it("prints REDIS_URL with its password masked, and nothing it starts prints the password either", async () => {
  // A Redis of the test's own with a user whose password must never be shown.
  const redis = await startRedisServer({ port: await freePort() });
  const port = Number(/:(\d+)$/.exec(redis.url)![1]);
  expect(await redisInline({ port }, "ACL SETUSER payhooks on >pw-s3cret-1234 ~* &* +@all")).toMatch(/^\+OK/);
  const proc = spawnNode(START, {
    REDIS_URL: `redis://payhooks:pw-s3cret-1234@127.0.0.1:${port}`,
    PORT: String(await freePort()),
    ADMIN_PORT: String(await freePort()),
    PAYRAM_WEBHOOK_SECRET: "start-test-key",
  });
  try {
    const line = await proc.waitForLine(/for the CLI in another shell/);
    expect(line).toContain(`export REDIS_URL=redis://payhooks:***@127.0.0.1:${port}`);
    await proc.waitForLine(/"msg":"ingress listening"/);
    await proc.waitForLine(/"msg":"worker ready"/);
    expect(await proc.stop("SIGINT")).toBe(0);
    expect(proc.output()).toContain("payhooks: stopped");
    expect(proc.output()).not.toContain("pw-s3cret-1234");
  } finally {
    // SIGINT, not SIGKILL: the launcher must stop its ingress and worker, or they outlive the test.
    await proc.stop("SIGINT");
    await removeRedisServer(redis);
  }
}, 30_000);
