import express, { type Express, type RequestHandler } from "express";
import { ORDER_ID_PATTERN, OrderInputSchema, constantTimeEqual, type Ledger, type Logger } from "@payhooks/core";
import { createErrorHandler } from "./http-errors";

export type AdminDeps = {
  ledger: Ledger;
  token: string;
  logger: Logger;
  /** The queue dashboard (./dashboard.ts), mounted behind the same token check. */
  dashboard?: { basePath: string; router: RequestHandler };
  /** GET /metrics in Prometheus text format (./metrics.ts), behind the same token check. */
  metrics?: { handler: RequestHandler };
  /** The operator console (./console), mounted at `basePath` behind the same token check; `/` redirects to it. */
  console?: { basePath: string; router: RequestHandler };
};

/** The realm of both challenges; a browser keeps the credentials it was given for it. */
const REALM = "payhooks-admin";

/**
 * The admin token a request carries, or undefined: `Authorization: Bearer <token>`, or HTTP Basic
 * with the token as the password and any username (a browser's sign-in dialog; "admin" will do).
 * Scheme names are case-insensitive (RFC 9110, 11.1).
 */
function presentedToken(header: string): { scheme: "bearer" | "basic" | "other"; token?: string } {
  const space = header.indexOf(" ");
  const scheme = (space === -1 ? header : header.slice(0, space)).toLowerCase();
  const value = space === -1 ? "" : header.slice(space + 1).trim();
  if (scheme === "bearer") return { scheme, ...(value ? { token: value } : {}) };
  if (scheme === "basic") {
    const decoded = Buffer.from(value, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    return { scheme, ...(colon === -1 ? {} : { token: decoded.slice(colon + 1) }) };
  }
  return { scheme: "other" };
}

/**
 * The admin API (orders), the dashboard and metrics. It listens on ADMIN_HOST (loopback by
 * default) and every request needs the admin token, compared in constant time: as
 * `Authorization: Bearer <ADMIN_TOKEN>`, or as the password of HTTP Basic (any username) so that a
 * browser can sign in. A request without it gets 401 with a Basic challenge when it is a browser's
 * (its Accept prefers HTML) or it tried Basic — the browser then asks for the credentials — and a
 * Bearer challenge otherwise.
 */
export function createAdminApp(deps: AdminDeps): Express {
  const app = express();
  app.disable("x-powered-by");
  const auth: RequestHandler = (req, res, next) => {
    const { scheme, token } = presentedToken(req.headers.authorization ?? "");
    if (token && constantTimeEqual(token, deps.token)) return next();
    const browser = scheme === "basic" || req.accepts(["json", "html"]) === "html";
    res.setHeader("WWW-Authenticate", browser ? `Basic realm="${REALM}", charset="UTF-8"` : `Bearer realm="${REALM}"`);
    res.status(401).json({ error: "unauthorized" });
  };
  const orderId: RequestHandler = (req, res, next) =>
    ORDER_ID_PATTERN.test(String(req.params["orderId"]))
      ? next()
      : void res.status(400).json({ error: "invalid_order_id", message: "orderId must be 1-128 of A-Z a-z 0-9 . _ ~ -" });

  app.use(auth);
  if (deps.metrics) app.get("/metrics", deps.metrics.handler);
  if (deps.dashboard) app.use(deps.dashboard.basePath, deps.dashboard.router);
  if (deps.console) {
    const { basePath, router } = deps.console;
    app.get("/", (_req, res) => res.redirect(302, basePath));
    app.use(basePath, router);
  }
  app.put("/v1/orders/:orderId", orderId, express.json({ limit: "1mb" }), async (req, res) => {
    const parsed = OrderInputSchema.safeParse(req.body);
    if (!parsed.success) return void res.status(400).json({ error: "invalid_order", issues: parsed.error.issues });
    const { created, order } = await deps.ledger.putOrder(String(req.params["orderId"]), parsed.data);
    res.status(created ? 201 : 200).json(order);
  });
  app.get("/v1/orders/:orderId", orderId, async (req, res) => {
    const order = await deps.ledger.getOrder(String(req.params["orderId"]));
    if (!order) return void res.status(404).json({ error: "order_not_found" });
    res.json(order);
  });
  app.use((_req, res) => void res.status(404).json({ error: "not_found" }));
  app.use(createErrorHandler(deps.logger));
  return app;
}
