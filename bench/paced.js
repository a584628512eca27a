// An open-loop load generator: requests go out at a steady rate, one every 1/rate seconds,
// whether or not earlier ones were answered, and each latency runs from the moment its request
// was due (so a stall shows up in every request it delayed: no coordinated omission).
// autocannon's overallRate is not this: it sends each second's whole quota at the start of the
// second, per connection, and so measures a burst of `rate` requests every second.
const http = require("node:http");

function percentile(sorted, p) {
  return sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/**
 * Sends `rate` requests per second for `seconds`. `request()` returns { url, method, headers, body }.
 * `check(status, body)` says whether the answer counts as a success.
 */
async function paced({ rate, seconds, request, check = (status) => status >= 200 && status < 300 }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const total = Math.round(rate * seconds);
  const latencies = [];
  let failures = 0;
  let errors = 0;
  const start = performance.now();
  const inFlight = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const req = request();
    inFlight.push(
      new Promise((resolve) => {
        const r = http.request(req.url, { method: req.method, headers: req.headers, agent }, (res) => {
          const chunks = [];
          res.on("data", (c) => chunks.push(c));
          res.on("end", () => {
            latencies.push(performance.now() - due);
            if (!check(res.statusCode, Buffer.concat(chunks).toString("utf8"))) failures++;
            resolve();
          });
        });
        r.on("error", () => { errors++; resolve(); });
        r.end(req.body);
      }),
    );
  }
  await Promise.all(inFlight);
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const ms = (v) => (v === null ? null : +v.toFixed(1));
  return {
    rate,
    requests: total,
    achievedRps: Math.round(latencies.length / elapsed),
    p50: ms(percentile(latencies, 0.5)),
    p99: ms(percentile(latencies, 0.99)),
    p999: ms(percentile(latencies, 0.999)),
    max: ms(latencies[latencies.length - 1] ?? null),
    failures,
    errors,
  };
}

module.exports = { paced };
