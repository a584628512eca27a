/**
 * The merchant delivery against real local HTTP servers that misbehave: a body that goes on and
 * on, a body that comes too slowly, redirects. The merchant is outside the system; its servers
 * here are real sockets, and the processor is the worker's own.
 */
import { Hmac } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Job } from "bullmq";
import { Webhook } from "standardwebhooks";
import type { PaymentEvent } from "@payhooks/core";
import { waitFor } from "@payhooks/testing";
import { DEFAULT_MAX_RESPONSE_BYTES, MerchantDeliveryError, createMerchantDeliveryProcessor, type MerchantDeliveryProcessor } from "./delivery";

const SECRET = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
/** the most a body server offers: far past any bound, so a reader without one reads it all and the test sees it */
const BODY_CAP = 64 * 1024 * 1024;
const CHUNK = 1024;

const servers: Server[] = [];
const processors: MerchantDeliveryProcessor[] = [];

/** The worker's processor, its connection pool closed after the test. */
function deliveryProcessor(deps: Parameters<typeof createMerchantDeliveryProcessor>[0]): MerchantDeliveryProcessor {
  const processor = createMerchantDeliveryProcessor(deps);
  processors.push(processor);
  return processor;
}

afterEach(async () => {
  await Promise.all(processors.splice(0).map((p) => p.close().catch(() => undefined)));
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

/** TCP connections a test server accepted: in all, open now, and the most open at once. */
interface Sockets {
  opened: number;
  open: number;
  maxOpen: number;
}

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void, sockets?: Sockets): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  if (sockets) {
    server.on("connection", (socket) => {
      sockets.opened++;
      sockets.open++;
      sockets.maxOpen = Math.max(sockets.maxOpen, sockets.open);
      socket.on("close", () => sockets.open--);
    });
  }
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
}

function sockets(): Sockets {
  return { opened: 0, open: 0, maxOpen: 0 };
}

interface Received {
  body: string;
  headers: IncomingMessage["headers"];
}

/**
 * A merchant endpoint that keeps every delivery (body and headers) and answers 204 after
 * `delayMs`, counting its connections and the most requests it had in progress at once.
 */
async function countingEndpoint(delayMs = 0) {
  const stats = { ...sockets(), received: [] as Received[], inFlight: 0, maxInFlight: 0 };
  const url = await serve((req, res) => {
    stats.inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      stats.received.push({ body: Buffer.concat(chunks).toString("utf8"), headers: req.headers });
      setTimeout(() => {
        stats.inFlight--;
        res.writeHead(204).end();
      }, delayMs);
    });
  }, stats);
  return { url, stats };
}

/** What a Standard Webhooks library (one we did not write) makes of a delivery signed with `secret`. */
function verified(secret: string, delivery: Received): unknown {
  return new Webhook(secret).verify(delivery.body, {
    "webhook-id": String(delivery.headers["webhook-id"]),
    "webhook-timestamp": String(delivery.headers["webhook-timestamp"]),
    "webhook-signature": String(delivery.headers["webhook-signature"]),
  });
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

function job(id = "evt_delivery_test"): Job<PaymentEvent> {
  const event = { id, type: "payment.succeeded", provider: "payram", providerPaymentId: "p1", orderId: null } as unknown as PaymentEvent;
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
    const deliver = deliveryProcessor({ url, secret: SECRET, timeoutMs: 60_000, ...(maxResponseBytes !== undefined ? { maxResponseBytes } : {}) });
    await expect(deliver(job())).resolves.toEqual({ status: 200 });
    // The rest is discarded by closing the connection, not read.
    await waitFor(() => stats.closed, "the client to hang up");
    const limit = maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    expect(stats.written).toBeLessThanOrEqual(limit + 16 * CHUNK);
  });

  it("a 500 whose body never ends: a failed attempt, and no more read than for a 200", async () => {
    const { url, stats } = await endlessBody(500);
    const deliver = deliveryProcessor({ url, secret: SECRET, timeoutMs: 60_000 });
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
    await expect(deliveryProcessor({ url, secret: SECRET, timeoutMs: 10_000 })(job())).resolves.toEqual({ status: 200 });
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
    const err = await failure(deliveryProcessor({ url, secret: SECRET, timeoutMs: 300 })(job()));
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
    const err = await failure(deliveryProcessor({ url, secret: SECRET, timeoutMs: 300, maxResponseBytes: 1024 * 1024 })(job()));
    expect(err.message).toMatch(/did not answer within 300 ms \(its body was still coming\)/);
  });

  it("no headers at all fails the attempt at the timeout", async () => {
    const url = await serve((req) => void req.resume()); // never answers
    const err = await failure(deliveryProcessor({ url, secret: SECRET, timeoutMs: 300 })(job()));
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
    const err = await failure(deliveryProcessor({ url, secret: SECRET, timeoutMs: 10_000 })(job()));
    expect(err).toBeInstanceOf(MerchantDeliveryError);
    expect(err.message).toBe(`merchant endpoint answered ${status}`);
    expect(followed).toBe(0);
  });
});

describe("deliveries share a keep-alive pool of `connections` connections", () => {
  it("200 deliveries, 4 at a time, go over at most 4 TCP connections, each one signed as Standard Webhooks says", async () => {
    const { url, stats } = await countingEndpoint();
    const deliver = deliveryProcessor({ url, secret: SECRET, timeoutMs: 10_000, connections: 4 });
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < 200) await expect(deliver(job(`evt_${next++}`))).resolves.toEqual({ status: 204 });
      }),
    );
    expect(stats.received).toHaveLength(200);
    expect(stats.opened).toBeGreaterThanOrEqual(1);
    expect(stats.opened).toBeLessThanOrEqual(4);
    for (const delivery of stats.received) {
      expect(verified(SECRET, delivery)).toMatchObject({ id: delivery.headers["webhook-id"], type: "payment.succeeded" });
    }
    expect(new Set(stats.received.map((d) => d.headers["webhook-id"])).size).toBe(200);
  });

  it("with `connections: 1`, 50 deliveries one after another go over one connection", async () => {
    const { url, stats } = await countingEndpoint();
    const deliver = deliveryProcessor({ url, secret: SECRET, timeoutMs: 10_000, connections: 1 });
    for (let i = 0; i < 50; i++) await deliver(job(`evt_${i}`));
    expect(stats.received).toHaveLength(50);
    expect(stats.opened).toBe(1);
  });

  it("is bounded: 30 deliveries at once over a pool of 3 never open more than 3 sockets, and the rest wait their turn", async () => {
    const { url, stats } = await countingEndpoint(30);
    const deliver = deliveryProcessor({ url, secret: SECRET, timeoutMs: 10_000, connections: 3 });
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => deliver(job(`evt_${i}`))));
    expect(results.every((r) => r.status === 204)).toBe(true);
    expect(stats.received).toHaveLength(30);
    expect(stats.opened).toBeLessThanOrEqual(3);
    expect(stats.maxOpen).toBeLessThanOrEqual(3);
    expect(stats.maxInFlight).toBeLessThanOrEqual(3); // one request at a time on each: no pipelining
    expect(stats.maxInFlight).toBeGreaterThan(1); // and the pool is used, not one connection
  });

  it("a connection whose body went over the bound is closed, not drained or reused: the next delivery gets a new one", async () => {
    const stats = { ...sockets(), written: 0, requests: 0 };
    const socketsUsed: Socket[] = [];
    const url = await serve((req, res) => {
      req.resume();
      socketsUsed.push(req.socket);
      if (stats.requests++ > 0) return void res.writeHead(200).end();
      res.writeHead(200, { "content-type": "application/json" });
      const chunk = Buffer.alloc(CHUNK, 0x20);
      let closed = false;
      res.on("close", () => (closed = true));
      const pump = (): void => {
        if (closed || stats.written >= BODY_CAP) return void (closed || res.end());
        stats.written += chunk.length;
        if (res.write(chunk)) setImmediate(pump);
        else res.once("drain", () => setImmediate(pump));
      };
      pump();
    }, stats);
    const deliver = deliveryProcessor({ url, secret: SECRET, timeoutMs: 10_000, maxResponseBytes: 4096, connections: 1 });
    await expect(deliver(job("evt_long"))).resolves.toEqual({ status: 200 });
    await waitFor(() => socketsUsed[0]!.destroyed, "the client to hang up");
    expect(stats.written).toBeLessThanOrEqual(4096 + 16 * CHUNK);
    await expect(deliver(job("evt_next"))).resolves.toEqual({ status: 200 });
    expect(socketsUsed).toHaveLength(2);
    expect(socketsUsed[1]).not.toBe(socketsUsed[0]);
  });

  it("a body that trickles past the timeout fails the attempt over a pooled connection, and the pool recovers", async () => {
    const socketsUsed: Socket[] = [];
    const url = await serve((req, res) => {
      req.resume();
      socketsUsed.push(req.socket);
      if (socketsUsed.length > 1) return void res.writeHead(200).end();
      res.writeHead(200, { "content-type": "application/json" });
      const timer = setInterval(() => res.write(" "), 20);
      res.on("close", () => clearInterval(timer));
    });
    const deliver = deliveryProcessor({ url, secret: SECRET, timeoutMs: 300, maxResponseBytes: 1024 * 1024, connections: 1 });
    const started = Date.now();
    const err = await failure(deliver(job("evt_trickle")));
    expect(err).toBeInstanceOf(MerchantDeliveryError);
    expect(err.message).toBe("merchant endpoint did not answer within 300 ms (its body was still coming)");
    expect(Date.now() - started).toBeLessThan(5_000);
    await waitFor(() => socketsUsed[0]!.destroyed, "the timed-out connection to be closed");
    await expect(deliver(job("evt_next"))).resolves.toEqual({ status: 200 });
    expect(socketsUsed).toHaveLength(2);
    expect(socketsUsed[1]).not.toBe(socketsUsed[0]);
  });

  it("a 3xx on a pooled connection is still a failed attempt, not followed, and the connection serves the next delivery", async () => {
    let followed = 0;
    const elsewhere = await serve((req, res) => {
      followed++;
      req.resume();
      res.writeHead(200).end();
    });
    const stats = sockets();
    let requests = 0;
    const url = await serve((req, res) => {
      req.resume();
      if (requests++ === 0) return void res.writeHead(302, { location: elsewhere }).end("moved");
      res.writeHead(200).end();
    }, stats);
    const deliver = deliveryProcessor({ url, secret: SECRET, timeoutMs: 10_000, connections: 1 });
    const err = await failure(deliver(job("evt_redirected")));
    expect(err).toBeInstanceOf(MerchantDeliveryError);
    expect(err.message).toBe("merchant endpoint answered 302");
    await expect(deliver(job("evt_next"))).resolves.toEqual({ status: 200 });
    expect(followed).toBe(0);
    expect(stats.opened).toBe(1);
  });
});

describe("each attempt is serialized and signed once", () => {
  it("one JSON.stringify of the event and one HMAC per attempt, and the secret decoded once per processor, not per attempt", async () => {
    const { url, stats } = await countingEndpoint();
    const fromSpy = jest.spyOn(Buffer, "from");
    const deliver = deliveryProcessor({ url, secret: SECRET, timeoutMs: 10_000 });
    const decodes = () => (fromSpy.mock.calls as unknown[][]).filter(([value, encoding]) => encoding === "base64" && value === SECRET.slice(6)).length;
    expect(decodes()).toBe(1);
    const stringify = jest.spyOn(JSON, "stringify");
    const hmac = jest.spyOn(Hmac.prototype, "digest");
    const jobs = [job("evt_a"), job("evt_b"), job("evt_c")];
    for (const j of jobs) await deliver(j);
    expect(stringify.mock.calls.filter(([value]) => jobs.some((j) => j.data === value))).toHaveLength(3);
    expect(hmac).toHaveBeenCalledTimes(3);
    expect(decodes()).toBe(1);
    for (const delivery of stats.received) expect(() => verified(SECRET, delivery)).not.toThrow();
  });
});
