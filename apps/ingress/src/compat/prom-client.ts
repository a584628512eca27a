/**
 * The one place payhooks reaches into prom-client's internals.
 *
 * Checked against prom-client 15.1.3, pinned exactly in apps/ingress and apps/worker
 * package.json. On an upgrade, re-check (prom-client.test.ts fails when one of these changes):
 * - `Registry#getMetricsAsString` still renders what a metric's `getForPromString()` returns
 *   (lib/registry.js), and `Histogram#get()` (`getMetricsAsJSON`) still builds on it
 *   (lib/histogram.js). The method is in neither prom-client's typings nor its docs.
 * - The shape it returns: `{ name, help, type, aggregator, values }`, each value
 *   `{ metricName, labels, sharedLabels, value }` (prom-client's own histogram's shape).
 */
import { Histogram, type Registry } from "prom-client";

/** One labelled series of a histogram kept elsewhere: cumulative counts, one per bucket bound. */
export type HistogramSeries<T extends string> = { labels: Record<T, string>; buckets: readonly number[]; count: number; sum: number };

/** A sample as prom-client's histogram hands it to the registry: series labels in `sharedLabels`. */
type HistogramSample = { metricName: string; labels: Record<string, string | number>; sharedLabels: Record<string, string>; value: number };

export type ExternalHistogramConfig<T extends string> = {
  name: string;
  help: string;
  labelNames: readonly T[];
  buckets: readonly number[];
  registers: Registry[];
};

/**
 * A histogram whose series are read (from Redis, say) each time the registry renders it: never
 * observed locally, since prom-client cannot set a histogram's buckets. Its samples come from
 * `getForPromString`, which prom-client's registry (text output) and `get()` (JSON) both call.
 * That method is missing from prom-client's typings, hence no `override`.
 */
export class ExternalHistogram<T extends string> extends Histogram<T> {
  private readonly seriesConfig: ExternalHistogramConfig<T>;

  constructor(
    config: ExternalHistogramConfig<T>,
    private readonly readSeries: () => Promise<Array<HistogramSeries<T>>>,
  ) {
    super({ name: config.name, help: config.help, labelNames: [...config.labelNames], buckets: [...config.buckets], registers: config.registers });
    this.seriesConfig = config;
  }

  async getForPromString(): Promise<{ name: string; help: string; type: "histogram"; aggregator: "sum"; values: HistogramSample[] }> {
    const { name, help, buckets } = this.seriesConfig;
    const values: HistogramSample[] = [];
    for (const s of await this.readSeries()) {
      const sharedLabels: Record<string, string> = s.labels;
      const sample = (suffix: string, labels: HistogramSample["labels"], value: number) =>
        values.push({ metricName: `${name}_${suffix}`, labels, sharedLabels, value });
      buckets.forEach((le, i) => sample("bucket", { le }, s.buckets[i] ?? 0));
      sample("bucket", { le: "+Inf" }, s.count);
      sample("sum", {}, s.sum);
      sample("count", {}, s.count);
    }
    return { name, help, type: "histogram", aggregator: "sum", values };
  }
}
