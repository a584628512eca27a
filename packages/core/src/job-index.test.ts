import { createJobIndex } from "./job-index";

/** A stand-in for the pipeline's Redis that can be told to fail its next write. */
function fakeRedis() {
  const writes: Array<Array<[string, ...unknown[]]>> = [];
  let failNext = false;
  const redis = {
    failNext: () => void (failNext = true),
    writes,
    pipeline() {
      const calls: Array<[string, ...unknown[]]> = [];
      const p = {
        zadd: (...a: unknown[]) => (calls.push(["zadd", ...a]), p),
        zremrangebyrank: (...a: unknown[]) => (calls.push(["zremrangebyrank", ...a]), p),
        expire: (...a: unknown[]) => (calls.push(["expire", ...a]), p),
        exec: async () => {
          if (failNext) {
            failNext = false;
            throw new Error("READONLY You can't write against a read only replica.");
          }
          writes.push(calls);
          return calls.map(() => [null, 1]);
        },
      };
      return p;
    },
    zrevrangebyscore: async () => [],
  };
  return redis;
}

it("writes an order's entries of one window with one ZADD, one trim and one EXPIRE", async () => {
  const redis = fakeRedis();
  const index = createJobIndex({ redis: redis as never, prefix: "p", flushMs: 60_000 });
  index.add("o1", "payram", "payram-a", 1);
  index.add("o1", "merchant-webhooks", "evt_1", 2);
  index.add("o2", "payram", "payram-b", 3);
  expect(await index.flush()).toBe(true);
  expect(redis.writes).toEqual([
    [
      ["zadd", "p:jobindex:order:o1", 1, "payram/payram-a", 2, "merchant-webhooks/evt_1"],
      ["zremrangebyrank", "p:jobindex:order:o1", 0, -501],
      ["expire", "p:jobindex:order:o1", 30 * 86_400],
      ["zadd", "p:jobindex:order:o2", 3, "payram/payram-b"],
      ["zremrangebyrank", "p:jobindex:order:o2", 0, -501],
      ["expire", "p:jobindex:order:o2", 30 * 86_400],
    ],
  ]);
});

it("keeps the entries of a failed write for the next one, logged once", async () => {
  const redis = fakeRedis();
  const warnings: unknown[] = [];
  const index = createJobIndex({ redis: redis as never, prefix: "p", flushMs: 60_000, logger: { warn: (...a: unknown[]) => void warnings.push(a) } as never });
  index.add("o1", "payram", "payram-a", 1);
  redis.failNext();
  expect(await index.flush()).toBe(false);
  expect(warnings).toHaveLength(1);
  index.add("o1", "merchant-webhooks", "evt_1", 2);
  expect(await index.flush()).toBe(true);
  expect(redis.writes).toEqual([
    [
      ["zadd", "p:jobindex:order:o1", 1, "payram/payram-a", 2, "merchant-webhooks/evt_1"],
      ["zremrangebyrank", "p:jobindex:order:o1", 0, -501],
      ["expire", "p:jobindex:order:o1", 30 * 86_400],
    ],
  ]);
  expect(await index.flush()).toBe(true); // nothing left
  expect(redis.writes).toHaveLength(1);
});

it("keeps notes beside job references: list() gives the jobs, timeline() both, oldest first", async () => {
  const members: Array<[number, string]> = [];
  const redis = {
    pipeline() {
      const p = {
        zadd: (_k: string, ...sm: Array<string | number>) => {
          for (let i = 0; i < sm.length; i += 2) members.push([sm[i] as number, sm[i + 1] as string]);
          return p;
        },
        zremrangebyrank: () => p,
        expire: () => p,
        exec: async () => [],
      };
      return p;
    },
    // newest first, as ZREVRANGEBYSCORE … WITHSCORES answers
    zrevrangebyscore: async () => [...members].sort((a, b) => b[0] - a[0]).flatMap(([s, m]) => [m, String(s)]),
  };
  const index = createJobIndex({ redis: redis as never, prefix: "p" });
  index.add("o1", "payram", "payram-a", 10);
  index.note("o1", { kind: "attempt", eventId: "evt_1", attempt: 1, via: "inline", status: 503, durationMs: 4, error: "merchant endpoint answered 503", nextRetryAt: 2_020 }, 20);
  index.note("o1", { kind: "attempt", eventId: "evt_1", attempt: 2, via: "job", status: 200, durationMs: 3, final: true }, 2_030);
  await index.flush();
  expect(await index.list("o1")).toEqual([{ queue: "payram", jobId: "payram-a", at: 10 }]);
  expect(await index.timeline("o1")).toEqual([
    { at: 10, job: { queue: "payram", jobId: "payram-a" } },
    { at: 20, note: { kind: "attempt", eventId: "evt_1", attempt: 1, via: "inline", status: 503, durationMs: 4, error: "merchant endpoint answered 503", nextRetryAt: 2_020 } },
    { at: 2_030, note: { kind: "attempt", eventId: "evt_1", attempt: 2, via: "job", status: 200, durationMs: 3, final: true } },
  ]);
});

it("list() gives the order's jobs even when newer notes outnumber the limit", async () => {
  const members: Array<[number, string]> = [];
  const redis = {
    pipeline() {
      const p = {
        zadd: (_k: string, ...sm: Array<string | number>) => {
          for (let i = 0; i < sm.length; i += 2) members.push([sm[i] as number, sm[i + 1] as string]);
          return p;
        },
        zremrangebyrank: () => p,
        expire: () => p,
        hset: () => p,
        exec: async () => [],
      };
      return p;
    },
    // ZREVRANGEBYSCORE key +inf since WITHSCORES LIMIT 0 count, as Redis answers it
    zrevrangebyscore: async (_k: string, _max: string, min: number, _w: string, _l: string, _o: number, count: number) =>
      [...members]
        .filter(([at]) => at >= min)
        .sort((a, b) => b[0] - a[0])
        .slice(0, count)
        .flatMap(([at, m]) => [m, String(at)]),
  };
  const index = createJobIndex({ redis: redis as never, prefix: "p" });
  index.add("o1", "payram", "payram-a", 1);
  for (let n = 0; n < 30; n++) index.note("o1", { kind: "attempt", eventId: "evt_1", attempt: n + 1, via: "job", status: 500, durationMs: 1 }, 100 + n);
  await index.flush();
  expect(await index.list("o1", 0, 10)).toEqual([{ queue: "payram", jobId: "payram-a", at: 1 }]);
});
