import { z } from "zod";
import { AddressList, Int, type ConfigOf, type ConfigPart } from "@payhooks/core";

/** Click's service and merchant ids: decimal digits only, kept as text (docs/protocols/click.md#configuration). */
const Digits = z.string().regex(/^\d{1,20}$/, "must be digits only");

export const clickConfigShape = {
  /** The merchant's Click service: the only `service_id` accepted. */
  CLICK_SERVICE_ID: Digits.optional(),
  /** The key Click issues with the service; signs every request. Secret, never logged. */
  CLICK_SECRET_KEY: z.string().min(1).optional(),
  /** For payment links and Click's Merchant API; unused by the SHOP API. */
  CLICK_MERCHANT_ID: Digits.optional(),
  /** Likewise. */
  CLICK_MERCHANT_USER_ID: Digits.optional(),
  /** How long the ingress awaits a worker's answer before it answers -7. @defaultValue 5000 */
  CLICK_RPC_TIMEOUT_MS: Int(100, 60_000).default(5_000),
  /** Callers allowed (under TRUST_PROXY); unset lets anyone call, the signature still applies. */
  CLICK_ALLOWED_IPS: AddressList.optional(),
};

export type ClickConfig = ConfigOf<typeof clickConfigShape>;

/** The configuration of an enabled Click: the service and its key are there. */
export type ClickEnabled = ClickConfig & { CLICK_SERVICE_ID: string; CLICK_SECRET_KEY: string };

export const clickConfig: ConfigPart<typeof clickConfigShape, ClickEnabled> = {
  schema: z.object(clickConfigShape),
  secrets: ["CLICK_SECRET_KEY"],
  /** Both required variables set; otherwise the routes answer 503 provider_not_configured. */
  enabled: (c): c is ClickEnabled => c.CLICK_SERVICE_ID !== undefined && c.CLICK_SECRET_KEY !== undefined,
};
