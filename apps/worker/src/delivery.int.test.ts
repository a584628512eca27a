/**
 * The merchant delivery against real local HTTP servers that misbehave: a body that goes on and
 * on, a body that comes too slowly, redirects. The merchant is outside the system; its servers
 * here are real sockets, and the processor is the worker's own.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Job } from "bullmq";
import type { PaymentEvent } from "@payhooks/core";
import { waitFor } from "@payhooks/testing";
import { DEFAULT_MAX_RESPONSE_BYTES, MerchantDeliveryError, createMerchantDeliveryProcessor } from "./delivery";

const SECRET = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
/** the most a body server offers: far past any bound, so a reader without one reads it all and the test sees it */
const BODY_CAP = 64 * 1024 * 1024;
const CHUNK = 1024;

const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((r) => {
          s.closeAllConnections();
          s.close(() => r());
        }),
    ),
  );
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
}

/**
 * Answers `status` and then writes body chunks for as long as the client reads (up to BODY_CAP),
 * one chunk per turn of the event loop (and only once the socket has taken the previous one), so
 * what it wrote before the client hung up is what the client took in, give or take a few chunks
 * — not what the kernel's socket buffers would have absorbed from a writer that never pauses.
 */
async function endlessBody(status: number) {
  const stats = { written: 0, closed: false };
  const url = await serve((req, res) => {
    req.resume();
    res.writeHead(status, { "content-type": "application/json" });
    res.on("close", () => (stats.closed = true));
    const chunk = Buffer.alloc(CHUNK, 0x20);
    const pump = (): void => {
      if (stats.closed) return;
      if (stats.written >= BODY_CAP) return void res.end();
      stats.written += chunk.length;
      if (res.write(chunk)) setImmediate(pump);
      else res.once("drain", () => setImmediate(pump));
    };
    pump();
  });
  return { url, stats };
}

function job(): Job<PaymentEvent> {
  const event = { id: "evt_delivery_test", type: "payment.succeeded", provider: "payram", providerPaymentId: "p1", orderId: null } as unknown as PaymentEvent;
  return { data: event } as Job<PaymentEvent>;
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error("the delivery succeeded");
}

describe("the response body is read only up to a bound", () => {
  it.each([
    ["the default (64 KiB)", undefined],
    ["a configured 4 KiB", 4096],
    ["0: no body read at all", 0],
  ])("a 200 whose body never ends: the delivery completes and the merchant could write only about %s", async (_label, maxResponseBytes) => {
    const { url, stats } = await endlessBody(200);
    const deliver = createMerchantDeliveryProcessor({ url, secret: SECRET, timeoutMs: 60_000, ...(maxResponseBytes !== undefined ? { maxResponseBytes } : {}) });
    await expect(deliver(job())).resolves.toEqual({ status: 200 });
    // The rest is discarded by closing the connection, not read.
    await waitFor(() => stats.closed, "the client to hang up");
    const limit = maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    expect(stats.written).toBeLessThanOrEqual(limit + 16 * CHUNK);
  });

  it("a 500 whose body never ends: a failed attempt, and no more read than for a 200", async () => {
    const { url, stats } = await endlessBody(500);
    const deliver = createMerchantDeliveryProcessor({ url, secret: SECRET, timeoutMs: 60_000 });
    const err = await failure(deliver(job()));
    expect(err).toBeInstanceOf(MerchantDeliveryError);
    expect(err.message).toBe("merchant endpoint answered 500");
    await waitFor(() => stats.closed, "the client to hang up");
    expect(stats.written).toBeLessThanOrEqual(DEFAULT_MAX_RESPONSE_BYTES + 16 * CHUNK);
  });

  it("a short body is read to its end", async () => {
    let ended = false;
    const url = await serve((req, res) => {
      req.resume();
      res.on("finish", () => (ended = true));
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ok: true, note: "x".repeat(1000) }));
    });
    await expect(createMerchantDeliveryProcessor({ url, secret: SECRET, timeoutMs: 10_000 })(job())).resolves.toEqual({ status: 200 });
    expect(ended).toBe(true);
  });
});

describe("the timeout covers the headers and the body", () => {
  it("a 200 whose body stops coming fails the attempt at the timeout", async () => {
    const url = await serve((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "application/json" });
      res.write("{"); // and nothing more, the connection held open
    });
    const err = await failure(createMerchantDeliveryProcessor({ url, secret: SECRET, timeoutMs: 300 })(job()));
    expect(err).toBeInstanceOf(MerchantDeliveryError);
    expect(err.message).toMatch(/^merchant endpoint did not answer within 300 ms \(its body was still coming\)$/);
  });

  it("a 200 whose body trickles in without end fails the attempt: the deadline is the whole attempt's, not an idle timeout", async () => {
    const url = await serve((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "application/json" });
      const timer = setInterval(() => res.write(" "), 20);
      res.on("close", () => clearInterval(timer));
    });
    const err = await failure(createMerchantDeliveryProcessor({ url, secret: SECRET, timeoutMs: 300, maxResponseBytes: 1024 * 1024 })(job()));
    expect(err.message).toMatch(/did not answer within 300 ms \(its body was still coming\)/);
  });

  it("no headers at all fails the attempt at the timeout", async () => {
    const url = await serve((req) => void req.resume()); // never answers
    const err = await failure(createMerchantDeliveryProcessor({ url, secret: SECRET, timeoutMs: 300 })(job()));
    expect(err).toBeInstanceOf(MerchantDeliveryError);
    expect(err.message).toBe("merchant endpoint did not answer within 300 ms");
  });
});

describe("redirects are not followed", () => {
  it.each([301, 302, 303, 307, 308])("a %i is a failed attempt, and its Location gets nothing", async (status) => {
    let followed = 0;
    const elsewhere = await serve((req, res) => {
      followed++;
      req.resume();
      res.writeHead(200).end();
    });
    const url = await serve((req, res) => {
      req.resume();
      res.writeHead(status, { location: elsewhere }).end();
    });
    const err = await failure(createMerchantDeliveryProcessor({ url, secret: SECRET, timeoutMs: 10_000 })(job()));
    expect(err).toBeInstanceOf(MerchantDeliveryError);
    expect(err.message).toBe(`merchant endpoint answered ${status}`);
    expect(followed).toBe(0);
  });
});
