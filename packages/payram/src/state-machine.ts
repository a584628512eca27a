import type { PayramStatus } from "./schemas";

/** What payhooks remembers about one Payram payment. `null` status: never seen. */
export type PayramState = {
  status: Exclude<PayramStatus, "UNDEFINED"> | null;
  /** highest amount received so far, minor units */
  filled: number | null;
  /** an UNDEFINED status was already reported once */
  unknownSeen: boolean;
};

export const INITIAL_PAYRAM_STATE: PayramState = { status: null, filled: null, unknownSeen: false };

export type PayramInput = { status: PayramStatus; filled: number | null };

export type PayramOutcome =
  | { kind: "applied"; state: PayramState; effect: PayramStatus }
  | { kind: "ignored"; reason: "duplicate" | "stale" | "unknown_status_already_reported" };

type Known = Exclude<PayramStatus, "UNDEFINED">;

/**
 * Where each status may go. Payram delivers at least once and in no stated order
 * (docs/protocols/payram.md#retries-and-idempotency), so the table only moves forward: a late OPEN after FILLED is stale.
 * A status listed as a move to itself moves only when more money has been received.
 * Money that arrives after the link expired (CANCELLED) is still recorded.
 */
export const PAYRAM_TRANSITIONS = {
  NEW: ["OPEN", "PARTIALLY_FILLED", "FILLED", "OVER_FILLED", "CANCELLED"],
  OPEN: ["PARTIALLY_FILLED", "FILLED", "OVER_FILLED", "CANCELLED"],
  PARTIALLY_FILLED: ["PARTIALLY_FILLED", "FILLED", "OVER_FILLED", "CANCELLED"],
  FILLED: ["OVER_FILLED"],
  OVER_FILLED: ["OVER_FILLED"],
  CANCELLED: ["PARTIALLY_FILLED", "FILLED", "OVER_FILLED"],
} as const satisfies Record<Known | "NEW", readonly Known[]>;

/** The pure reducer: (state, notification) → outcome. No clock, no I/O. */
export function reducePayram(state: PayramState, input: PayramInput): PayramOutcome {
  if (input.status === "UNDEFINED") {
    if (state.unknownSeen) return { kind: "ignored", reason: "unknown_status_already_reported" };
    return { kind: "applied", state: { ...state, unknownSeen: true }, effect: "UNDEFINED" };
  }
  const from = state.status ?? "NEW";
  const allowed: readonly Known[] = PAYRAM_TRANSITIONS[from];
  if (!allowed.includes(input.status)) {
    return { kind: "ignored", reason: input.status === state.status ? "duplicate" : "stale" };
  }
  const filled = input.filled;
  if (input.status === state.status || (state.status === "CANCELLED" && input.status === "PARTIALLY_FILLED")) {
    // Same status again (or a partial fill after expiry): only more money is news.
    if (filled === null || (state.filled !== null && filled <= state.filled)) {
      return { kind: "ignored", reason: input.status === state.status ? "duplicate" : "stale" };
    }
  }
  return {
    kind: "applied",
    state: { status: input.status, filled: filled ?? state.filled, unknownSeen: state.unknownSeen },
    effect: input.status,
  };
}
