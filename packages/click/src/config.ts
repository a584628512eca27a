import { BlockList, isIP } from "node:net";
import { z } from "zod";
import type { ConfigOf, ConfigPart } from "@payhooks/core";

/**
 * A decimal integer written as digits only ("0x10", "1e3" and " " are refused, not coerced): the
 * rule of the core configuration, which does not export its helper on this base.
 */
const Int = (min: number, max: number) =>
  z.string().regex(/^\d{1,15}$/, "must be a whole number").transform(Number).pipe(z.number().min(min).max(max));

/** "185.8.212.1-185.8.212.15, 10.0.0.0/8, ::1" → a BlockList of the allowed callers (the core's format). */
const AddressList = z.string().transform((s, ctx) => {
  const list = new BlockList();
  for (const raw of s.split(",")) {
    const entry = raw.trim();
    const range = /^([^-\s]+)-([^-\s]+)$/.exec(entry);
    const subnet = /^([^/\s]+)\/(\d{1,3})$/.exec(entry);
    const family = (ip: string) => (isIP(ip) === 6 ? "ipv6" : "ipv4");
    if (range && isIP(range[1]!) && isIP(range[1]!) === isIP(range[2]!)) {
      list.addRange(range[1]!, range[2]!, family(range[1]!));
    } else if (subnet && isIP(subnet[1]!) && Number(subnet[2]) <= (isIP(subnet[1]!) === 6 ? 128 : 32)) {
      list.addSubnet(subnet[1]!, Number(subnet[2]), family(subnet[1]!));
    } else if (isIP(entry)) {
      list.addAddress(entry, family(entry));
    } else {
      ctx.addIssue({ code: "custom", message: `"${entry.slice(0, 64)}" is not an address, a range a-b or a subnet a/n` });
      return z.NEVER;
    }
  }
  return list;
});

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

export const clickConfig: ConfigPart<typeof clickConfigShape> = {
  schema: z.object(clickConfigShape),
  secrets: ["CLICK_SECRET_KEY"],
  /** Both required variables set; otherwise the routes answer 503 provider_not_configured. */
  enabled: (c) => c.CLICK_SERVICE_ID !== undefined && c.CLICK_SECRET_KEY !== undefined,
};
