import type { SimulatorPart } from "@payhooks/core";
import type { PayskeSettings } from "./config";

/** Placeholder until the scenarios move here from apps/cli/src/simulate.ts. */
export function payskeSimulatorFor(_options: {
  provider: string;
  path: string;
  signatureHeader: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  settings: (c: any) => PayskeSettings;
  secretVariable: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
}): SimulatorPart<any> {
  return { order: () => ({ amount: 100, currency: "USD" }), missing: () => null, scenarios: {} };
}
