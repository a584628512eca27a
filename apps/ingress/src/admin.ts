import express, { type Express, type RequestHandler } from "express";
import { ORDER_ID_PATTERN, OrderInputSchema, constantTimeEqual, type Ledger, type Logger } from "@payhooks/core";
import { createErrorHandler } from "./http-errors";

export type AdminDeps = {
  ledger: Ledger;
  token: string;
  logger: Logger;
  /** The queue dashboard (./dashboard.ts), mounted behind the same bearer token. */
  dashboard?: { basePath: string; router: RequestHandler };
  /** GET /metrics in Prometheus text format (./metrics.ts), behind the same bearer token. */
  metrics?: { handler: RequestHandler };
};

/**
 * The admin API (orders). It listens on ADMIN_HOST (loopback by default) and every request
 * needs `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time.
 */
export function createAdminApp(deps: AdminDeps): Express {
  const app = express();
  app.disable("x-powered-by");
  const auth: RequestHandler = (req, res, next) => {
    const header = req.headers.authorization ?? "";
    const token = header.startsWith("Bearer ") ? header.slice(7) : "";
    if (token && constantTimeEqual(token, deps.token)) return next();
    res.setHeader("WWW-Authenticate", 'Bearer realm="payhooks-admin"');
    res.status(401).json({ error: "unauthorized" });
  };
  const orderId: RequestHandler = (req, res, next) =>
    ORDER_ID_PATTERN.test(String(req.params["orderId"]))
      ? next()
      : void res.status(400).json({ error: "invalid_order_id", message: "orderId must be 1-128 of A-Z a-z 0-9 . _ ~ -" });

  app.use(auth);
  if (deps.metrics) app.get("/metrics", deps.metrics.handler);
  if (deps.dashboard) app.use(deps.dashboard.basePath, deps.dashboard.router);
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
