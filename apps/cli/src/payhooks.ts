/**
 * `payhooks` — the operator's command: see what is queued and what failed, why, and put it right
 * (retry, replay) without touching Redis by hand; and play provider traffic at an ingress.
 * Reads REDIS_URL and QUEUE_PREFIX like the services. Exit codes: 0 done, 1 unknown job or a
 * refused action, 2 bad usage, 3 Redis unreachable.
 */
import { Command, CommanderError, Option } from "commander";
import { ConfigError, createRedis, keyPrefix, type RedisConnection } from "@payhooks/core";
import { CliError, EXIT, QUEUE_NAMES, STATES, createOps, parseSince, type Ops, type State } from "./ops";
import { SimulationError, formatReport, scenariosOf, simulate } from "./simulate";
import { PROVIDERS, loadConfig } from "@payhooks/providers";

const REDIS_WAIT_MS = 3_000;

/** Columns padded to their widest cell: readable on a terminal, no colours to strip. */
function table(rows: Array<Record<string, unknown>>): string {
  if (rows.length === 0) return "(none)";
  const columns = Object.keys(rows[0]!);
  const cell = (v: unknown) => (v === null || v === undefined ? "-" : String(v).replace(/\s+/g, " ").slice(0, 80));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(columns), line(widths.map((w) => "-".repeat(w))), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join("\n");
}

function print(json: boolean, value: unknown, human: () => string): void {
  process.stdout.write(`${json ? JSON.stringify(value, null, 2) : human()}\n`);
}

async function connect(): Promise<{ redis: RedisConnection; ops: Ops }> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(`invalid configuration: ${err.message.replace(/\n/g, "; ")}`, EXIT.usage);
    throw err;
  }
  const redis = createRedis(config.REDIS_URL, "worker", "payhooks-cli");
  redis.on("error", () => undefined);
  const ready = await new Promise<boolean>((resolve) => {
    if (redis.status === "ready") return resolve(true);
    const timer = setTimeout(() => resolve(false), REDIS_WAIT_MS);
    redis.once("ready", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  if (!ready) {
    redis.disconnect();
    throw new CliError(`Redis at ${config.REDIS_URL.replace(/\/\/[^@]*@/, "//***@")} is unreachable`, EXIT.redis);
  }
  return { redis, ops: createOps({ redis, prefix: keyPrefix(config) }) };
}

/** Runs one command with a connection, closing it whatever happens. */
function withOps(run: (ops: Ops) => Promise<void>): () => Promise<void> {
  return async () => {
    const { redis, ops } = await connect();
    try {
      await run(ops);
    } finally {
      await ops.close();
      redis.disconnect();
    }
  };
}


export function buildProgram(): Command {
  const program = new Command("payhooks")
    .description("Inspect and fix payhooks queues; play provider traffic at an ingress.")
    .showHelpAfterError()
    .exitOverride();
  const json = new Option("--json", "print JSON instead of a table");

  program
    .command("status")
    .description("per queue: waiting, active, delayed, failed, completed, oldest waiting job's age, workers connected")
    .addOption(json)
    .action((opts: { json?: boolean }) =>
      withOps(async (ops) => {
        const rows = await ops.status();
        print(!!opts.json, rows, () => table(rows.map((r) => ({ ...r, oldestWaitingSeconds: r.oldestWaitingSeconds ?? "-" }))));
      })(),
    );

  program
    .command("jobs")
    .description("list jobs of a queue, newest first (failed ones unless --state says otherwise)")
    .argument("<queue>", `one of ${QUEUE_NAMES.join(", ")}`)
    .addOption(new Option("--state <state>", "which jobs").choices([...STATES]))
    .option("--provider <provider>", "only this provider's jobs (the event queues carry every provider)")
    .option("--order <orderId>", "only this order's jobs (read from the job index, no scan)")
    .option("--since <duration>", "only jobs created within, e.g. 1h, 30m, 7d")
    .option("--limit <n>", "at most this many", "50")
    .addOption(json)
    .action((queue: string, opts: { state?: State; provider?: string; order?: string; since?: string; limit: string; json?: boolean }) =>
      withOps(async (ops) => {
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1) throw new CliError("--limit must be a positive whole number", EXIT.usage);
        const rows = await ops.jobs({
          queue: queue,
          limit,
          ...(opts.state ? { state: opts.state } : {}),
          ...(opts.provider ? { provider: opts.provider } : {}),
          ...(opts.order ? { order: opts.order } : {}),
          ...(opts.since ? { since: parseSince(opts.since) } : {}),
        });
        print(!!opts.json, rows, () => table(rows.map(({ queue: _q, ...r }) => r)));
      })(),
    );

  program
    .command("deliveries")
    .description("an order's merchant delivery attempts, oldest first, in line or by a job (read from the job index, no scan)")
    .argument("<orderId>")
    .addOption(json)
    .action((orderId: string, opts: { json?: boolean }) =>
      withOps(async (ops) => {
        const rows = await ops.deliveries(orderId);
        print(!!opts.json, rows, () => table(rows.map((r) => ({ ...r }))));
      })(),
    );

  program
    .command("show")
    .description("one job in full: data (secrets and personal data redacted), each attempt's error, the ledger entry it touched")
    .argument("<queue>")
    .argument("<jobId>")
    .addOption(json)
    .action((queue: string, jobId: string, opts: { json?: boolean }) =>
      withOps(async (ops) => {
        const shown = await ops.show(queue, jobId);
        print(!!opts.json, shown, () => JSON.stringify(shown, null, 2));
      })(),
    );

  program
    .command("retry")
    .description(
      "re-run a failed job or run a delayed one now, or do so for every such job of a queue; processors are idempotent, so nothing is applied twice",
    )
    .argument("<queue>")
    .argument("[jobId]")
    .option("--all", "every failed and every delayed job of the queue")
    .option("--all-failed", "every failed job of the queue")
    .option("--since <duration>", "with --all or --all-failed: only jobs created within, e.g. 1h")
    .option("--dry-run", "with --all or --all-failed: say what would run, run nothing")
    .addOption(json)
    .action(
      (queue: string, jobId: string | undefined, opts: { all?: boolean; allFailed?: boolean; since?: string; dryRun?: boolean; json?: boolean }) =>
        withOps(async (ops) => {
          const chosen = [!!jobId, !!opts.all, !!opts.allFailed].filter(Boolean).length;
          if (chosen !== 1) throw new CliError("give one of: a job id, --all, --all-failed", EXIT.usage);
          if (jobId) {
            const r = await ops.retry(queue, jobId);
            const what = r.was === "delayed" ? "running delayed job" : "retrying";
            return print(!!opts.json, r, () => `${what} ${r.id} (${queue}) now; attempts so far ${r.attempts}`);
          }
          const since = opts.since ? parseSince(opts.since) : undefined;
          const rows = await ops.retryAll(queue, opts.all ? ["failed", "delayed"] : ["failed"], since, !!opts.dryRun);
          const ran = rows.filter((r) => !r.skipped).length;
          const kind = opts.all ? "failed or delayed" : "failed";
          print(!!opts.json, { dryRun: !!opts.dryRun, jobs: rows }, () =>
            [
              opts.dryRun ? `would run ${rows.length} ${kind} job(s)` : `running ${ran} ${kind} job(s)${ran < rows.length ? `, ${rows.length - ran} skipped` : ""}`,
              table(rows.map((r) => ({ id: r.id, state: r.state, order: r.order, attempts: r.attempts, lastError: r.lastError, ...(opts.dryRun ? {} : { skipped: r.skipped ?? null }) }))),
            ].join("\n"),
          );
        })(),
    );

  program
    .command("replay")
    .description("run a completed job's data again through its processor and say what changed (normally nothing)")
    .argument("<queue>")
    .argument("<jobId>")
    .addOption(json)
    .action((queue: string, jobId: string, opts: { json?: boolean }) =>
      withOps(async (ops) => {
        const r = await ops.replay(queue, jobId);
        print(!!opts.json, r, () =>
          [
            `replayed ${jobId} as ${r.replayJobId}: ${r.state}`,
            r.error ? `error: ${r.error}` : `result: ${JSON.stringify(r.result)}`,
            r.ledgerChanged ? "the ledger entry changed" : "the ledger entry did not change",
          ].join("\n"),
        );
      })(),
    );

  const SCENARIOS = scenariosOf(PROVIDERS);
  const scenarioList = Object.entries(SCENARIOS)
    .map(([provider, scenarios]) => `  ${provider}: ${Object.keys(scenarios).join(", ")}`)
    .join("\n");
  program
    .command("simulate")
    .description("play correctly signed provider traffic at a running ingress, with the secrets from this environment")
    .argument("<provider>", Object.keys(SCENARIOS).join(" | "))
    .argument("<scenario>", "see the list below")
    .option("--url <url>", "the ingress", `http://localhost:${process.env["PORT"] || 3000}`)
    .option("--order <orderId>", "pay this existing order instead of creating one (creating needs ADMIN_TOKEN)")
    .addOption(json)
    .addHelpText("after", `\nScenarios:\n${scenarioList}`)
    .action(async (provider: string, scenario: string, opts: { url: string; order?: string; json?: boolean }) => {
      try {
        const report = await simulate({
          provider,
          scenario,
          url: opts.url,
          ...(opts.order ? { orderId: opts.order } : {}),
          providers: PROVIDERS,
          config: loadConfig(process.env),
        });
        print(!!opts.json, report, () => formatReport(report));
        if (!report.ok) throw new CliError("the ingress did not answer as the provider expects (see above)", EXIT.notFound);
      } catch (err) {
        if (err instanceof SimulationError) throw new CliError(err.message, EXIT.usage);
        if (err instanceof ConfigError) throw new CliError(`invalid configuration: ${err.message.replace(/\n/g, "; ")}`, EXIT.usage);
        throw err;
      }
    });

  return program;
}

/** Runs the CLI on `argv` (as process.argv) and resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version print and end with code 0; usage errors were already printed.
      return err.exitCode === 0 ? 0 : EXIT.usage;
    }
    if (err instanceof CliError) {
      process.stderr.write(`payhooks: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`payhooks: ${(err as Error).message}\n`);
    return 1;
  }
}

if (require.main === module) {
  void main(process.argv).then((code) => process.exit(code));
}
