import type { SimulatorPart } from "@payhooks/core";

/** Placeholder until the scenarios move here from apps/cli/src/simulate.ts. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const robokassaSimulator: SimulatorPart<any> = { order: () => ({ amount: 100, currency: "USD" }), missing: () => null, scenarios: {} };
