// The merchant, for the end-to-end benchmark: a counting endpoint in a process of its own, so
// its CPU is not the load generator's and can be reported apart. Plain node:http, keep-alive on;
// every POST is answered 200 with an empty body and counted, in total and by webhook-id
// (distinct: a retried event counts once). It verifies nothing per request (it is the merchant,
// not what is measured); with MERCHANT_SECRET set it checks the Standard Webhooks signature of
// the first delivery only, as a sanity check that what arrives is signed.
//
// Counts: GET /count → {"distinct":…, "total":…, "signature":…}; over IPC when forked
// (startMerchantEndpoint below): {type:"count"} answers the same, {type:"expect", distinct:n}
// answers {type:"reached", at} the moment the n-th distinct event arrived (at: process.hrtime.bigint()
// as a string; CLOCK_MONOTONIC, comparable with the parent's), {type:"reset"} clears the counts.
//
// `node bench/merchant-endpoint.js` runs it alone (PORT, default 0 = any; prints its URL).
const http = require("node:http");
const { fork } = require("node:child_process");

function serve() {
  const seen = new Set();
  let total = 0;
  let signature = null; // null: not checked; true/false once the first delivery was
  let expect = null;
  const secret = process.env.MERCHANT_SECRET;

  const counts = () => ({ distinct: seen.size, total, signature });
  const checkSignature = (req, body) => {
    try {
      const { Webhook } = require("standardwebhooks");
      new Webhook(secret.replace(/^whsec_/, "")).verify(body, req.headers);
      return true;
    } catch {
      return false;
    }
  };

  const server = http.createServer((req, res) => {
    if (req.method === "GET" && req.url === "/count") {
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify(counts()));
    }
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      total++;
      const id = req.headers["webhook-id"];
      if (id !== undefined && !seen.has(id)) {
        seen.add(id);
        if (seen.size === 1 && secret) signature = checkSignature(req, Buffer.concat(chunks).toString("utf8"));
        if (expect !== null && seen.size >= expect) {
          process.send?.({ type: "reached", at: process.hrtime.bigint().toString(), ...counts() });
          expect = null;
        }
      }
      res.writeHead(200, { "content-length": "0" });
      res.end();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;

  process.on("message", (m) => {
    if (m?.type === "count") process.send({ type: "count", ...counts() });
    else if (m?.type === "reset") {
      seen.clear();
      total = 0;
      signature = null;
      expect = null;
      process.send({ type: "reset" });
    } else if (m?.type === "expect") {
      expect = m.distinct;
      if (seen.size >= expect) {
        process.send({ type: "reached", at: process.hrtime.bigint().toString(), ...counts() });
        expect = null;
      }
    }
  });
  process.on("SIGTERM", () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
  server.listen(Number(process.env.PORT || 0), "127.0.0.1", () => {
    const url = `http://127.0.0.1:${server.address().port}/payments`;
    if (process.send) process.send({ type: "listening", url });
    else console.log(`merchant endpoint listening on ${url} (GET /count for the counts)`);
  });
}

/**
 * Forks the endpoint. Returns { url, pid, count(), reset(), waitFor(distinct, timeoutMs) → {at, …}, stop() }.
 * `secret` (whsec_…) turns on the check of the first delivery's signature.
 */
function startMerchantEndpoint({ secret } = {}) {
  const child = fork(__filename, [], { env: { PATH: process.env.PATH, ...(secret ? { MERCHANT_SECRET: secret } : {}) }, stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const next = (type, timeoutMs = 10_000) =>
    new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        child.off("message", on);
        child.off("exit", onExit);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`merchant endpoint: no "${type}" message within ${timeoutMs} ms`));
      }, timeoutMs);
      const on = (m) => {
        if (m?.type !== type) return;
        done();
        resolve(m);
      };
      const onExit = (code) => {
        done();
        reject(new Error(`merchant endpoint exited (${code})`));
      };
      child.on("message", on);
      child.on("exit", onExit);
    });
  return next("listening").then(({ url }) => ({
    url,
    pid: child.pid,
    count: () => (child.send({ type: "count" }), next("count")),
    reset: () => (child.send({ type: "reset" }), next("reset")),
    /** Resolves when `distinct` distinct events have arrived since the last reset; `at` is a bigint (hrtime). */
    waitFor: (distinct, timeoutMs) => {
      const reached = next("reached", timeoutMs);
      child.send({ type: "expect", distinct });
      return reached.then((m) => ({ ...m, at: BigInt(m.at) }));
    },
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  }));
}

module.exports = { startMerchantEndpoint };

if (require.main === module) serve();
