/**
 * Payme Merchant API properties the sandbox sequences (payme.e2e.int.test.ts) do not reach:
 * ChangePassword across two ingress processes, PAYME_ALLOWED_IPS under TRUST_PROXY, many calls
 * in flight through one ingress, and transport edges. Real ingress and worker processes, a
 * private redis-server, real HTTP over loopback (docs/protocols/payme.md#transport,
 * #authentication, #changepassword).
 */
import { request } from "node:http";
import { Queue } from "bullmq";
import { QUEUES, createRedis, type RedisConnection } from "@payhooks/core";
import {
  paymeAuth,
  paymeCall,
  paymeId,
  removeRedisServer,
  startIngress,
  startRedisServer,
  startWorker,
  waitFor,
  type NodeProcess,
  type PaymeResponse,
  type RedisServer,
} from "@payhooks/testing";

type Ingress = Awaited<ReturnType<typeof startIngress>>;
type Reply = PaymeResponse & { jsonrpc?: unknown };

let redisServer: RedisServer;

beforeAll(async () => {
  redisServer = await startRedisServer();
}, 15_000);

afterAll(async () => {
  await removeRedisServer(redisServer);
});

const baseEnv = (prefix: string, extra: Record<string, string> = {}): Record<string, string> => ({
  REDIS_URL: redisServer.url,
  QUEUE_PREFIX: prefix,
  PAYME_RPC_TIMEOUT_MS: "3000",
  ...extra,
});

/**
 * A POST with exactly these headers and bytes (fetch would add a Content-Type of its own), on a
 * fresh connection. Resolves with the HTTP status, the Content-Type and the parsed body.
 */
function post(url: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; type: string; body: Reply }> {
  const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/webhooks/payme`,
      { method: "POST", agent: false, headers: { ...headers, "content-length": String(bytes.length) } },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => {
          try {
            resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"]), body: JSON.parse(text) as Reply });
          } catch (err) {
            reject(new Error(`not JSON (HTTP ${res.statusCode}): ${text.slice(0, 200)}`, { cause: err }));
          }
        });
      },
    );
    req.on("error", reject);
    req.end(bytes);
  });
}

/** A JSON-RPC call with extra headers; fails unless the answer is HTTP 200 JSON. */
async function rpc(url: string, key: string | null, method: string, params: Record<string, unknown>, id: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await post(url, JSON.stringify({ method, params, id }), {
    "content-type": "text/json; charset=UTF-8",
    ...(key === null ? {} : { authorization: paymeAuth(key) }),
    ...headers,
  });
  expect(res.status).toBe(200);
  expect(res.type).toMatch(/^application\/json/);
  return res.body;
}

/** The whole error member as Payme reads it: code, a localized message, and data when given. */
const rpcErrorOf = (code: number, data?: unknown) => ({
  code,
  message: { ru: expect.any(String), uz: expect.any(String), en: expect.any(String) },
  ...(data === undefined ? {} : { data }),
});

/** CheckTransaction for an id nobody created: -31003 proves the call passed every ingress check. */
const unknownTx = (url: string, key: string | null, id: unknown = 1, headers: Record<string, string> = {}) =>
  rpc(url, key, "CheckTransaction", { id: paymeId() }, id, headers);

describe("ChangePassword across two ingress processes", () => {
  const PREFIX = "pcp";
  const OLD = "old&%#?@:payme-key-0123456789abcdef";
  const NEW = "ROTATED-key&%#?@:9876543210-fedcba";
  const TEST_KEY = "pcp-sandbox-key-0123456789abcdef";
  /** B trusts its cached keys for 500 ms; the issue allows one second. */
  const PROPAGATION_MS = 1_000;
  const SLACK_MS = 250;
  let a: Ingress;
  let b: Ingress;
  let worker: NodeProcess;
  let redis: RedisConnection;

  beforeAll(async () => {
    const env = baseEnv(PREFIX, { PAYME_KEY: OLD, PAYME_TEST_KEY: TEST_KEY, PAYME_ALLOW_TEST_KEY: "true" });
    [a, b, worker] = await Promise.all([startIngress(env), startIngress(env), startWorker(env)]);
    redis = createRedis(redisServer.url, "worker", "payme-int-test");
  }, 30_000);

  afterAll(async () => {
    await redis?.quit();
    await Promise.all([a?.proc.stop(), b?.proc.stop(), worker?.stop()]);
  });

  it("refuses a missing, blank or non-string password with -31050 data \"password\", and keeps the key", async () => {
    const bad: Array<Record<string, unknown>> = [{}, { password: "" }, { password: "   " }, { password: 42 }, { password: null }];
    for (const [i, params] of bad.entries()) {
      expect(await rpc(a.url, OLD, "ChangePassword", params, 9_100 + i)).toEqual({
        jsonrpc: "2.0",
        id: 9_100 + i,
        error: rpcErrorOf(-31050, "password"),
      });
    }
    expect(await unknownTx(a.url, OLD)).toMatchObject({ error: { code: -31003 } });
    expect(await unknownTx(b.url, OLD)).toMatchObject({ error: { code: -31003 } });
  });

  it("refuses the current key as the new one with -32504, and keeps it", async () => {
    expect(await rpc(a.url, OLD, "ChangePassword", { password: OLD }, 9_200)).toEqual({
      jsonrpc: "2.0",
      id: 9_200,
      error: rpcErrorOf(-32504),
    });
    expect(await unknownTx(a.url, OLD)).toMatchObject({ error: { code: -31003 } });
  });

  it("never makes the live key and the sandbox key one key (config refuses PAYME_KEY == PAYME_TEST_KEY)", async () => {
    // Were it allowed, every sandbox call would authenticate as live and touch production data.
    expect(await rpc(a.url, TEST_KEY, "ChangePassword", { password: OLD }, 9_300)).toMatchObject({ id: 9_300, error: { code: -32504 } });
    expect(await rpc(a.url, OLD, "ChangePassword", { password: TEST_KEY }, 9_301)).toMatchObject({ id: 9_301, error: { code: -32504 } });
    // Neither was changed: both keys still authenticate.
    expect(await unknownTx(a.url, TEST_KEY)).toMatchObject({ error: { code: -31003 } });
    expect(await unknownTx(a.url, OLD)).toMatchObject({ error: { code: -31003 } });
  });

  it("rotates the key: A answers {success:true} and drops the old key at once; B within one second", async () => {
    // B has read (and cached) the old key just before the change.
    expect(await unknownTx(b.url, OLD)).toMatchObject({ error: { code: -31003 } });

    const changed = await rpc(a.url, OLD, "ChangePassword", { password: NEW }, 501);
    const changedAt = Date.now();
    expect(changed).toEqual({ jsonrpc: "2.0", id: 501, result: { success: true } });

    expect(await unknownTx(a.url, OLD, 502)).toEqual({ jsonrpc: "2.0", id: 502, error: rpcErrorOf(-32504) });
    expect(await unknownTx(a.url, NEW)).toMatchObject({ error: { code: -31003 } });

    await waitFor(
      async () => (await unknownTx(b.url, OLD)).error?.code === -32504,
      "ingress B to refuse the old key",
      PROPAGATION_MS + SLACK_MS - (Date.now() - changedAt),
    );
    expect(Date.now() - changedAt).toBeLessThan(PROPAGATION_MS + SLACK_MS);
    expect(await unknownTx(b.url, NEW)).toMatchObject({ error: { code: -31003 } });
    // Past B's cache lifetime the old key stays refused: Redis, not the environment, decides now.
    await new Promise((r) => setTimeout(r, 600));
    for (const url of [a.url, b.url]) {
      expect(await unknownTx(url, OLD)).toMatchObject({ error: { code: -32504 } });
      expect(await unknownTx(url, NEW)).toMatchObject({ error: { code: -31003 } });
    }
    // The sandbox key was not touched by a live ChangePassword.
    expect(await unknownTx(b.url, TEST_KEY)).toMatchObject({ error: { code: -31003 } });
  });

  it("after the rotation: the new key again is -32504, and the old key cannot change anything", async () => {
    expect(await rpc(b.url, NEW, "ChangePassword", { password: NEW }, 601)).toEqual({ jsonrpc: "2.0", id: 601, error: rpcErrorOf(-32504) });
    expect(await rpc(b.url, OLD, "ChangePassword", { password: "someone-else-key-0123456789" }, 602)).toEqual({
      jsonrpc: "2.0",
      id: 602,
      error: rpcErrorOf(-32504),
    });
    expect(await unknownTx(a.url, NEW)).toMatchObject({ error: { code: -31003 } });
  });

  it("keeps the new key out of every process's output, every job and every other Redis key", async () => {
    const logs = a.proc.output() + b.proc.output() + worker.output();
    // The output is really captured: the change itself was logged (without the key).
    expect(logs).toContain("payme key changed by ChangePassword");
    for (const secret of [NEW, JSON.stringify(NEW).slice(1, -1), paymeAuth(NEW).slice(6), paymeAuth(OLD).slice(6)]) {
      expect(logs).not.toContain(secret);
    }

    const queue = new Queue(QUEUES.payme, { connection: { path: redisServer.socketPath }, prefix: PREFIX });
    let jobs;
    try {
      jobs = await queue.getJobs(["completed", "failed", "active", "waiting", "delayed", "prioritized", "waiting-children"], 0, -1);
    } finally {
      await queue.close();
    }
    // Every CheckTransaction above went through the queue; no ChangePassword ever did.
    expect(jobs.length).toBeGreaterThanOrEqual(10);
    expect(jobs.map((j) => j.name)).toContain("CheckTransaction");
    expect(jobs.map((j) => j.name)).not.toContain("ChangePassword");
    const stored = JSON.stringify(jobs.map((j) => ({ name: j.name, data: j.data, returnvalue: j.returnvalue as unknown })));
    expect(stored).not.toContain(NEW);
    expect(stored).not.toContain(paymeAuth(NEW).slice(6));
    expect(stored.toLowerCase()).not.toContain("authorization");

    // The whole keyspace: the key store's entry is the only place the new key lives.
    const holding: string[] = [];
    for (const key of await redis.keys("*")) {
      if ((await dump(redis, key)).includes(NEW)) holding.push(key);
    }
    expect(holding).toEqual([`${PREFIX}:payme:key:live`]);
  });
});

/** Every value under one Redis key, as text. */
async function dump(redis: RedisConnection, key: string): Promise<string> {
  switch (await redis.type(key)) {
    case "string":
      return (await redis.get(key)) ?? "";
    case "hash":
      return JSON.stringify(await redis.hgetall(key));
    case "list":
      return JSON.stringify(await redis.lrange(key, 0, -1));
    case "set":
      return JSON.stringify(await redis.smembers(key));
    case "zset":
      return JSON.stringify(await redis.zrange(key, 0, -1, "WITHSCORES"));
    case "stream":
      return JSON.stringify(await redis.xrange(key, "-", "+"));
    default:
      return "";
  }
}

describe("PAYME_ALLOWED_IPS and TRUST_PROXY", () => {
  const PREFIX = "pip";
  const KEY = "pip-payme-key-0123456789abcdef";
  const PAYME_RANGE = "185.234.113.1-185.234.113.15";
  let behindProxy: Ingress;
  let direct: Ingress;
  let loopbackOnly: Ingress;
  let worker: NodeProcess;

  beforeAll(async () => {
    const env = baseEnv(PREFIX, { PAYME_KEY: KEY });
    [behindProxy, direct, loopbackOnly, worker] = await Promise.all([
      startIngress({ ...env, PAYME_ALLOWED_IPS: PAYME_RANGE, TRUST_PROXY: "loopback" }),
      startIngress({ ...env, PAYME_ALLOWED_IPS: PAYME_RANGE }),
      startIngress({ ...env, PAYME_ALLOWED_IPS: "127.0.0.1" }),
      startWorker(env),
    ]);
  }, 30_000);

  afterAll(async () => {
    await Promise.all([behindProxy?.proc.stop(), direct?.proc.stop(), loopbackOnly?.proc.stop(), worker?.stop()]);
  });

  const from = (xff?: string): Record<string, string> => (xff === undefined ? {} : { "x-forwarded-for": xff });

  it("behind a trusted loopback proxy: serves Payme's addresses as X-Forwarded-For names them, no others", async () => {
    for (const xff of ["185.234.113.7", "185.234.113.1", "185.234.113.15", "8.8.8.8, 185.234.113.7"]) {
      expect([xff, await unknownTx(behindProxy.url, KEY, 11, from(xff))]).toEqual([xff, { jsonrpc: "2.0", id: 11, error: rpcErrorOf(-31003) }]);
    }
    // The proxy saw 8.8.8.8 last: a left-most entry is the caller's own claim and not believed.
    for (const xff of ["185.234.113.16", "185.234.113.0", "8.8.8.8", "185.234.113.7, 8.8.8.8", undefined]) {
      expect([xff, await unknownTx(behindProxy.url, KEY, 12, from(xff))]).toEqual([xff, { jsonrpc: "2.0", id: 12, error: rpcErrorOf(-32504) }]);
    }
    expect(behindProxy.proc.output()).toContain('"ip":"8.8.8.8"');
  });

  it("without TRUST_PROXY: X-Forwarded-For is not believed, the caller is 127.0.0.1", async () => {
    for (const xff of ["185.234.113.7", undefined]) {
      expect([xff, await unknownTx(direct.url, KEY, 13, from(xff))]).toEqual([xff, { jsonrpc: "2.0", id: 13, error: rpcErrorOf(-32504) }]);
    }
    expect(direct.proc.output()).toMatch(/"ip":"(::ffff:)?127\.0\.0\.1".*not in PAYME_ALLOWED_IPS/);
    for (const xff of [undefined, "8.8.8.8"]) {
      expect([xff, await unknownTx(loopbackOnly.url, KEY, 14, from(xff))]).toEqual([xff, { jsonrpc: "2.0", id: 14, error: rpcErrorOf(-31003) }]);
    }
  });

  it("an allowed address still needs the key", async () => {
    expect(await unknownTx(behindProxy.url, "wrong-key", 15, from("185.234.113.7"))).toEqual({ jsonrpc: "2.0", id: 15, error: rpcErrorOf(-32504) });
    expect(await unknownTx(loopbackOnly.url, null, 16)).toEqual({ jsonrpc: "2.0", id: 16, error: rpcErrorOf(-32504) });
  });
});

describe("many calls in flight through one ingress", () => {
  const PREFIX = "pcc";
  const KEY = "pcc-payme-key-0123456789abcdef";
  const ADMIN_TOKEN = "pcc-admin-token-0123456789";
  const N = 20;
  let ingress: Ingress;
  let worker: NodeProcess | null = null;
  let env: Record<string, string>;

  beforeAll(async () => {
    // The calls wait for a worker started after they are all queued: the bound must cover its start.
    env = baseEnv(PREFIX, { PAYME_KEY: KEY, ADMIN_TOKEN, PAYME_RPC_TIMEOUT_MS: "10000" });
    [ingress, worker] = await Promise.all([startIngress(env), startWorker(env)]);
  }, 30_000);

  afterAll(async () => {
    await Promise.all([ingress?.proc.stop(), worker?.stop()]);
  });

  it("answers 60 concurrent calls each with its own answer and id, with one completion listener", async () => {
    const amounts = Array.from({ length: N }, (_, i) => 100_000 + i * 100);
    const orders = amounts.map((_, i) => `pcc-${i}-${Date.now()}`);
    await Promise.all(
      orders.map(async (orderId, i) => {
        const res = await fetch(`${ingress.adminUrl}/v1/orders/${orderId}`, {
          method: "PUT",
          headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
          body: JSON.stringify({ amount: amounts[i], currency: "UZS" }),
        });
        expect(res.status).toBe(201);
      }),
    );
    // N transactions on N orders, every other one performed: each has its own state and times.
    const txIds = orders.map(() => paymeId());
    const time = Date.now();
    const created = await Promise.all(
      orders.map((orderId, i) => paymeCall(ingress.url, KEY, "CreateTransaction", { id: txIds[i], time, amount: amounts[i], account: { order_id: orderId } })),
    );
    expect(new Set(created.map((c) => c.result?.["transaction"])).size).toBe(N);
    const performed = await Promise.all(
      txIds.map((id, i) => (i % 2 ? paymeCall(ingress.url, KEY, "PerformTransaction", { id }) : Promise.resolve(null))),
    );
    const expectedCheck = (i: number) => ({
      create_time: created[i]!.result!["create_time"],
      perform_time: i % 2 ? performed[i]!.result!["perform_time"] : 0,
      cancel_time: 0,
      transaction: created[i]!.result!["transaction"],
      state: i % 2 ? 2 : 1,
      reason: null,
    });

    // With no worker running, every call stays in flight until all 60 are queued.
    await worker!.stop();
    worker = null;
    const calls: Array<{ method: string; params: Record<string, unknown>; expected: Record<string, unknown> }> = [];
    for (let i = 0; i < N; i++) {
      calls.push({ method: "CheckTransaction", params: { id: txIds[i] }, expected: { result: expectedCheck(i) } });
      calls.push(
        i % 2
          ? { method: "CheckPerformTransaction", params: { amount: amounts[i]! + 1, account: { order_id: orders[i] } }, expected: { error: rpcErrorOf(-31001) } }
          : { method: "CheckPerformTransaction", params: { amount: amounts[i], account: { order_id: `${orders[i]}-missing` } }, expected: { error: rpcErrorOf(-31050, "order_id") } },
      );
      calls.push({ method: "CheckTransaction", params: { id: paymeId() }, expected: { error: rpcErrorOf(-31003) } });
    }
    // Interleaved, with ids that are not their positions.
    const order = calls.map((_, k) => (k * 37) % calls.length);
    expect(new Set(order).size).toBe(calls.length);
    const answers = Promise.all(
      order.map((k) => rpc(ingress.url, KEY, calls[k]!.method, calls[k]!.params, 50_000 + k).then((reply) => ({ k, reply }))),
    );

    const queue = new Queue(QUEUES.payme, { connection: { path: redisServer.socketPath }, prefix: PREFIX });
    try {
      await waitFor(async () => (await queue.getWaitingCount()) === calls.length, `${calls.length} calls waiting`, 5_000);
    } finally {
      await queue.close();
    }
    worker = await startWorker(env);

    const replies = await answers;
    expect(replies).toHaveLength(60);
    for (const { k, reply } of replies) {
      expect({ k, reply }).toEqual({ k, reply: { jsonrpc: "2.0", id: 50_000 + k, ...calls[k]!.expected } });
    }
    for (const output of [ingress.proc.output(), worker.output()]) {
      expect(output).not.toContain("MaxListenersExceededWarning");
      expect(output).not.toContain("payme call unanswered");
    }
  });
});

describe("transport edges", () => {
  const PREFIX = "ped";
  const KEY = "ped-payme-key-0123456789abcdef";
  let ingress: Ingress;
  let unconfigured: Ingress;
  let worker: NodeProcess;

  beforeAll(async () => {
    const env = baseEnv(PREFIX, { PAYME_KEY: KEY, BODY_LIMIT: "1kb" });
    [ingress, unconfigured, worker] = await Promise.all([
      startIngress(env),
      startIngress(baseEnv(PREFIX)),
      startWorker(env),
    ]);
  }, 30_000);

  afterAll(async () => {
    await Promise.all([ingress?.proc.stop(), unconfigured?.proc.stop(), worker?.stop()]);
  });

  const auth = () => ({ authorization: paymeAuth(KEY) });

  it("answers a body over BODY_LIMIT with HTTP 200 and -32600 (id unknown: the body was not read)", async () => {
    const call = (pad: number) => JSON.stringify({ method: "CheckTransaction", params: { id: paymeId(), pad: "x".repeat(pad) }, id: 21 });
    const under = await post(ingress.url, call(800), { ...auth(), "content-type": "text/json" });
    expect(Buffer.byteLength(call(800))).toBeLessThan(1024);
    expect(under).toEqual({ status: 200, type: expect.stringMatching(/^application\/json/), body: { jsonrpc: "2.0", id: 21, error: rpcErrorOf(-31003) } });

    const over = await post(ingress.url, call(2_048), { ...auth(), "content-type": "text/json" });
    expect(over).toEqual({ status: 200, type: expect.stringMatching(/^application\/json/), body: { jsonrpc: "2.0", id: null, error: rpcErrorOf(-32600) } });
  });

  it("parses the body as JSON whatever the Content-Type, or with none", async () => {
    const types = ["application/x-www-form-urlencoded", "text/plain", "application/octet-stream", "text/json; charset=UTF-8", "multipart/form-data; boundary=x", null];
    for (const [i, type] of types.entries()) {
      const body = JSON.stringify({ method: "CheckTransaction", params: { id: paymeId() }, id: 300 + i });
      const res = await post(ingress.url, body, { ...auth(), ...(type === null ? {} : { "content-type": type }) });
      expect([type, res]).toEqual([type, { status: 200, type: expect.stringMatching(/^application\/json/), body: { jsonrpc: "2.0", id: 300 + i, error: rpcErrorOf(-31003) } }]);
    }
  });

  it("answers a JSON array (a batch) with -32600", async () => {
    const batch = JSON.stringify([{ method: "CheckTransaction", params: { id: paymeId() }, id: 31 }]);
    expect(await post(ingress.url, batch, auth())).toEqual({
      status: 200,
      type: expect.stringMatching(/^application\/json/),
      body: { jsonrpc: "2.0", id: null, error: rpcErrorOf(-32600) },
    });
  });

  it("echoes the id as sent when authorization fails, before the call's shape is looked at", async () => {
    for (const id of [0, -5, 2 ** 40, 1.5, "req-7f1c", ""]) {
      for (const key of [null, "wrong-key"]) {
        expect(await unknownTx(ingress.url, key, id)).toEqual({ jsonrpc: "2.0", id, error: rpcErrorOf(-32504) });
      }
      expect(await rpc(ingress.url, "wrong-key", "NoSuchMethod", { x: 1 }, id)).toEqual({ jsonrpc: "2.0", id, error: rpcErrorOf(-32504) });
    }
    // An id that is neither a number nor a string is not an id.
    expect(await unknownTx(ingress.url, "wrong-key", { nested: 1 })).toEqual({ jsonrpc: "2.0", id: null, error: rpcErrorOf(-32504) });
  });

  it("without PAYME_KEY: HTTP 200, -32400, data \"provider_not_configured\", the id echoed", async () => {
    const res = await post(unconfigured.url, JSON.stringify({ method: "CheckTransaction", params: { id: paymeId() }, id: 41 }), {
      ...auth(),
      "content-type": "text/json",
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ jsonrpc: "2.0", id: 41, error: rpcErrorOf(-32400, "provider_not_configured") });
    const get = await fetch(`${unconfigured.url}/webhooks/payme`);
    expect(get.status).toBe(200);
    expect(await get.json()).toEqual({ jsonrpc: "2.0", id: null, error: rpcErrorOf(-32300) });
  });
});
