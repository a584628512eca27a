import type { PayramStatus } from "./schemas";
import { PAYRAM_STATUSES } from "./schemas";
import { INITIAL_PAYRAM_STATE, PAYRAM_TRANSITIONS, reducePayram } from "./state-machine";
import type { PayramInput, PayramOutcome, PayramState } from "./state-machine";

type From = keyof typeof PAYRAM_TRANSITIONS;

/** Amounts in minor units, chosen so that each input's fill is larger than each state's. */
const FILLED_IN_STATE: Record<From, number | null> = {
  NEW: null,
  OPEN: null,
  PARTIALLY_FILLED: 500,
  FILLED: 1000,
  OVER_FILLED: 1200,
  CANCELLED: 500,
};
const FILLED_IN_INPUT: Record<PayramStatus, number | null> = {
  OPEN: null,
  PARTIALLY_FILLED: 700,
  FILLED: 1000,
  OVER_FILLED: 1500,
  CANCELLED: null,
  UNDEFINED: null,
};

function stateIn(from: From): PayramState {
  return { status: from === "NEW" ? null : from, filled: FILLED_IN_STATE[from], unknownSeen: false };
}

type Expected = "applied" | "duplicate" | "stale";

/**
 * The whole table: every from-state × every status Payram can send. A row's expectation is
 * written out by hand, not derived from PAYRAM_TRANSITIONS, so a change to the table shows here.
 */
const TABLE: Record<From, Record<PayramStatus, Expected>> = {
  NEW: {
    OPEN: "applied",
    PARTIALLY_FILLED: "applied",
    FILLED: "applied",
    OVER_FILLED: "applied",
    CANCELLED: "applied",
    UNDEFINED: "applied",
  },
  OPEN: {
    OPEN: "duplicate",
    PARTIALLY_FILLED: "applied",
    FILLED: "applied",
    OVER_FILLED: "applied",
    CANCELLED: "applied",
    UNDEFINED: "applied",
  },
  PARTIALLY_FILLED: {
    OPEN: "stale",
    PARTIALLY_FILLED: "applied", // 500 → 700: more money arrived
    FILLED: "applied",
    OVER_FILLED: "applied",
    CANCELLED: "applied",
    UNDEFINED: "applied",
  },
  FILLED: {
    OPEN: "stale", // a late OPEN after FILLED
    PARTIALLY_FILLED: "stale",
    FILLED: "duplicate",
    OVER_FILLED: "applied",
    CANCELLED: "stale",
    UNDEFINED: "applied",
  },
  OVER_FILLED: {
    OPEN: "stale",
    PARTIALLY_FILLED: "stale",
    FILLED: "stale",
    OVER_FILLED: "applied", // 1200 → 1500
    CANCELLED: "stale",
    UNDEFINED: "applied",
  },
  CANCELLED: {
    OPEN: "stale",
    PARTIALLY_FILLED: "applied", // money after expiry is still recorded: 500 → 700
    FILLED: "applied",
    OVER_FILLED: "applied",
    CANCELLED: "duplicate",
    UNDEFINED: "applied",
  },
};

const ROWS = (Object.keys(TABLE) as From[]).flatMap((from) =>
  PAYRAM_STATUSES.map((status) => [from, status, TABLE[from][status]] as const),
);

describe("reducePayram transition table", () => {
  it("covers every from-state and every status", () => {
    expect(Object.keys(TABLE).sort()).toEqual(Object.keys(PAYRAM_TRANSITIONS).sort());
    expect(ROWS).toHaveLength(6 * PAYRAM_STATUSES.length);
  });

  it.each(ROWS)("%s + %s → %s", (from, status, expected) => {
    const state = stateIn(from);
    const input: PayramInput = { status, filled: FILLED_IN_INPUT[status] };
    const outcome = reducePayram(state, input);
    if (expected === "applied") {
      expect(outcome).toEqual({
        kind: "applied",
        effect: status,
        state:
          status === "UNDEFINED"
            ? { ...state, unknownSeen: true } // reported, but status and fill stay
            : { status, filled: input.filled ?? state.filled, unknownSeen: false },
      });
    } else {
      expect(outcome).toEqual({ kind: "ignored", reason: expected });
    }
  });

  it("agrees with the exported PAYRAM_TRANSITIONS literal", () => {
    for (const [from, targets] of Object.entries(PAYRAM_TRANSITIONS) as Array<[From, readonly PayramStatus[]]>) {
      const appliedByTable = PAYRAM_STATUSES.filter((s) => s !== "UNDEFINED" && TABLE[from][s] === "applied");
      expect([...targets].sort()).toEqual([...appliedByTable].sort());
    }
  });
});

describe("reducePayram", () => {
  it("starts from a state that has seen nothing", () => {
    expect(INITIAL_PAYRAM_STATE).toEqual({ status: null, filled: null, unknownSeen: false });
  });

  it("ignores a late OPEN after FILLED as stale", () => {
    const filled = reducePayram(INITIAL_PAYRAM_STATE, { status: "FILLED", filled: 4999 });
    if (filled.kind !== "applied") throw new Error("FILLED from NEW must apply");
    expect(reducePayram(filled.state, { status: "OPEN", filled: null })).toEqual({ kind: "ignored", reason: "stale" });
  });

  it("ignores a redelivered FILLED as a duplicate, even with the same amount", () => {
    const state: PayramState = { status: "FILLED", filled: 4999, unknownSeen: false };
    expect(reducePayram(state, { status: "FILLED", filled: 4999 })).toEqual({ kind: "ignored", reason: "duplicate" });
    expect(reducePayram(state, { status: "FILLED", filled: null })).toEqual({ kind: "ignored", reason: "duplicate" });
  });

  describe("PARTIALLY_FILLED → PARTIALLY_FILLED applies only when the fill grows", () => {
    const state: PayramState = { status: "PARTIALLY_FILLED", filled: 500, unknownSeen: false };

    it.each([
      [501, "applied"],
      [10_000, "applied"],
      [500, "duplicate"],
      [499, "duplicate"],
      [0, "duplicate"],
      [null, "duplicate"],
    ] as const)("with filled %p: %s", (filled, expected) => {
      const outcome = reducePayram(state, { status: "PARTIALLY_FILLED", filled });
      if (expected === "applied") {
        expect(outcome).toEqual({
          kind: "applied",
          effect: "PARTIALLY_FILLED",
          state: { status: "PARTIALLY_FILLED", filled, unknownSeen: false },
        });
      } else {
        expect(outcome).toEqual({ kind: "ignored", reason: "duplicate" });
      }
    });

    it("applies the first known fill when the stored one is unknown", () => {
      const unknownFill: PayramState = { status: "PARTIALLY_FILLED", filled: null, unknownSeen: false };
      expect(reducePayram(unknownFill, { status: "PARTIALLY_FILLED", filled: 1 })).toMatchObject({ kind: "applied" });
      expect(reducePayram(unknownFill, { status: "PARTIALLY_FILLED", filled: null })).toEqual({
        kind: "ignored",
        reason: "duplicate",
      });
    });
  });

  it.each([
    [1201, "applied"],
    [1200, "duplicate"],
    [null, "duplicate"],
  ] as const)("applies OVER_FILLED again only when the fill grows (filled %p: %s)", (filled, expected) => {
    const state: PayramState = { status: "OVER_FILLED", filled: 1200, unknownSeen: false };
    expect(reducePayram(state, { status: "OVER_FILLED", filled })).toMatchObject(
      expected === "applied" ? { kind: "applied" } : { kind: "ignored", reason: "duplicate" },
    );
  });

  it.each([
    [500, 700, "applied"],
    [null, 700, "applied"],
    [500, 500, "stale"], // the partial fill that came before the expiry, redelivered
    [500, null, "stale"],
  ] as const)("after CANCELLED with fill %p, PARTIALLY_FILLED with %p is %s", (before, filled, expected) => {
    const state: PayramState = { status: "CANCELLED", filled: before, unknownSeen: false };
    expect(reducePayram(state, { status: "PARTIALLY_FILLED", filled })).toMatchObject(
      expected === "applied" ? { kind: "applied", state: { status: "PARTIALLY_FILLED", filled } } : { kind: "ignored", reason: "stale" },
    );
  });

  it("keeps the stored fill when a notification carries none", () => {
    const state: PayramState = { status: "PARTIALLY_FILLED", filled: 500, unknownSeen: false };
    expect(reducePayram(state, { status: "CANCELLED", filled: null })).toEqual({
      kind: "applied",
      effect: "CANCELLED",
      state: { status: "CANCELLED", filled: 500, unknownSeen: false },
    });
  });

  it("applies UNDEFINED once, then ignores it, without losing status or fill", () => {
    const state: PayramState = { status: "PARTIALLY_FILLED", filled: 500, unknownSeen: false };
    const first = reducePayram(state, { status: "UNDEFINED", filled: null });
    expect(first).toEqual({ kind: "applied", effect: "UNDEFINED", state: { ...state, unknownSeen: true } });
    if (first.kind !== "applied") throw new Error("unreachable");

    expect(reducePayram(first.state, { status: "UNDEFINED", filled: 9999 })).toEqual({
      kind: "ignored",
      reason: "unknown_status_already_reported",
    });
  });

  it("carries unknownSeen through later known statuses", () => {
    const seen: PayramState = { status: "OPEN", filled: null, unknownSeen: true };
    const outcome = reducePayram(seen, { status: "FILLED", filled: 4999 });
    expect(outcome).toMatchObject({ kind: "applied", state: { unknownSeen: true } });
    if (outcome.kind !== "applied") throw new Error("unreachable");
    expect(reducePayram(outcome.state, { status: "UNDEFINED", filled: null })).toMatchObject({ kind: "ignored" });
  });

  it("never mutates the state it is given", () => {
    const state: PayramState = Object.freeze({ status: "PARTIALLY_FILLED", filled: 500, unknownSeen: false });
    const outcomes: PayramOutcome[] = PAYRAM_STATUSES.map((status) => reducePayram(state, { status, filled: 800 }));
    expect(outcomes.filter((o) => o.kind === "applied")).toHaveLength(5);
    expect(state).toEqual({ status: "PARTIALLY_FILLED", filled: 500, unknownSeen: false });
  });

  it("replays a realistic out-of-order delivery to the same end state", () => {
    // Payram retries and does not order deliveries (docs/protocols/payram.md#retries-and-idempotency).
    const deliveries: PayramInput[] = [
      { status: "PARTIALLY_FILLED", filled: 2000 },
      { status: "OPEN", filled: null }, // late
      { status: "FILLED", filled: 4999 },
      { status: "PARTIALLY_FILLED", filled: 2000 }, // redelivered
      { status: "FILLED", filled: 4999 }, // redelivered
    ];
    let state = INITIAL_PAYRAM_STATE;
    const kinds: string[] = [];
    for (const input of deliveries) {
      const outcome = reducePayram(state, input);
      kinds.push(outcome.kind === "applied" ? "applied" : outcome.reason);
      if (outcome.kind === "applied") state = outcome.state;
    }
    expect(kinds).toEqual(["applied", "stale", "applied", "stale", "duplicate"]);
    expect(state).toEqual({ status: "FILLED", filled: 4999, unknownSeen: false });
  });
});
