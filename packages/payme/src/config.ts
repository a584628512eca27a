import { z } from "zod";
import { AddressList, Int, type ConfigPart } from "@payhooks/core";

const shape = {
  /** Payme cashbox KEY: enables Payme. ChangePassword replaces it at run time (the new key lives in Redis). */
  PAYME_KEY: z.string().min(1).optional(),
  /** Payme sandbox TEST_KEY; accepted only with PAYME_ALLOW_TEST_KEY=true. */
  PAYME_TEST_KEY: z.string().min(1).optional(),
  PAYME_ALLOW_TEST_KEY: z.enum(["true", "false"]).default("false").transform((s) => s === "true"),
  /** Basic-auth login Payme sends. @defaultValue Paycom */
  PAYME_LOGIN: z.string().min(1).default("Paycom"),
  /** The `account` field that holds the order id. @defaultValue order_id */
  PAYME_ACCOUNT_FIELD: z.string().regex(/^[A-Za-z0-9_]{1,64}$/, "must be a plain field name").default("order_id"),
  /** How long the ingress waits for a worker's answer before replying -32400. @defaultValue 5000 */
  PAYME_RPC_TIMEOUT_MS: Int(100, 60_000).default(5_000),
  /** Only these callers may call the Payme endpoint (Payme uses 185.234.113.1-185.234.113.15). Unset: anyone. */
  PAYME_ALLOWED_IPS: AddressList.optional(),
};

/** Payme's variables (docs/protocols/payme.md#configuration). */
export const paymeConfig = {
  schema: z.object(shape),
  secrets: ["PAYME_KEY", "PAYME_TEST_KEY"],
  enabled: (c): c is PaymeEnabled => c.PAYME_KEY !== undefined,
  refine(c, issue) {
    if (c.PAYME_ALLOW_TEST_KEY && !c.PAYME_TEST_KEY) issue("PAYME_TEST_KEY", "is required when PAYME_ALLOW_TEST_KEY=true");
    if (c.PAYME_KEY && c.PAYME_TEST_KEY && c.PAYME_KEY === c.PAYME_TEST_KEY) issue("PAYME_TEST_KEY", "must differ from PAYME_KEY");
  },
} satisfies ConfigPart<typeof shape, PaymeEnabled>;

export type PaymeConfig = z.infer<z.ZodObject<typeof shape>>;
/** The configuration of an enabled Payme: its cashbox key is there. */
export type PaymeEnabled = PaymeConfig & { PAYME_KEY: string };
