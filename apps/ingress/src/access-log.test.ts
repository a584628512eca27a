import type { AddressInfo } from "node:net";
import { request } from "node:http";
import { Writable } from "node:stream";
import express from "express";
import pino from "pino";
import { REDACT_PATHS } from "@payhooks/core";
import { accessLog } from "./access-log";

type Line = { level: number; msg: string; req: { id: number; method: string; url: string }; res: { statusCode: number }; responseTime: number };

let lines: Line[];
let base: string;
let close: () => Promise<void>;

beforeAll(async () => {
  lines = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString("utf8").split("\n").filter(Boolean)) lines.push(JSON.parse(l) as Line);
      cb();
    },
  });
  const logger = pino({ level: "info", redact: { paths: REDACT_PATHS, censor: "[redacted]" } }, sink);
  const app = express();
  app.use(accessLog(logger));
  app.get("/ok", (_req, res) => void res.json({ ok: true }));
  app.get("/bad", (_req, res) => void res.status(400).json({ error: "bad" }));
  app.get("/down", (_req, res) => void res.status(503).json({ error: "unavailable" }));
  app.get("/hang", () => undefined); // never answers: the client gives up
  const server = app.listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); });
});

afterAll(() => close());

const until = async (n: number) => {
  for (let i = 0; i < 200 && lines.length < n; i++) await new Promise((r) => setTimeout(r, 5));
};

it("logs one line per request at a level set by the status, without headers", async () => {
  await fetch(`${base}/ok?x=1`, { headers: { authorization: "Basic c2VjcmV0OnNlY3JldA==", "api-key": "k-123" } });
  await fetch(`${base}/bad`);
  await fetch(`${base}/down`);
  await until(3);
  expect(lines.map((l) => [l.level, l.msg, l.req.method, l.req.url, l.res.statusCode])).toEqual([
    [30, "request completed", "GET", "/ok", 200],
    [40, "request completed", "GET", "/bad", 400],
    [50, "request completed", "GET", "/down", 503],
  ]);
  expect(new Set(lines.map((l) => l.req.id)).size).toBe(3);
  for (const l of lines) expect(l.responseTime).toBeGreaterThanOrEqual(0);
  expect(JSON.stringify(lines)).not.toMatch(/c2VjcmV0|k-123|authorization|api-key/);
});

it("logs the path without the query string, which can hold signatures and personal data", async () => {
  lines.length = 0;
  await fetch(`${base}/ok?SignatureValue=abc123def&EMail=payer%40example.com&Shp_x=1`);
  await fetch(`${base}/ok?`);
  await fetch(`${base}/bad?a=1?b=2`);
  await until(3);
  expect(lines.map((l) => l.req.url)).toEqual(["/ok", "/ok", "/bad"]);
  expect(JSON.stringify(lines)).not.toMatch(/abc123def|payer|example\.com|Shp_x/);
});

it("logs a request whose client went away as aborted, once", async () => {
  lines.length = 0;
  await new Promise<void>((resolve) => {
    const req = request(`${base}/hang`);
    req.on("error", () => resolve());
    req.end();
    setTimeout(() => req.destroy(), 50);
  });
  await until(1);
  await new Promise((r) => setTimeout(r, 50));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatchObject({ level: 40, msg: "request aborted", req: { url: "/hang" } });
});
