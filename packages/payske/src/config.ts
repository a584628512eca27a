import { z } from "zod";
import { Int, SecretList, type ConfigPart } from "@payhooks/core";

/**
 * The variables of one Stripe-scheme endpoint, named by `prefix` (PAYSKE, STRIPE): its live and
 * test signing secrets, the timestamp tolerance and the metadata key of the order id
 * (docs/protocols/payske.md#configuration).
 */
export function payskeConfigFor<P extends string>(prefix: P, provider: string) {
  const shape = {
    /**
     * Endpoint signing secret(s), comma-separated while one is rotated: a delivery signed with
     * any of them is accepted. Used verbatim as the HMAC key (`whsec_` included).
     */
    [`${prefix}_WEBHOOK_SECRET`]: SecretList.optional(),
    /**
     * Test-mode endpoint secret(s), comma-separated likewise. An event verified only by one of
     * these is test traffic whatever its body says: it pays only test orders.
     */
    [`${prefix}_TEST_WEBHOOK_SECRET`]: SecretList.optional(),
    /** How old a signature's timestamp may be, in seconds; 0 turns the check off. @defaultValue 300 */
    [`${prefix}_TOLERANCE_SECONDS`]: Int(0, 86_400).default(300),
    /** The metadata key that holds the order id on the provider's objects. @defaultValue order_id */
    [`${prefix}_ORDER_METADATA_KEY`]: z.string().regex(/^[A-Za-z0-9_.-]{1,40}$/, "must be a plain metadata key").default("order_id"),
  } as {
    [K in `${P}_WEBHOOK_SECRET` | `${P}_TEST_WEBHOOK_SECRET`]: z.ZodOptional<typeof SecretList>;
  } & {
    [K in `${P}_TOLERANCE_SECONDS`]: z.ZodDefault<ReturnType<typeof Int>>;
  } & {
    [K in `${P}_ORDER_METADATA_KEY`]: z.ZodDefault<z.ZodString>;
  };
  type Shape = typeof shape;
  const names = {
    secret: `${prefix}_WEBHOOK_SECRET`,
    testSecret: `${prefix}_TEST_WEBHOOK_SECRET`,
    tolerance: `${prefix}_TOLERANCE_SECONDS`,
    orderKey: `${prefix}_ORDER_METADATA_KEY`,
  } as const;
  /** The endpoint's settings, whatever its prefix. */
  const settings = (c: z.infer<z.ZodObject<Shape>>): PayskeSettings => {
    const r = c as Record<string, unknown>;
    return {
      secrets: (r[names.secret] as string[] | undefined) ?? [],
      testSecrets: (r[names.testSecret] as string[] | undefined) ?? [],
      toleranceSeconds: r[names.tolerance] as number,
      orderMetadataKey: r[names.orderKey] as string,
    };
  };
  const part = {
    // zod's own shape type loses the template-literal names: the declared one is the same object.
    schema: z.object(shape) as unknown as z.ZodObject<Shape>,
    secrets: [names.secret, names.testSecret] as (keyof Shape & string)[],
    enabled: (c): c is z.infer<z.ZodObject<Shape>> => {
      const s = settings(c);
      return s.secrets.length > 0 || s.testSecrets.length > 0;
    },
    refine(c, issue) {
      const s = settings(c);
      if (s.testSecrets.some((x) => s.secrets.includes(x))) issue(names.testSecret as keyof Shape & string, `must not repeat a secret of ${names.secret}`);
    },
  } satisfies ConfigPart<Shape>;
  return { part, settings, names, provider };
}

export type PayskeSettings = {
  /** live endpoint secrets */
  secrets: string[];
  /** test-mode endpoint secrets: an event verified only by one of these is test traffic */
  testSecrets: string[];
  toleranceSeconds: number;
  orderMetadataKey: string;
};
