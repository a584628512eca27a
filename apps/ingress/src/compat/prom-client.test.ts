/** Fails when a prom-client upgrade no longer renders what ./prom-client.ts's histogram returns. */
import { Registry } from "prom-client";
import { ExternalHistogram, type HistogramSeries } from "./prom-client";

const NAME = "compat_external_seconds";

function registryWith(series: Array<HistogramSeries<"queue" | "status">>): Registry {
  const registry = new Registry();
  new ExternalHistogram({ name: NAME, help: "A histogram kept elsewhere.", labelNames: ["queue", "status"], buckets: [0.1, 1], registers: [registry] }, async () => series);
  return registry;
}

/** The text exposition's sample lines as `name{labels sorted} value`, so label order does not matter. */
function samples(text: string): string[] {
  return text
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const m = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!m) throw new Error(`not a sample line: ${line}`);
      const labels = (m[2] ?? "").split(",").filter(Boolean).sort().join(",");
      return `${m[1]}{${labels}} ${m[3]}`;
    });
}

const SERIES = [{ labels: { queue: "q", status: "completed" }, buckets: [1, 3], count: 4, sum: 2.5 }];

it("renders the series getForPromString returns in registry.metrics() (the text /metrics serves)", async () => {
  const text = await registryWith(SERIES).metrics();
  expect(text).toContain(`# TYPE ${NAME} histogram`);
  expect(samples(text)).toEqual([
    `${NAME}_bucket{le="0.1",queue="q",status="completed"} 1`,
    `${NAME}_bucket{le="1",queue="q",status="completed"} 3`,
    `${NAME}_bucket{le="+Inf",queue="q",status="completed"} 4`,
    `${NAME}_sum{queue="q",status="completed"} 2.5`,
    `${NAME}_count{queue="q",status="completed"} 4`,
  ]);
});

it("renders them in getMetricsAsJSON() too, series labels merged in", async () => {
  const [metric] = await registryWith(SERIES).getMetricsAsJSON();
  expect(metric).toMatchObject({ name: NAME, type: "histogram" });
  expect(metric!.values).toContainEqual(expect.objectContaining({ metricName: `${NAME}_bucket`, labels: { le: 1, queue: "q", status: "completed" }, value: 3 }));
  expect(metric!.values).toContainEqual(expect.objectContaining({ metricName: `${NAME}_count`, labels: { queue: "q", status: "completed" }, value: 4 }));
});

it("renders no samples while nothing was recorded", async () => {
  expect(samples(await registryWith([]).metrics())).toEqual([]);
});
