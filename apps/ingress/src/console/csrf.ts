import type { Request, RequestHandler } from "express";
import { constantTimeEqual, hmacSha256 } from "@payhooks/core";

/** The form field every console POST carries. */
export const CSRF_FIELD = "csrf";

/**
 * The console's anti-forgery token, tied to the credential: HMAC-SHA256 of a fixed label keyed
 * with the admin token. A page signed in with the token can put it into its forms; another site
 * cannot read it (same-origin policy) and cannot compute it without the token. Rotating
 * ADMIN_TOKEN rotates it. Not the token itself: a form's hidden field never holds a secret that
 * opens the admin port.
 */
export function csrfToken(adminToken: string): string {
  return hmacSha256(adminToken, "payhooks-console-csrf/v1").toString("base64url");
}

/**
 * Whether `Origin` names the host (and port) this request was addressed to. The scheme is not
 * compared: behind a TLS-terminating proxy the browser writes `https://…` while this server
 * sees plain HTTP. `null` (an opaque origin) and anything unparseable are not this host.
 */
function sameHost(origin: string, req: Request): boolean {
  if (origin === "null") return false;
  try {
    return new URL(origin).host === (req.get("host") ?? "").toLowerCase();
  } catch {
    return false;
  }
}

/**
 * Why a state-changing request is refused as cross-site, or null when it may go on:
 * - `Sec-Fetch-Site`, when the browser sends it, must be `same-origin`;
 * - `Origin`, when sent, must name this very host and port (`null`, an opaque origin, is refused);
 * - the form's token must match {@link csrfToken} (compared in constant time) — the check that
 *   holds for every client, with or without those headers.
 */
export function crossSiteReason(req: Request, expectedToken: string): string | null {
  const site = req.get("sec-fetch-site");
  if (site !== undefined && site !== "same-origin") return "sec_fetch_site";
  const origin = req.get("origin");
  if (origin !== undefined && !sameHost(origin, req)) return "origin";
  const body = req.body as Record<string, unknown> | undefined;
  const token = typeof body?.[CSRF_FIELD] === "string" ? (body[CSRF_FIELD] as string) : "";
  if (!token || !constantTimeEqual(token, expectedToken)) return "csrf_token";
  return null;
}

/**
 * Refuses (403) every request but GET/HEAD that fails {@link crossSiteReason}, and a GET/HEAD a
 * browser says another site started (`Sec-Fetch-Site: cross-site` or `same-site`: a link or a
 * form elsewhere). A typed address or a bookmark (`none`), the console's own links
 * (`same-origin`) and clients that send no such header (curl) read the pages.
 */
export function requireSameSite(expectedToken: string, onRefused: (req: Request, reason: string) => void): RequestHandler {
  return (req, res, next) => {
    const reading = req.method === "GET" || req.method === "HEAD";
    const site = req.get("sec-fetch-site");
    const reason = reading ? (site === "cross-site" || site === "same-site" ? "sec_fetch_site" : null) : crossSiteReason(req, expectedToken);
    if (!reason) return next();
    onRefused(req, reason);
    res.status(403).type("text/plain").send("Forbidden: cross-site request refused\n");
  };
}
