import {
  ACTIVITY_RETENTION_S,
  activityField,
  activityFromHashes,
  activityKey,
  activityMinute,
  createActivityTally,
  parseActivityField,
  queueActivityWrites,
} from "./activity";
import { providerOfQueue } from "./jobs";

/** 2026-11-30 08:21:37.250 UTC */
const AT = Date.UTC(2026, 10, 30, 8, 21, 37, 250);
const MINUTE = AT - (AT % 60_000);

describe("activity key and field format", () => {
  it("names one hash per UTC minute and one field per provider and outcome", () => {
    expect(activityMinute(AT)).toBe(MINUTE / 60_000);
    expect(activityMinute(MINUTE)).toBe(activityMinute(MINUTE + 59_999));
    expect(activityMinute(MINUTE + 60_000)).toBe(activityMinute(MINUTE) + 1);
    expect(activityKey("{payhooks}", activityMinute(AT))).toBe(`{payhooks}:activity:${MINUTE / 60_000}`);
    expect(activityField("payske", "quarantined")).toBe("payske|quarantined");
  });

  it("reads back only the fields this version writes", () => {
    expect(parseActivityField("payram|refused")).toEqual({ provider: "payram", outcome: "refused" });
    expect(parseActivityField("payram|rejected_signature")).toBeNull();
    expect(parseActivityField("paypal|accepted")).toBeNull();
    expect(parseActivityField("payram|accepted|x")).toBeNull();
    expect(parseActivityField("payram")).toBeNull();
  });

  it("maps a provider's queue to its provider, and no other queue", () => {
    expect(providerOfQueue("payme")).toBe("payme");
    expect(providerOfQueue("merchant-webhooks")).toBeNull();
    expect(providerOfQueue("payment-events")).toBeNull();
  });
});

describe("the tally a writer keeps between writes", () => {
  it("sums per minute and field, writes HINCRBYs then one EXPIRE per minute, and forgets what it handed over", () => {
    const tally = createActivityTally();
    tally.add(AT, "payram", "accepted");
    tally.add(AT + 1_000, "payram", "accepted");
    tally.add(AT, "payram", "refused", 3);
    tally.add(MINUTE + 60_000, "payske", "duplicate");
    const commands: unknown[][] = [];
    queueActivityWrites(
      { hincrby: (...a: unknown[]) => commands.push(["hincrby", ...a]), expire: (...a: unknown[]) => commands.push(["expire", ...a]) },
      "p",
      tally.take(),
    );
    const m = MINUTE / 60_000;
    expect(commands).toEqual([
      ["hincrby", `p:activity:${m}`, "payram|accepted", 2],
      ["hincrby", `p:activity:${m}`, "payram|refused", 3],
      ["expire", `p:activity:${m}`, ACTIVITY_RETENTION_S],
      ["hincrby", `p:activity:${m + 1}`, "payske|duplicate", 1],
      ["expire", `p:activity:${m + 1}`, ACTIVITY_RETENTION_S],
    ]);
    expect(tally.size).toBe(0);
  });

  it("takes back a failed write's counts, added to what came since, but none older than the retention", () => {
    const tally = createActivityTally();
    tally.add(AT, "payme", "accepted", 2);
    tally.add(AT - ACTIVITY_RETENTION_S * 1000 - 60_000, "payme", "accepted", 5);
    const failed = tally.take();
    tally.add(AT, "payme", "accepted");
    tally.restore(failed, AT);
    const counts = tally.take();
    expect([...counts.keys()]).toEqual([activityMinute(AT)]);
    expect(counts.get(activityMinute(AT))!.get("payme|accepted")).toBe(3);
  });
});

describe("an hour read back", () => {
  it("gives every provider a series per outcome, oldest minute first, with totals; empty minutes are zero", () => {
    const first = activityMinute(AT) - 2;
    const window = activityFromHashes(
      [
        { "payram|accepted": "4", "payram|refused": "1", "unknown|accepted": "9", "payram|bogus": "2" },
        null,
        { "payram|accepted": "1", "payske|quarantined": "2", "payske|duplicate": "not a number" },
      ],
      first,
    );
    expect(window.from).toBe(first * 60_000);
    expect(window.minutes).toBe(3);
    expect(window.providers.map((p) => p.provider)).toEqual(["payme", "payram", "payske", "robokassa", "stripe", "click"]);
    const payram = window.providers.find((p) => p.provider === "payram")!;
    expect(payram.perMinute).toEqual({ accepted: [4, 0, 1], duplicate: [0, 0, 0], refused: [1, 0, 0], quarantined: [0, 0, 0] });
    expect(payram.totals).toEqual({ accepted: 5, duplicate: 0, refused: 1, quarantined: 0 });
    const payske = window.providers.find((p) => p.provider === "payske")!;
    expect(payske.totals).toEqual({ accepted: 0, duplicate: 0, refused: 0, quarantined: 2 });
  });
});
