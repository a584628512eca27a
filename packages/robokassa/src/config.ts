import { z } from "zod";
import type { ConfigPart } from "@payhooks/core";

const shape = {
  /** RoboKassa shop Password #1 (SuccessURL signatures); with Password #2 it enables RoboKassa. */
  ROBOKASSA_PASSWORD1: z.string().min(1).optional(),
  /** RoboKassa shop Password #2 (ResultURL signatures). */
  ROBOKASSA_PASSWORD2: z.string().min(1).optional(),
  /** Test-mode passwords, chosen for notices with IsTest=1; without them such notices are refused. */
  ROBOKASSA_TEST_PASSWORD1: z.string().min(1).optional(),
  ROBOKASSA_TEST_PASSWORD2: z.string().min(1).optional(),
  /** The shop's signature algorithm, as set in its cabinet. @defaultValue md5 */
  ROBOKASSA_HASH: z.enum(["md5", "ripemd160", "sha1", "sha256", "sha384", "sha512"]).default("md5"),
  /** A Shp_ parameter that carries the order id; unset, InvId is the order id. */
  ROBOKASSA_ORDER_PARAM: z.string().regex(/^shp_[A-Za-z0-9_]{1,60}$/i, "must be a Shp_ parameter name such as Shp_order_id").optional(),
  /** The shop's currency: OutSum is in it, and only orders in it can be paid. @defaultValue RUB */
  ROBOKASSA_CURRENCY: z.string().regex(/^[A-Z]{3}$/, "must be an upper-case currency code such as RUB or KZT").default("RUB"),
  /** Where the payer's browser goes after SuccessURL (with ?order_id=…); unset, a short page says what happened. */
  ROBOKASSA_SUCCESS_REDIRECT: z.url({ protocol: /^https?$/ }).optional(),
  ROBOKASSA_FAIL_REDIRECT: z.url({ protocol: /^https?$/ }).optional(),
};

/** RoboKassa's variables (docs/protocols/robokassa.md#configuration). */
export const robokassaConfig = {
  schema: z.object(shape),
  secrets: ["ROBOKASSA_PASSWORD1", "ROBOKASSA_PASSWORD2", "ROBOKASSA_TEST_PASSWORD1", "ROBOKASSA_TEST_PASSWORD2"],
  enabled: (c): c is RobokassaEnabled => c.ROBOKASSA_PASSWORD1 !== undefined && c.ROBOKASSA_PASSWORD2 !== undefined,
  refine(c, issue) {
    for (const [a, b] of [
      ["ROBOKASSA_PASSWORD1", "ROBOKASSA_PASSWORD2"],
      ["ROBOKASSA_TEST_PASSWORD1", "ROBOKASSA_TEST_PASSWORD2"],
    ] as const) {
      if ((c[a] === undefined) !== (c[b] === undefined)) {
        const missing = c[a] === undefined ? a : b;
        issue(missing, `is required with ${missing === a ? b : a}`);
      }
    }
    // A test password equal to the live one would let a notice saying IsTest=1 verify with the
    // live secret (and a live notice pass as a test one): the two must be different secrets.
    // Across the pairs too: Password #1 signs what the payer's browser sees (SuccessURL), so a
    // test Password #2 equal to it would let a payer forge a test ResultURL.
    for (const [test, live] of [
      ["ROBOKASSA_TEST_PASSWORD1", "ROBOKASSA_PASSWORD1"],
      ["ROBOKASSA_TEST_PASSWORD2", "ROBOKASSA_PASSWORD2"],
      ["ROBOKASSA_TEST_PASSWORD2", "ROBOKASSA_PASSWORD1"],
      ["ROBOKASSA_TEST_PASSWORD1", "ROBOKASSA_PASSWORD2"],
    ] as const) {
      if (c[test] !== undefined && c[test] === c[live]) issue(test, `must differ from ${live}`);
    }
  },
} satisfies ConfigPart<typeof shape, RobokassaEnabled>;

export type RobokassaConfig = z.infer<z.ZodObject<typeof shape>>;
/** The configuration of an enabled RoboKassa: both shop passwords are there. */
export type RobokassaEnabled = RobokassaConfig & { ROBOKASSA_PASSWORD1: string; ROBOKASSA_PASSWORD2: string };
