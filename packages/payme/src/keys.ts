import type { Redis } from "@payhooks/core";
import type { PaymeKeys } from "./rpc";

/** How long an ingress trusts the keys it read; ChangePassword elsewhere reaches it within this. */
const KEY_CACHE_MS = 500;

export type PaymeKeyStore = ReturnType<typeof createPaymeKeyStore>;

/**
 * Payme's keys as they stand now. ChangePassword (docs/protocols/payme.md#changepassword) writes the new key to Redis;
 * from then on it — not PAYME_KEY / PAYME_TEST_KEY — is the one accepted, by every ingress
 * within KEY_CACHE_MS. The environment only seeds the key until the first ChangePassword.
 */
export function createPaymeKeyStore(deps: {
  redis: Pick<Redis, "mget" | "set">;
  prefix: string;
  login: string;
  live: string;
  /** the sandbox key, when PAYME_ALLOW_TEST_KEY=true */
  test: string | null;
  now?: () => number;
}) {
  const now = deps.now ?? Date.now;
  const redisKey = { live: `${deps.prefix}:payme:key:live`, test: `${deps.prefix}:payme:key:test` };
  let cached: { keys: PaymeKeys; at: number } | null = null;
  let inFlight: Promise<PaymeKeys> | null = null;
  /** bumped by change(): a read that started before the change must not cache what it saw */
  let generation = 0;

  async function read(): Promise<PaymeKeys> {
    const startedAt = generation;
    const [live, test] = await deps.redis.mget(redisKey.live, redisKey.test);
    const keys: PaymeKeys = { login: deps.login, live: live ?? deps.live, test: deps.test === null ? null : (test ?? deps.test) };
    if (startedAt === generation) cached = { keys, at: now() };
    return keys;
  }

  /** The keys in force; throws when Redis cannot say and the cache is too old to answer. */
  async function current(): Promise<PaymeKeys> {
    if (cached && now() - cached.at < KEY_CACHE_MS) return cached.keys;
    inFlight ??= read().finally(() => (inFlight = null));
    return inFlight;
  }

  /** Replaces the key of one mode. Only a key Redis confirmed is answered with success. */
  async function change(mode: "live" | "test", key: string): Promise<void> {
    generation++;
    cached = null;
    inFlight = null;
    try {
      await deps.redis.set(redisKey[mode], key);
    } finally {
      // Reads that overlapped the write may have seen either key: none of them is cached.
      generation++;
      cached = null;
      inFlight = null;
    }
  }

  return { current, change };
}
