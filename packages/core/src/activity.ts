import type IORedis from "ioredis";
import { PROVIDER_IDS, type ProviderId } from "./provider";

/**
 * Per-minute activity counters, per provider, for the operator console's overview: what each
 * provider sent in the last hour and what became of it. The ingress counts what it answered, the
 * worker what it quarantined; both use this file, so the key and field formats cannot drift apart.
 *
 * One hash per minute, `{prefix}:activity:{minute}` (`minute`: whole minutes since the epoch, UTC),
 * kept {@link ACTIVITY_RETENTION_S} after its last write. Fields `{provider}|{outcome}`, integers
 * written with HINCRBY:
 * - `accepted`: an authenticated delivery acknowledged, its job new;
 * - `duplicate`: acknowledged, its job id already taken (a redelivery);
 * - `refused`: a 4xx answer on the provider's route (bad signature or key, bad body, too large),
 *   or a refusal in the provider's own dialect (Payme's -32504 in a 200);
 * - `quarantined`: a job the worker left failed because its payload cannot be interpreted.
 * Writers sum in memory ({@link createActivityTally}) and write in batches, never on an
 * acknowledgement's path. Every key shares the prefix's hash tag, so one pipeline reads an hour
 * on Redis Cluster too.
 */

export const ACTIVITY_OUTCOMES = ["accepted", "duplicate", "refused", "quarantined"] as const;
export type ActivityOutcome = (typeof ACTIVITY_OUTCOMES)[number];

export const ACTIVITY_BUCKET_MS = 60_000;
/** How long a minute's hash lives after its last write: the hour the overview shows, and as much again. */
export const ACTIVITY_RETENTION_S = 2 * 3_600;

/** The minute (since the epoch) that `ms` falls in. */
export function activityMinute(ms: number): number {
  return Math.floor(ms / ACTIVITY_BUCKET_MS);
}

export function activityKey(prefix: string, minute: number): string {
  return `${prefix}:activity:${minute}`;
}

export function activityField(provider: ProviderId, outcome: ActivityOutcome): string {
  return `${provider}|${outcome}`;
}

const isIn = <T extends string>(list: readonly T[], value: string | undefined): value is T =>
  value !== undefined && (list as readonly string[]).includes(value);

/** A field this version reads, or null (an unknown provider or outcome, e.g. from another version). */
export function parseActivityField(field: string): { provider: ProviderId; outcome: ActivityOutcome } | null {
  const [provider, outcome, ...rest] = field.split("|");
  return rest.length === 0 && isIn(PROVIDER_IDS, provider) && isIn(ACTIVITY_OUTCOMES, outcome) ? { provider, outcome } : null;
}

/** Counts waiting to be written: minute → field → increment. */
export type ActivityCounts = Map<number, Map<string, number>>;

/**
 * Counts summed in memory between two writes. `take()` hands over what waits (and forgets it);
 * a write that failed gives it back with `restore()`, which keeps only minutes still within the
 * retention, so an outage costs bounded memory.
 */
export function createActivityTally() {
  let counts: ActivityCounts = new Map();
  function add(at: number, provider: ProviderId, outcome: ActivityOutcome, n = 1): void {
    const minute = activityMinute(at);
    let fields = counts.get(minute);
    if (!fields) counts.set(minute, (fields = new Map()));
    const field = activityField(provider, outcome);
    fields.set(field, (fields.get(field) ?? 0) + n);
  }
  return {
    add,
    get size(): number {
      return counts.size;
    },
    take(): ActivityCounts {
      const taken = counts;
      counts = new Map();
      return taken;
    },
    restore(taken: ActivityCounts, now: number): void {
      const oldest = activityMinute(now) - ACTIVITY_RETENTION_S / 60;
      for (const [minute, fields] of taken) {
        if (minute < oldest) continue;
        for (const [field, n] of fields) {
          const mine = counts.get(minute) ?? new Map<string, number>();
          mine.set(field, (mine.get(field) ?? 0) + n);
          counts.set(minute, mine);
        }
      }
    },
  };
}
export type ActivityTally = ReturnType<typeof createActivityTally>;

/** The commands of one write, queued on a pipeline or MULTI: per minute its HINCRBYs and one EXPIRE. */
export function queueActivityWrites(chain: { hincrby(key: string, field: string, by: number): unknown; expire(key: string, seconds: number): unknown }, prefix: string, counts: ActivityCounts): void {
  for (const [minute, fields] of counts) {
    const key = activityKey(prefix, minute);
    for (const [field, by] of fields) chain.hincrby(key, field, by);
    chain.expire(key, ACTIVITY_RETENTION_S);
  }
}

/** One provider's last hour: per outcome one count per minute, oldest first, and their totals. */
export type ProviderActivity = {
  provider: ProviderId;
  perMinute: Record<ActivityOutcome, number[]>;
  totals: Record<ActivityOutcome, number>;
};

export type ActivityWindow = {
  /** the start (ms) of the first minute shown; minute i starts at `from + i * ACTIVITY_BUCKET_MS` */
  from: number;
  minutes: number;
  /** every provider of PROVIDER_IDS, in that order */
  providers: ProviderActivity[];
};

/** Hashes as read (oldest minute first) into per-provider series. Pure; unknown fields are skipped. */
export function activityFromHashes(hashes: ReadonlyArray<Record<string, string> | null>, firstMinute: number): ActivityWindow {
  const minutes = hashes.length;
  const empty = (): Record<ActivityOutcome, number[]> =>
    Object.fromEntries(ACTIVITY_OUTCOMES.map((o) => [o, new Array<number>(minutes).fill(0)])) as Record<ActivityOutcome, number[]>;
  const byProvider = new Map(PROVIDER_IDS.map((p) => [p, empty()]));
  hashes.forEach((hash, i) => {
    for (const [field, text] of Object.entries(hash ?? {})) {
      const parsed = parseActivityField(field);
      const value = Number(text);
      if (!parsed || !Number.isSafeInteger(value) || value < 0) continue;
      byProvider.get(parsed.provider)![parsed.outcome][i] = value;
    }
  });
  return {
    from: firstMinute * ACTIVITY_BUCKET_MS,
    minutes,
    providers: PROVIDER_IDS.map((provider) => {
      const perMinute = byProvider.get(provider)!;
      const totals = Object.fromEntries(ACTIVITY_OUTCOMES.map((o) => [o, perMinute[o].reduce((a, b) => a + b, 0)])) as Record<ActivityOutcome, number>;
      return { provider, perMinute, totals };
    }),
  };
}

/** The last `minutes` minutes up to and including the one `now` is in: `minutes` HGETALLs in one pipeline. */
export async function readActivity(redis: Pick<IORedis, "pipeline">, prefix: string, now: number, minutes = 60): Promise<ActivityWindow> {
  const first = activityMinute(now) - minutes + 1;
  const pipeline = redis.pipeline();
  for (let i = 0; i < minutes; i++) pipeline.hgetall(activityKey(prefix, first + i));
  const replies = (await pipeline.exec()) ?? [];
  const failed = replies.find(([err]) => err);
  if (failed) throw failed[0];
  return activityFromHashes(
    replies.map(([, hash]) => (hash as Record<string, string> | null) ?? null),
    first,
  );
}
