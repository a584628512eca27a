import type { Queue } from "bullmq";
import { PaymentEventSchema, type OrderView, type PaymentEvent } from "@payhooks/core";
import { waitFor } from "./processes";

/** The admin API of a running ingress, as tests drive it. */
export function adminClient(adminUrl: string, token: string) {
  const headers = { authorization: `Bearer ${token}` };
  return {
    /** PUT /v1/orders/:id; resolves with the HTTP status (201 created, 200 updated). */
    async putOrder(orderId: string, body: Record<string, unknown>): Promise<number> {
      const res = await fetch(`${adminUrl}/v1/orders/${orderId}`, {
        method: "PUT",
        headers: { ...headers, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      await res.arrayBuffer();
      return res.status;
    },
    /** GET /v1/orders/:id; throws unless the order exists. */
    async getOrder(orderId: string): Promise<OrderView> {
      const res = await fetch(`${adminUrl}/v1/orders/${orderId}`, { headers });
      if (res.status !== 200) throw new Error(`GET /v1/orders/${orderId} answered ${res.status}`);
      return (await res.json()) as OrderView;
    },
  };
}

/** Waits until none of these queues has a job waiting, active, delayed or prioritized. */
export async function drained(queues: readonly Queue[]): Promise<void> {
  await waitFor(async () => {
    for (const queue of queues) {
      const counts = await queue.getJobCounts("waiting", "active", "delayed", "prioritized");
      if (Object.values(counts).some((n) => n > 0)) return undefined;
    }
    return true;
  }, `queues ${queues.map((q) => q.name).join(", ")} drained`);
}

/** The PaymentEvents of one payment in the payment-events queue, in the order they were queued. */
export async function paymentEventsFor(paymentEvents: Queue, providerPaymentId: string): Promise<PaymentEvent[]> {
  const jobs = await paymentEvents.getJobs(["waiting", "completed", "active", "delayed"], 0, -1, true);
  return jobs.map((j) => PaymentEventSchema.parse(j.data)).filter((e) => e.providerPaymentId === providerPaymentId);
}
