/**
 * ============================================================================================
 * LOCAL STAND-IN for the provider registry `@payhooks/providers` (not in this branch).
 * When merging: delete this file and, in payhooks.ts and simulate.int.test.ts, replace
 *   import { PROVIDERS, loadConfig } from "./simulator-registry";
 * with
 *   import { PROVIDERS, loadConfig } from "@payhooks/providers";
 * ============================================================================================
 *
 * It offers what the CLI takes from the registry, in the shape it expects: `PROVIDERS`, every
 * provider by id with (at least) its `simulator`, and `loadConfig(env)`, the configuration as the
 * services load it — core's base variables joined with each package's configuration fragment.
 */
import {
  buildConfigSchema,
  parseEnvironment,
  type ConfigFragment,
  type ConfigPart,
  type SimulatorPart,
} from "@payhooks/core";
import { paymeConfig, paymeSimulator } from "@payhooks/payme";
import { payramConfig, payramSimulator } from "@payhooks/payram";
import { payskeConfigFor, payskeSimulatorFor } from "@payhooks/payske";
import { robokassaConfig, robokassaSimulator } from "@payhooks/robokassa";

const payske = payskeConfigFor("PAYSKE", "payske");

/** A module's configuration part as core's joiner takes it. */
function fragment<S extends ConfigPart["schema"]["shape"]>(owner: string, part: ConfigPart<S>): ConfigFragment {
  const { refine } = part;
  return {
    owner,
    shape: part.schema.shape,
    ...(refine ? { refine: (config, issue) => refine(config as Parameters<typeof refine>[0], issue as Parameters<typeof refine>[1]) } : {}),
  };
}

const schema = buildConfigSchema([
  fragment("payme", paymeConfig),
  fragment("payram", payramConfig),
  fragment("payske", payske.part),
  fragment("robokassa", robokassaConfig),
]);

/** The configuration as the ingress and worker load it. Throws ConfigError, one line per bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv) {
  return parseEnvironment(schema, env);
}

/** Every provider by id, as the registry will list them (here only what the CLI uses). */
export const PROVIDERS = {
  payme: { simulator: paymeSimulator },
  payram: { simulator: payramSimulator },
  payske: {
    simulator: payskeSimulatorFor({
      provider: "payske",
      path: "/webhooks/payske",
      signatureHeader: "payske-signature",
      settings: payske.settings,
      secretVariable: payske.names.secret,
    }),
  },
  robokassa: { simulator: robokassaSimulator },
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a registry holds parts of every configuration shape
} as const satisfies Readonly<Record<string, { simulator: SimulatorPart<any> }>>;
