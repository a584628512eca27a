import express, { Router } from "express";
import { createActionHandler, createConfirmPage } from "./actions";
import { createOverviewPage } from "./overview";
import { csrfToken, requireSameSite } from "./csrf";
import type { ConsoleDeps } from "./deps";
import { createJobPage } from "./job";
import { createOrderPage } from "./order";
import { createSearchPage } from "./search";

export { CONSOLE_PATH } from "./html";
export type { ConsoleDeps } from "./deps";

/**
 * The operator console: server-rendered pages (overview, search, order, job, confirm) and one
 * POST for actions. It does no authentication of its own: admin.ts mounts it behind the admin
 * token check (HTTP Basic from a browser). Every state change is a POST that must pass the
 * cross-site checks (csrf.ts), and each page is sent with a strict CSP, no caching and no
 * framing.
 */
export function createConsole(deps: ConsoleDeps & { adminToken: string }): Router {
  const csrf = csrfToken(deps.adminToken);
  const router = Router();
  router.use((_req, res, next) => {
    res.setHeader("Cache-Control", "no-store");
    res.setHeader("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    res.setHeader("X-Content-Type-Options", "nosniff");
    // same-origin, not no-referrer: under no-referrer a browser sends `Origin: null` with the
    // console's own form POSTs, which the cross-site check must refuse.
    res.setHeader("Referrer-Policy", "same-origin");
    next();
  });
  router.use(express.urlencoded({ extended: false, limit: "8kb", parameterLimit: 20 }));
  router.use(
    requireSameSite(csrf, (req, reason) =>
      deps.logger.warn({ audit: true, refused: reason, method: req.method, path: req.path }, "console: cross-site request refused"),
    ),
  );
  router.get("/", createOverviewPage(deps));
  router.get("/search", createSearchPage(deps));
  router.get("/orders/:orderId", createOrderPage(deps));
  router.get("/jobs/:queue/:jobId", createJobPage(deps));
  router.get("/confirm", createConfirmPage(deps, csrf));
  router.post("/actions", createActionHandler(deps));
  return router;
}
