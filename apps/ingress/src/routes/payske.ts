import express, { Router } from "express";
import type { Queue } from "bullmq";
import { JOB_OPTIONS, type Envelope } from "@payhooks/core";
import { PAYSKE_SIGNATURE_HEADER, checkPayskeObject, parsePayskeEvent, payskeJobId, verifyPayskeSignature } from "@payhooks/payske";
import { enqueue } from "../enqueue";
import { flatHeaders, keptHeaders } from "../headers";
import { parseJsonBody } from "../json-body";
import { NO_REQUEST_METRICS, type RequestMetrics } from "../metrics";

export type PayskeRouteDeps = {
  provider: { secrets: readonly string[]; toleranceSeconds: number; queue: Queue } | null;
  bodyLimit: number;
  enqueueTimeoutMs: number;
  now: () => number;
  /** counts and times each request; absent when the app is built bare */
  metrics?: RequestMetrics;
};

/**
 * POST /webhooks/payske — providers.md §3.10: raw body → Payske-Signature → parse → enqueue
 * (job id from the event id) → `200 {"received":true}`. Verification failures and malformed
 * events are 400 with a short reason (Payske retries 4xx, so a fixed secret heals); Redis trouble 503.
 */
export function createPayskeRouter(deps: PayskeRouteDeps): Router {
  const router = Router();
  const metrics = deps.metrics ?? NO_REQUEST_METRICS;
  router.post(
    "/webhooks/payske",
    metrics.track("payske"),
    (_req, res, next) => (deps.provider ? next() : void res.status(503).json({ error: "provider_not_configured" })),
    express.raw({ type: () => true, limit: deps.bodyLimit }),
    async (req, res) => {
      const { secrets, toleranceSeconds, queue } = deps.provider!;
      const rawBody: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const headers = flatHeaders(req.headers);
      const verified = verifyPayskeSignature({
        rawBody,
        header: headers[PAYSKE_SIGNATURE_HEADER],
        secrets,
        now: deps.now(),
        toleranceSeconds,
      });
      if (!verified.ok) {
        metrics.mark(res, "rejected_signature"); // a 400 like a bad payload: the status cannot tell them apart
        return void res.status(400).json({ error: verified.reason });
      }

      // Not UTF-8, not JSON, or nested too deep to queue: 400 (json-body.ts).
      const parsedBody = parseJsonBody(rawBody);
      if (!parsedBody.ok) return void res.status(400).json({ error: parsedBody.reason });
      const { value: body, text } = parsedBody;
      const event = parsePayskeEvent(body); // PayloadValidationError → 400
      checkPayskeObject(event); // a mapped type's object the worker could not read: 400, not a job

      const jobId = payskeJobId(event);
      const envelope: Envelope = {
        provider: "payske",
        deliveryId: jobId,
        receivedAt: deps.now(),
        rawBody: text,
        payload: body,
        headers: keptHeaders(headers, ["content-type", "user-agent"]),
        livemode: event.livemode,
      };
      const job = await enqueue(queue, event.type, envelope, { ...JOB_OPTIONS.provider, jobId }, deps.enqueueTimeoutMs);
      metrics.enqueued(res, queue, job);
      res.status(200).json({ received: true });
    },
  );
  return router;
}
