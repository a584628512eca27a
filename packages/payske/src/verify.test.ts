/**
 * Payske-Signature, checked against Stripe's own library (the `stripe` package, which Payske's
 * scheme copies with the header renamed): headers it generates must verify here, headers made
 * here must verify there, and what it refuses we refuse.
 */
import Stripe from "stripe";
import { parseSignatureHeader, payskeSignature, signForTest, verifyPayskeSignature } from "./verify";

const stripe = new Stripe("sk_test_not_used_offline");
const SECRET = "whsec_8f3kL0aQz1nR5tYvB2mC9xW4sD7eG6hJ";
const NEXT_SECRET = "whsec_Zp1oQ7wV3bN8mK2jH5gF4dS6aL9xC0vB";
const NOW_S = 1_795_000_000;
const payload = JSON.stringify({ id: "evt_1Qx", object: "event", type: "payment_intent.succeeded", created: NOW_S, livemode: true, data: { object: { id: "pi_1", note: "Оплата заказа №7" } } });

const verify = (header: string | undefined, body: string = payload, secrets: string[] = [SECRET], nowS = NOW_S, toleranceSeconds = 300) =>
  verifyPayskeSignature({ rawBody: Buffer.from(body, "utf8"), header, secrets, now: nowS * 1000, toleranceSeconds });

/** What stripe-node's own verifier says of a header (it reads Stripe-Signature; the scheme is the same). */
function stripeAccepts(header: string, body: string, secret: string, nowS = NOW_S): boolean {
  try {
    stripe.webhooks.signature!.verifyHeader(body, header, secret, 300, undefined, nowS * 1000);
    return true;
  } catch {
    return false;
  }
}

describe("headers made by the stripe package", () => {
  it("are accepted with the header renamed", () => {
    const header = stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET, timestamp: NOW_S });
    expect(verify(header)).toEqual({ ok: true, timestamp: NOW_S });
  });

  it("produce the very header signForTest makes, byte for byte", () => {
    for (const timestamp of [NOW_S, 1, 1_600_000_123]) {
      expect(signForTest(payload, SECRET, timestamp)).toBe(stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET, timestamp }));
    }
  });

  it("and ours verify in stripe-node", () => {
    const header = signForTest(payload, SECRET, NOW_S);
    expect(stripeAccepts(header, payload, SECRET)).toBe(true);
    expect(stripeAccepts(header, payload, NEXT_SECRET)).toBe(false);
  });

  it("verify during a rotation: either secret's v1, and a header carrying both", () => {
    const oldHeader = stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET, timestamp: NOW_S });
    const newHeader = stripe.webhooks.generateTestHeaderString({ payload, secret: NEXT_SECRET, timestamp: NOW_S });
    const both = `${oldHeader},${newHeader.split(",")[1]}`;
    for (const header of [oldHeader, newHeader, both]) expect(verify(header, payload, [SECRET, NEXT_SECRET]).ok).toBe(true);
    // Only the new secret configured: the old signature alone no longer passes.
    expect(verify(oldHeader, payload, [NEXT_SECRET])).toEqual({ ok: false, reason: "no_matching_signature" });
    expect(verify(both, payload, [NEXT_SECRET]).ok).toBe(true);
    expect(stripeAccepts(both, payload, NEXT_SECRET)).toBe(true);
  });
});

describe("what is refused, as stripe-node refuses it", () => {
  const good = () => stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET, timestamp: NOW_S });

  it("a tampered body", () => {
    const tampered = payload.replace('"pi_1"', '"pi_2"');
    expect(verify(good(), tampered)).toEqual({ ok: false, reason: "no_matching_signature" });
    expect(stripeAccepts(good(), tampered, SECRET)).toBe(false);
  });

  it("a stale timestamp, at one second past the tolerance; a future one passes", () => {
    const header = good();
    expect(verify(header, payload, [SECRET], NOW_S + 300).ok).toBe(true);
    expect(verify(header, payload, [SECRET], NOW_S + 301)).toEqual({ ok: false, reason: "timestamp_out_of_tolerance" });
    expect(stripeAccepts(header, payload, SECRET, NOW_S + 301)).toBe(false);
    expect(verify(header, payload, [SECRET], NOW_S - 3_600).ok).toBe(true);
    expect(stripeAccepts(header, payload, SECRET, NOW_S - 3_600)).toBe(true);
    // tolerance 0: no age check at all
    expect(verify(header, payload, [SECRET], NOW_S + 86_400 * 30, 0).ok).toBe(true);
  });

  it("a header with only v0", () => {
    const v0 = stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET, timestamp: NOW_S, scheme: "v0" });
    expect(v0.startsWith(`t=${NOW_S},v0=`)).toBe(true);
    expect(verify(v0)).toEqual({ ok: false, reason: "no_v1_signature" });
    expect(stripeAccepts(v0, payload, SECRET)).toBe(false);
  });

  it("v0 beside a good v1 is ignored, not a reason to refuse", () => {
    const header = `${good()},v0=${"0".repeat(64)}`;
    expect(verify(header).ok).toBe(true);
    expect(stripeAccepts(header, payload, SECRET)).toBe(true);
  });

  it.each([
    ["garbage", "not a signature header", "malformed_header"],
    ["no t", `v1=${"a".repeat(64)}`, "malformed_header"],
    ["non-numeric t", `t=abc,v1=${"a".repeat(64)}`, "malformed_header"],
    ["a space after the comma", `t=${NOW_S}, v1=${payskeSignature(SECRET, NOW_S, payload)}`, "no_v1_signature"],
    ["an empty v1", `t=${NOW_S},v1=`, "no_matching_signature"],
    ["an upper-case digest", `t=${NOW_S},v1=${payskeSignature(SECRET, NOW_S, payload).toUpperCase()}`, "no_matching_signature"],
    ["the signature of another timestamp", `t=${NOW_S},v1=${payskeSignature(SECRET, NOW_S - 1, payload)}`, "no_matching_signature"],
  ])("%s", (_name, header, reason) => {
    expect(verify(header)).toEqual({ ok: false, reason });
    expect(stripeAccepts(header, payload, SECRET)).toBe(false);
  });

  it("a missing or empty header", () => {
    expect(verify(undefined)).toEqual({ ok: false, reason: "missing_header" });
    expect(verify("")).toEqual({ ok: false, reason: "missing_header" });
  });

  it("an empty secret never verifies anything, even a header signed with the empty key", () => {
    const signedWithEmpty = `t=${NOW_S},v1=${payskeSignature("", NOW_S, payload)}`;
    expect(verify(signedWithEmpty, payload, [""])).toEqual({ ok: false, reason: "no_matching_signature" });
    expect(verify(signedWithEmpty, payload, [])).toEqual({ ok: false, reason: "no_matching_signature" });
    expect(verify(good(), payload, ["", SECRET]).ok).toBe(true);
  });

  it("keys with the whole secret, whsec_ prefix included (not base64-decoded as Standard Webhooks does)", () => {
    const withoutPrefix = `t=${NOW_S},v1=${payskeSignature(SECRET.slice(6), NOW_S, payload)}`;
    expect(verify(withoutPrefix)).toEqual({ ok: false, reason: "no_matching_signature" });
  });
});

describe("parseSignatureHeader", () => {
  it("collects every v1 and reads t", () => {
    expect(parseSignatureHeader("t=12,v1=aa,v0=bb,v1=cc,x=1")).toEqual({ timestamp: 12, v1: ["aa", "cc"] });
    expect(parseSignatureHeader("v1=aa")).toBeNull();
  });
});
