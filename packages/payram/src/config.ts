import { z } from "zod";
import type { ConfigPart } from "@payhooks/core";

const shape = {
  /** Payram project API key: the HMAC key of X-Payram-Signature and the legacy API-Key value. */
  PAYRAM_WEBHOOK_SECRET: z.string().min(1).optional(),
};

/** Payram's variables (docs/protocols/payram.md#configuration). */
export const payramConfig = {
  schema: z.object(shape),
  secrets: ["PAYRAM_WEBHOOK_SECRET"],
  enabled: (c): c is PayramEnabled => c.PAYRAM_WEBHOOK_SECRET !== undefined,
} satisfies ConfigPart<typeof shape, PayramEnabled>;

export type PayramConfig = z.infer<z.ZodObject<typeof shape>>;
/** The configuration of an enabled Payram: its secret is there. */
export type PayramEnabled = PayramConfig & { PAYRAM_WEBHOOK_SECRET: string };
