import { activityFromHashes, activityMinute, type ActivityWindow } from "@payhooks/core";
import { CHART, barHeight, displayReason, failureHref, formatAge, renderChart, renderOverview, type OverviewData } from "./overview";

const NOW = Date.UTC(2026, 10, 30, 9, 21, 30);
const FIRST = activityMinute(NOW) - 59;

/** An hour with `hashes` at the given minutes from the start (0 = oldest), the rest empty. */
function hour(at: Record<number, Record<string, string>>): ActivityWindow {
  return activityFromHashes(Array.from({ length: 60 }, (_, i) => at[i] ?? null), FIRST);
}

function data(over: Partial<OverviewData> = {}): OverviewData {
  return {
    now: NOW,
    activity: hour({}),
    queues: [],
    deliveries: { failedAttempts: 0, exhausted: 0, delivered: 0 },
    failures: [],
    merchantFailedJobs: 0,
    ...over,
  };
}

/** Each <rect>'s height, for the series drawn in `color`. */
function rects(svg: string): Array<{ x: number; y: number; height: number; fill: string; title: string }> {
  return [...svg.matchAll(/<rect x="(\d+)" y="(\d+)" width="\d+" height="(\d+)" fill="([^"]+)"><title>([^<]*)<\/title><\/rect>/g)].map((m) => ({
    x: Number(m[1]),
    y: Number(m[2]),
    height: Number(m[3]),
    fill: m[4]!,
    title: m[5]!,
  }));
}

describe("the activity chart", () => {
  it("scales the busiest minute to the full height, stacks the outcomes, and draws nothing for empty minutes", () => {
    const window = hour({ 10: { "payram|accepted": "6", "payram|refused": "2" }, 59: { "payram|accepted": "2", "payram|quarantined": "2" } });
    const payram = window.providers.find((p) => p.provider === "payram")!;
    const svg = renderChart(payram, window.from).value;
    const drawn = rects(svg);
    expect(drawn).toHaveLength(4);
    const [accepted10, refused10, accepted59, quarantined59] = drawn;
    // minute 10: 8 in all = the maximum: its stack fills the height, bottom to top
    expect(accepted10).toMatchObject({ x: 100, height: 60, y: CHART.height - 60, fill: "#1a7f37" });
    expect(refused10).toMatchObject({ x: 100, height: 20, y: 0 });
    // minute 59: 4 in all = half the height
    expect(accepted59!.height + quarantined59!.height).toBe(CHART.height / 2);
    expect(quarantined59!.fill).toBe("#cf222e");
    expect(accepted59!.title).toBe("09:21 UTC: 2 accepted");
    expect(svg).toContain(`viewBox="0 0 600 ${CHART.height}"`);
    // It reads without the picture.
    expect(svg).toMatch(/<svg role="img" aria-labelledby="chart-payram-t chart-payram-d"/);
    expect(svg).toContain("<title id=\"chart-payram-t\">Payram: deliveries per minute, last 60 minutes</title>");
    expect(svg).toContain("8 accepted, 0 duplicate, 2 refused, 2 quarantined in the last 60 minutes; busiest minute 08:32 UTC with 8.");
  });

  it("keeps a single delivery visible beside a busy minute, and an empty series flat", () => {
    expect(barHeight(1, 10_000)).toBe(1);
    expect(barHeight(0, 10)).toBe(0);
    expect(barHeight(5, 0)).toBe(0);
    expect(barHeight(10, 10)).toBe(CHART.height);
    const idle = hour({}).providers[0]!;
    const svg = renderChart(idle, hour({}).from).value;
    expect(rects(svg)).toEqual([]);
    expect(svg).toContain("No deliveries in the last hour.");
  });
});

describe("the overview page", () => {
  it("gives each active provider a chart with its totals in words, and names the idle ones once", () => {
    const page = renderOverview(
      data({ activity: hour({ 3: { "payske|accepted": "3", "payske|duplicate": "1" }, 40: { "payske|refused": "2", "stripe|quarantined": "1" } }) }),
    ).value;
    const cards = [...page.matchAll(/data-provider="(\w+)"/g)].map((m) => m[1]);
    expect(cards).toEqual(["payske", "stripe"]);
    expect(page).toMatch(/<strong>3<\/strong> accepted · 1 duplicate · <span class="warn">2 refused<\/span> · <span class="">0 quarantined<\/span>/);
    expect(page).toMatch(/<strong>0<\/strong> accepted · 0 duplicate · <span class="">0 refused<\/span> · <span class="bad">1 quarantined<\/span>/);
    expect(page).toContain("No deliveries in the last hour from: Payme, Payram, RoboKassa, Click.");
  });

  it("says so when the hour is empty, and when a section could not be read", () => {
    const empty = renderOverview(data()).value;
    expect(empty).not.toContain("<svg");
    expect(empty).toContain("No deliveries in the last hour from any provider.");
    const down = renderOverview(data({ activity: null, queues: null, failures: null, deliveries: null, merchantFailedJobs: null })).value;
    expect(down).toContain("Could not read the activity counters from Redis.");
    expect(down).toContain("Could not read the queues from Redis.");
    expect(down).toContain("Could not read the failed jobs from Redis.");
    expect(down).toMatch(/<dt>Exhausted \(left failed\)<\/dt><dd class="">unknown<\/dd>/);
  });

  it("lists queue depths and the oldest waiting job's age", () => {
    const page = renderOverview(
      data({
        queues: [
          { name: "payram", counts: { waiting: 4, active: 1, delayed: 0, failed: 2 }, oldestWaitingAt: NOW - 125_000 },
          { name: "payme", counts: { waiting: 0, active: 0, delayed: 0, failed: 0 }, oldestWaitingAt: null },
        ],
      }),
    ).value;
    expect(page).toContain('<tr data-queue="payram"><th scope="row" class="mono">payram</th><td class="">4</td><td class="">1</td><td class="">0</td><td class="bad">2</td><td>2 min</td></tr>');
    expect(page).toContain('<tr data-queue="payme"><th scope="row" class="mono">payme</th><td class="">0</td><td class="">0</td><td class="">0</td><td class="">0</td><td><span class="muted">none</span></td></tr>');
  });

  it("escapes everything a job brings, and links a failure to its order, or else to a search for its job", () => {
    const page = renderOverview(
      data({
        queues: [{ name: "<q>", counts: { waiting: 0, active: 0, delayed: 0, failed: 1 }, oldestWaitingAt: null }],
        failures: [
          { queue: "merchant-webhooks", jobId: "evt_1", name: "merchant.deliver", failedAt: NOW - 3_000, attemptsMade: 15, reason: "HTTP 500 <script>alert(1)</script>", orderId: "order-1001" },
          { queue: "payram", jobId: 'payram-"x"&<y>', name: "payram.notification", failedAt: NOW - 7_200_000, attemptsMade: 1, reason: "quarantined: body", orderId: null },
        ],
      }),
    ).value;
    expect(page).not.toContain("<script>");
    expect(page).not.toContain("<q>");
    expect(page).toContain("HTTP 500 &lt;script&gt;alert(1)&lt;/script&gt;");
    expect(page).toContain('<a href="/console/orders/order-1001"><span class="mono">order-1001</span></a>');
    expect(page).toContain("payram-&quot;x&quot;&amp;&lt;y&gt;");
    expect(page).toContain('<a href="/console/search?q=payram-%22x%22%26%3Cy%3E">find job</a>');
    expect(page).toContain("3 s ago");
    expect(page).toContain("2 h ago");
    expect(page).toContain("15 attempts");
  });
});

describe("what a failure shows", () => {
  it("masks an e-mail address or a card number in the reason, and cuts it short", () => {
    expect(displayReason("merchant answered 500")).toBe("merchant answered 500");
    expect(displayReason("customer jane.doe@example.com is unknown")).toBe("[redacted]");
    expect(displayReason("quarantined: card 4111111111111111, expiry bad")).toBe("quarantined: card [redacted], expiry bad");
    expect(displayReason("x".repeat(500))).toHaveLength(160);
    expect(displayReason("x".repeat(500)).endsWith("…")).toBe(true);
  });

  it("links an order id safely, encoded", () => {
    expect(failureHref({ orderId: "a.b~c", jobId: "j" })).toBe("/console/orders/a.b~c");
    expect(failureHref({ orderId: null, jobId: "payske-evt 1" })).toBe("/console/search?q=payske-evt%201");
  });

  it("writes ages the way an operator reads them", () => {
    expect([formatAge(0), formatAge(59_999), formatAge(60_000), formatAge(3_660_000), formatAge(7_200_000), formatAge(50 * 3_600_000)]).toEqual([
      "0 s",
      "59 s",
      "1 min",
      "1 h 1 min",
      "2 h",
      "2 d 2 h",
    ]);
  });
});
