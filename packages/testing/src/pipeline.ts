import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { freePort, spawnNode, type NodeProcess } from "./processes";

const ROOT = resolve(__dirname, "../../..");
export const INGRESS_MAIN = resolve(ROOT, "apps/ingress/dist/main.js");
export const WORKER_MAIN = resolve(ROOT, "apps/worker/dist/main.js");

/** Starts the built ingress as a child process and waits until it listens. */
export async function startIngress(env: Record<string, string>): Promise<{ proc: NodeProcess; url: string; adminUrl: string }> {
  const port = await freePort();
  const adminPort = await freePort();
  const proc = spawnNode(INGRESS_MAIN, { LOG_LEVEL: "info", ...env, PORT: String(port), ADMIN_PORT: String(adminPort) });
  await proc.waitForLine(/"msg":"ingress listening"/);
  if (env["ADMIN_TOKEN"]) await proc.waitForLine(/"msg":"admin listening"/);
  return { proc, url: `http://127.0.0.1:${port}`, adminUrl: `http://127.0.0.1:${adminPort}` };
}

/**
 * Starts the built worker as a child process and waits until its queues are open. The tests read
 * the `payment-events` queue, so it is on (PAYMENT_EVENTS_QUEUE=true) unless `env` says otherwise.
 */
export async function startWorker(env: Record<string, string>): Promise<NodeProcess> {
  const proc = spawnNode(WORKER_MAIN, { LOG_LEVEL: "info", PAYMENT_EVENTS_QUEUE: "true", ...env });
  await proc.waitForLine(/"msg":"worker ready"/);
  return proc;
}

export type ReceivedWebhook = { headers: IncomingHttpHeaders; body: string };

/** A stand-in for the merchant's endpoint: records every POST and answers with `status()`. */
export async function startMerchantEndpoint(status: (n: number) => number = () => 200) {
  const received: ReceivedWebhook[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString("utf8")));
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      res.statusCode = status(received.length);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/payments`,
    received,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
