import express, { Router } from "express";
import type { Queue } from "bullmq";
import { JOB_OPTIONS, PayloadValidationError, jobIdFor, type Envelope } from "@payhooks/core";
import {
  PAYRAM_API_KEY_HEADER,
  PAYRAM_SIGNATURE_HEADER,
  parsePayramNotification,
  payramJobId,
  verifyPayramRequest,
} from "@payhooks/payram";
import { enqueue } from "../enqueue";
import { flatHeaders, keptHeaders } from "../headers";
import { authenticatedBody } from "../json-body";
import { NO_REQUEST_METRICS, type RequestMetrics } from "../metrics";

export type PayramRouteDeps = {
  provider: { secrets: readonly [string, ...string[]]; queue: Queue } | null;
  bodyLimit: number;
  enqueueTimeoutMs: number;
  now: () => number;
  /** counts and times each request (a 401 is rejected_signature by its status); absent when the app is built bare */
  metrics?: RequestMetrics;
};

const ACCEPTED = { message: "Webhook received successfully" };
const TEST_ACCEPTED = { message: "Test webhook received" };

/**
 * POST /webhooks/payram (README, "HTTP interface"): raw body → verify → enqueue → 200.
 * Verification failures are 401, Redis trouble 503, a body over the limit 413. Every
 * authenticated body is acknowledged, even one the worker cannot interpret (quarantined there).
 */
export function createPayramRouter(deps: PayramRouteDeps): Router {
  const router = Router();
  const metrics = deps.metrics ?? NO_REQUEST_METRICS;
  router.post(
    "/webhooks/payram",
    metrics.track("payram"),
    (_req, res, next) => (deps.provider ? next() : void res.status(503).json({ error: "provider_not_configured" })),
    express.raw({ type: () => true, limit: deps.bodyLimit }),
    async (req, res) => {
      const { secrets, queue } = deps.provider!;
      const rawBody: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const headers = flatHeaders(req.headers);
      const isTest = headers["x-webhook-test"]?.toLowerCase() === "true";
      const credentialsSent = headers[PAYRAM_SIGNATURE_HEADER] !== undefined || headers[PAYRAM_API_KEY_HEADER] !== undefined;
      // The dashboard's "Test connection" ping may come unsigned (§2.7); a failed test
      // deactivates the webhook, so it gets 200 — but a ping that carries bad credentials does not.
      if (isTest && !credentialsSent) return void res.status(200).json(TEST_ACCEPTED);

      const verified = verifyPayramRequest({ rawBody, headers, secrets, now: deps.now() });
      if (!verified.ok) return void res.status(401).json({ error: verified.reason });
      if (isTest) return void res.status(200).json(TEST_ACCEPTED);

      // An authenticated body we cannot read (a newer Payram, a missing field, even bytes that
      // are no JSON) is still acknowledged: Payram retries a refusal for two days and the money
      // would be lost. The worker quarantines it.
      const { rawBody: kept, payload: body, unreadable, digest } = authenticatedBody(rawBody);
      let jobId: string;
      try {
        jobId = unreadable ? jobIdFor("payram", ["body", digest]) : payramJobId(parsePayramNotification(body));
      } catch (err) {
        if (!(err instanceof PayloadValidationError)) throw err;
        jobId = jobIdFor("payram", ["body", digest]);
      }
      const envelope: Envelope = {
        provider: "payram",
        deliveryId: jobId,
        receivedAt: deps.now(),
        rawBody: kept,
        payload: body,
        ...(unreadable ? { unreadable } : {}),
        headers: keptHeaders(headers, ["content-type", "user-agent"]),
      };
      const job = await enqueue(queue, "payram.notification", envelope, { ...JOB_OPTIONS.provider, jobId }, deps.enqueueTimeoutMs);
      metrics.enqueued(res, queue, job);
      res.status(200).json(ACCEPTED);
    },
  );
  return router;
}
