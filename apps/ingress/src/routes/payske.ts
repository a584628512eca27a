import express, { Router } from "express";
import type { Queue } from "bullmq";
import { JOB_OPTIONS, jobIdFor, type Envelope } from "@payhooks/core";
import { PAYSKE_SIGNATURE_HEADER, payskeJobId, readPayskeDelivery, verifyPayskeSignature } from "@payhooks/payske";
import { enqueue } from "../enqueue";
import { flatHeaders, keptHeaders } from "../headers";
import { authenticatedBody } from "../json-body";
import { NO_REQUEST_METRICS, type RequestMetrics } from "../metrics";

export type PayskeRouteDeps = {
  provider: {
    /** live endpoint secrets */
    secrets: readonly string[];
    /** test-mode endpoint secrets: an event verified only by one of these is test traffic */
    testSecrets: readonly string[];
    toleranceSeconds: number;
    queue: Queue;
  } | null;
  bodyLimit: number;
  enqueueTimeoutMs: number;
  now: () => number;
  /** counts and times each request; absent when the app is built bare */
  metrics?: RequestMetrics;
};

/**
 * POST /webhooks/payske — raw body → Payske-Signature (live secrets, then test secrets) → enqueue
 * → `200 {"received":true}` (README, "HTTP interface"). A verification failure is 400 (Payske
 * retries 4xx, so a fixed secret heals). Every authenticated delivery is acknowledged once it is
 * in Redis, even one the worker cannot interpret (an older or newer API version, a thin event,
 * even bytes that are no JSON): refusing it would make Payske retry for days and then disable
 * the endpoint. An authenticated delivery gets a non-2xx only for 413 (too large) and
 * 503 (Redis did not confirm the job).
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
      const { secrets, testSecrets, toleranceSeconds, queue } = deps.provider!;
      const rawBody: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const headers = flatHeaders(req.headers);
      const check = (list: readonly string[]) =>
        verifyPayskeSignature({ rawBody, header: headers[PAYSKE_SIGNATURE_HEADER], secrets: list, now: deps.now(), toleranceSeconds });
      const live = check(secrets);
      const verified = live.ok ? live : check(testSecrets);
      if (!verified.ok) {
        metrics.mark(res, "rejected_signature"); // a 400 like a bad payload: the status cannot tell them apart
        // The live verdict names the problem unless only the test secrets got further.
        const reason = !live.ok && live.reason !== "no_matching_signature" ? live.reason : verified.reason;
        return void res.status(400).json({ error: reason });
      }

      // Bytes that are no readable JSON are kept in base64 for the worker to quarantine (json-body.ts).
      const { rawBody: kept, payload: body, unreadable, digest } = authenticatedBody(rawBody);
      const delivery = readPayskeDelivery(body);
      // An event we cannot read is still one delivery: its id when it has one, else its bytes.
      const jobId = delivery.id ? payskeJobId({ id: delivery.id }) : jobIdFor("payske", ["body", digest]);
      const envelope: Envelope = {
        provider: "payske",
        deliveryId: jobId,
        receivedAt: deps.now(),
        rawBody: kept,
        payload: body,
        ...(unreadable ? { unreadable } : {}),
        headers: keptHeaders(headers, ["content-type", "user-agent"]),
        // Mode is the secret's word first: a test secret never makes a live event.
        livemode: live.ok && delivery.livemode !== false,
      };
      const job = await enqueue(queue, delivery.type ?? "payske.unreadable", envelope, { ...JOB_OPTIONS.provider, jobId }, deps.enqueueTimeoutMs);
      metrics.enqueued(res, queue, job);
      res.status(200).json({ received: true });
    },
  );
  return router;
}
