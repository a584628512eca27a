/**
 * The registry: every provider payhooks speaks, as its module. The ingress, the worker, the
 * configuration, the log redaction, the dashboard's masking and the CLI loop over it and know
 * no provider by name. A new provider is its package, its id in core's PROVIDER_IDS and one line
 * here; the compiler points at a missing one (`satisfies Record<ProviderId, ProviderModule>`).
 */
import type { z } from "zod";
import {
  PROVIDER_IDS,
  buildConfigSchema,
  parseEnvironment,
  parseOrExit,
  type BaseConfig,
  type ProviderId,
  type ProviderModule,
} from "@payhooks/core";
import { clickModule } from "@payhooks/click";
import { paymeModule } from "@payhooks/payme";
import { payramModule } from "@payhooks/payram";
import { payskeModule, stripeModule } from "@payhooks/payske";
import { robokassaModule } from "@payhooks/robokassa";

export const PROVIDERS = {
  payme: paymeModule,
  payram: payramModule,
  payske: payskeModule,
  robokassa: robokassaModule,
  stripe: stripeModule,
  click: clickModule,
} as const satisfies Record<ProviderId, ProviderModule>;

/** The modules in PROVIDER_IDS order. */
export const MODULES: readonly ProviderModule[] = PROVIDER_IDS.map((id) => PROVIDERS[id]);

type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;
type ProviderShapes = UnionToIntersection<{ [K in ProviderId]: (typeof PROVIDERS)[K]["config"]["schema"]["shape"] }[ProviderId]>;
/** Every provider's variables, parsed. */
export type ProviderVariables = { [K in keyof ProviderShapes]: ProviderShapes[K] extends z.ZodType ? z.output<ProviderShapes[K]> : never };

/** The whole environment payhooks reads: the base variables and every provider's. */
export type Config = BaseConfig & ProviderVariables;

/** The one schema every process parses its environment with. */
export const ConfigSchema = buildConfigSchema(
  MODULES.map((m) => ({
    owner: m.id,
    shape: m.config.schema.shape,
    secrets: m.config.secrets,
    ...(m.config.refine ? { refine: m.config.refine as (c: Record<string, unknown>, issue: (v: string, message: string) => void) => void } : {}),
  })),
);

/**
 * Parses the environment. Throws ConfigError whose message has one line per bad variable,
 * e.g. `PORT: Too big: expected number to be <=65535`. Never logs values (they may be secrets).
 */
export function loadConfig(env: NodeJS.ProcessEnv): Config {
  return parseEnvironment(ConfigSchema, env) as unknown as Config;
}

/**
 * For a process's main.ts only: the parsed configuration, or — for a bad environment — one
 * line per variable on stderr (`payhooks <role>: invalid configuration: PORT: …`) and exit 1.
 */
export function loadConfigOrExit(role: string, env: NodeJS.ProcessEnv = process.env): Config {
  return parseOrExit(role, () => loadConfig(env));
}

/** Providers whose secrets are present; the others answer `notConfigured` in their own dialect. */
export function enabledProviders(config: Config): Record<ProviderId, boolean> {
  return Object.fromEntries(MODULES.map((m) => [m.id, m.config.enabled(config)])) as Record<ProviderId, boolean>;
}

/** Request headers that carry a secret or a signature, lower-cased: redacted from logs. */
export const SECRET_HEADERS: readonly string[] = [...new Set(MODULES.flatMap((m) => m.secretHeaders))];

/** Payload keys some provider puts personal data or secrets under: masked for operators. */
export const SENSITIVE_FIELDS: readonly string[] = [...new Set(MODULES.flatMap((m) => m.sensitiveFields))];
