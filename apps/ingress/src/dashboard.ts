import { createBullBoard } from "@bull-board/api";
import { appRoutes } from "@bull-board/api/dist/routes.js";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { ExpressAdapter } from "@bull-board/express";
import { Queue } from "bullmq";
import { Router, type RequestHandler } from "express";
import { QUEUES, createRedis, redactForDisplay, type Logger } from "@payhooks/core";
import { SENSITIVE_FIELDS } from "@payhooks/providers";

/** The keys the provider modules name as sensitive, masked along with the generic ones. */
const SENSITIVE_KEYS: ReadonlySet<string> = new Set(SENSITIVE_FIELDS);

/** Where the admin app serves the dashboard; every request under it needs the admin token (Bearer or Basic). */
export const DASHBOARD_PATH = "/admin/queues";

export type QueueKey = keyof typeof QUEUES;

type BoardServerAdapter = Parameters<typeof createBullBoard>[0]["serverAdapter"];

export type DashboardDeps = {
  /**
   * Queues this process already holds (the ingress' provider queues on its producer connection),
   * reused as they are and never closed here. Every queue of `QUEUES` missing from this map is
   * opened by the dashboard on its own connection to `redisUrl`, and closed by `close()`.
   */
  queues: Partial<Record<QueueKey, Queue>>;
  redisUrl: string;
  prefix: string;
  logger: Logger;
  /** @defaultValue {@link DASHBOARD_PATH} */
  basePath?: string;
};

export type Dashboard = {
  basePath: string;
  /** Mount it at `basePath` behind the admin auth: `app.use(dashboard.basePath, dashboard.router)`. */
  router: RequestHandler;
  /** Closes the queues and the connection the dashboard opened itself. */
  close(): Promise<void>;
};

/** What cannot be part of an address: whitespace, '@', quotes, angle brackets, parentheses, brackets. */
const NOT_IN_ADDRESS = /[\s@"<>()[\]]/;
/** From `lastIndex`, the run of characters an address can hold (sticky, one pass, no backtracking). */
const ADDRESS_RUN = /[^\s@"<>()[\]]*/y;
/** Inside a domain run: a character, a dot, two letters (fixed length, so constant work per position). */
const DOMAIN_WITH_TLD = /[^]\.[A-Za-z]{2}/;

/**
 * An address anywhere in a string value: personal data whatever key it sits under. It finds
 * what `/[^\s@"<>()[\]]+@[^\s@"<>()[\]]+\.[A-Za-z]{2,}/` would, in linear time: that regex
 * (unanchored, two overlapping `+` runs) tried every start and backtracked over the whole run,
 * so a long string without whitespace took quadratic time (dashboard.test.ts has the figures).
 * Here each '@' is found with indexOf; it needs one address character right before it, and the
 * run of address characters after it (which ends at the next '@', so the runs never overlap)
 * must hold "x.tld". Every character is looked at a bounded number of times.
 */
function containsEmail(value: string): boolean {
  for (let at = value.indexOf("@"); at !== -1; at = value.indexOf("@", at + 1)) {
    if (at === 0 || NOT_IN_ADDRESS.test(value[at - 1]!)) continue;
    ADDRESS_RUN.lastIndex = at + 1;
    const domain = ADDRESS_RUN.exec(value)![0];
    if (DOMAIN_WITH_TLD.test(domain)) return true;
  }
  return false;
}
/** A run of digits inside text, single spaces or dashes allowed between them (linear: no nested choice). */
const DIGIT_RUN = /\d(?:[ -]?\d)*/g;

/**
 * Whether consecutive whole groups of `run` (its digits between spaces or dashes) make 13–19
 * digits that pass the Luhn check: a card number written whole or in groups, with an expiry, a
 * CVV or a quantity written next to it. Never a part of a group: a longer number is not a card
 * number with digits around it.
 */
function holdsCardNumber(run: string): boolean {
  const digits: number[] = [];
  /** where each group starts in `digits`, and where the last ends */
  const bounds: number[] = [0];
  for (let i = 0; i < run.length; i++) {
    const c = run.charCodeAt(i);
    if (c >= 48 && c <= 57) digits.push(c - 48);
    else bounds.push(digits.length);
  }
  bounds.push(digits.length);
  for (let g = 0; g < bounds.length - 1; g++) {
    for (let h = g + 1; h < bounds.length && bounds[h]! - bounds[g]! <= 19; h++) {
      if (bounds[h]! - bounds[g]! >= 13 && luhnValidDigits(digits, bounds[g]!, bounds[h]!)) return true;
    }
  }
  return false;
}

/** The Luhn check over `digits[from..to)`. */
function luhnValidDigits(digits: readonly number[], from: number, to: number): boolean {
  let sum = 0;
  for (let i = 0; i < to - from; i++) {
    let d = digits[to - 1 - i]!;
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 === 0;
}

/**
 * `text` with every run of digits that holds a Luhn-valid card number (an error message, a
 * sentence; the number spaced, dashed, or written next to an expiry or a quantity) replaced. A
 * 13-digit millisecond timestamp passes Luhn one time in ten and is then masked too.
 */
function maskCardNumbersIn(text: string): string {
  let digits = 0;
  for (let i = 0; i < text.length && digits < 13; i++) if (text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) digits++;
  if (digits < 13) return text;
  return text.replace(DIGIT_RUN, (run) => {
    const only = run.replace(/[ -]/g, "");
    if (only.length < 13) return run;
    return holdsCardNumber(run) ? "[redacted]" : run;
  });
}

function maskValues(value: unknown): unknown {
  if (typeof value === "string") {
    if (containsEmail(value)) return "[redacted]";
    // A card number alone is "[redacted]" whole; inside text, in its place.
    return maskCardNumbersIn(value);
  }
  if (Array.isArray(value)) return value.map(maskValues);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskValues(v)]));
  }
  return value;
}

/**
 * What the dashboard shows of a job's data, return value and progress. BullMQ keeps them in
 * clear text, and an envelope's `rawBody` repeats every field of the payload, so:
 * - by key (`redactForDisplay`, the rules the CLI uses too): `rawBody` becomes its length only;
 *   any key that looks like a password, secret, token, signature (RoboKassa's `SignatureValue`),
 *   authorization header, API key, e-mail (`EMail`, `customer_email`, `receipt_email`), phone,
 *   card, address, account (Payme's `params.account`), or Payske's `billing_details`,
 *   `customer_details` and `shipping` becomes "[redacted]";
 * - by value, under any key: a string holding an e-mail address, or a Luhn-valid 13–19 digit
 *   card number, becomes "[redacted]"; a card number inside a longer string (an error message)
 *   is replaced where it stands.
 * It returns a copy; the job itself is untouched.
 */
export function maskJobField(value: unknown): unknown {
  return maskValues(redactForDisplay(value, "", SENSITIVE_KEYS));
}

type BoardParams = Record<string, string | undefined>;
/** A route of bull-board's API table (`@bull-board/api/dist/routes.js`), as it spells it. */
type AllowedAction = { method: string; route: string; when?: (params: BoardParams) => boolean };

/**
 * Everything the dashboard may do to the queues beyond showing pages and static files. The
 * board shows masked data, so "edit data" or "duplicate" would write "[redacted]" back into a
 * real job; "add" would put an envelope on a provider queue that no signature ever vouched for;
 * cleaning, removing, emptying or obliterating would drop webhooks that providers were already
 * told are stored (README, guarantee 1); pausing, rate limits and schedulers are operations, not
 * an operator's page. So the list is of what is safe — reading, retrying, promoting — and any
 * other route bull-board has, or adds in an upgrade, is refused.
 */
export const ALLOWED_ACTIONS: readonly AllowedAction[] = [
  // Reading: the board's own API behind its pages, including a job's logs.
  { method: "get", route: "/api/redis/stats" },
  { method: "get", route: "/api/queues" },
  { method: "get", route: "/api/job-schedulers" },
  { method: "get", route: "/api/queues/:queueName/metrics" },
  { method: "get", route: "/api/queues/:queueName/default-job-options" },
  { method: "get", route: "/api/queues/:queueName/workers" },
  { method: "get", route: "/api/queues/:queueName/rate-limit" },
  { method: "get", route: "/api/queues/:queueName/job-data-schema" },
  { method: "get", route: "/api/queues/:queueName/:jobId/logs" },
  { method: "get", route: "/api/queues/:queueName/:jobId/flow" },
  { method: "get", route: "/api/queues/:queueName/:jobId" },
  // Retrying: one job, or every failed job of a queue (not every completed one).
  { method: "put", route: "/api/queues/:queueName/:jobId/retry" },
  { method: "put", route: "/api/queues/:queueName/retry/:queueStatus", when: (params) => params["queueStatus"] === "failed" },
  // Promoting: one delayed job, or every delayed job of a queue.
  { method: "put", route: "/api/queues/:queueName/:jobId/promote" },
  { method: "put", route: "/api/queues/:queueName/promote" },
];

const refuse: RequestHandler = (_req, res) => void res.status(403).json({ error: "action_not_allowed" });

/**
 * Sits in front of the board. It registers bull-board's own API table, in bull-board's order,
 * on an Express router like the one the board registers it on, so a request reaches here the
 * same route it would reach there (e.g. `PUT …/clean/retry` is "clean all", not "retry the job
 * named clean"); an allowed one leaves this router (`next("router")`) for the board, any other
 * one is answered 403. Outside the table only GET and HEAD (pages, static files) pass.
 */
function createActionGuard(): RequestHandler {
  const guard = Router();
  for (const route of appRoutes.api) {
    const methods = ([] as string[]).concat(route.method);
    const paths = ([] as string[]).concat(route.route);
    for (const method of methods) {
      for (const path of paths) {
        const allowed = ALLOWED_ACTIONS.find((a) => a.method === method && a.route === path);
        (guard as unknown as Record<string, (path: string, handler: RequestHandler) => void>)[method]!(path, (req, res, next) =>
          allowed && (!allowed.when || allowed.when(req.params as BoardParams)) ? next("router") : refuse(req, res, next),
        );
      }
    }
  }
  guard.use("/api", refuse);
  guard.use((req, res, next) => (req.method === "GET" || req.method === "HEAD" ? next() : refuse(req, res, next)));
  return guard;
}

/**
 * The bull-board dashboard over every queue of `QUEUES`, job data masked, only the actions of
 * {@link ALLOWED_ACTIONS} allowed (403 `{"error":"action_not_allowed"}` otherwise). It does no
 * authentication of its own: the caller mounts `router` behind the admin token check.
 */
export function createDashboard(deps: DashboardDeps): Dashboard {
  const basePath = deps.basePath ?? DASHBOARD_PATH;
  const missing = (Object.keys(QUEUES) as QueueKey[]).filter((key) => !deps.queues[key]);
  // Producer options: a page read while Redis is down fails within a second instead of hanging.
  const connection = missing.length > 0 ? createRedis(deps.redisUrl, "producer", "payhooks-dashboard") : null;
  connection?.on("error", (err) => deps.logger.warn({ err: { message: err.message } }, "dashboard redis connection error"));
  const own: Queue[] = [];
  const queues = (Object.keys(QUEUES) as QueueKey[]).map((key) => {
    const existing = deps.queues[key];
    if (existing) return existing;
    const queue = new Queue(QUEUES[key], { connection: connection!, prefix: deps.prefix });
    queue.on("error", (err) => deps.logger.warn({ err: { message: err.message }, queue: QUEUES[key] }, "dashboard queue error"));
    own.push(queue);
    return queue;
  });

  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(basePath);
  createBullBoard({
    queues: queues.map((queue) => {
      const adapter = new BullMQAdapter(queue);
      adapter.setFormatter("data", maskJobField);
      adapter.setFormatter("returnValue", maskJobField);
      adapter.setFormatter("progress", maskJobField);
      return adapter;
    }),
    // @bull-board/express 9.10.1 pins its own copy of @bull-board/api 9.10.1, whose BaseAdapter
    // has a private field and so is a distinct type from the root 9.10.2 one; at runtime the
    // adapter only stores and calls what createBullBoard hands it, so the cast is sound.
    serverAdapter: serverAdapter as unknown as BoardServerAdapter,
    options: {
      uiConfig: { boardTitle: "payhooks" },
    },
  });

  return {
    basePath,
    router: Router().use(createActionGuard(), serverAdapter.getRouter() as RequestHandler),
    close: async () => {
      await Promise.all(own.map((q) => q.close()));
      await connection?.quit().catch(() => undefined);
    },
  };
}
