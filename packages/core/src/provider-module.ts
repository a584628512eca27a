/**
 * The contract every provider module fulfils (types only). A provider's whole protocol lives in
 * its package as one `ProviderModule`: its configuration fragment, what the ingress does with a
 * raw request, what a worker does with the queued envelope, what is sensitive in its payloads,
 * and the signed requests the simulator and the tests send. The registry
 * (`@payhooks/providers`) lists the modules; the ingress, the worker, the config loader, the
 * redaction and the CLI loop over it and know no provider by name.
 */
import type { z } from "zod";
import type { Envelope } from "./envelope";
import type { ApplyResult, Ledger, OrderInput } from "./ledger";
import type { Logger } from "./logger";
import type { ProviderId } from "./provider";
import type { RedisConnection } from "./redis";

/** What one webhook request came to, as `payhooks_webhook_requests_total{outcome}` counts it. */
export const REQUEST_OUTCOMES = ["accepted", "duplicate", "rejected_signature", "rejected_payload", "unavailable"] as const;
export type RequestOutcome = (typeof REQUEST_OUTCOMES)[number];

// ---------------------------------------------------------------------------------------------
// Configuration

/**
 * A module's slice of the environment. `schema` names its variables (zod; empty strings are
 * unset before it runs); `refine` checks what spans several of them; `enabled` says whether the
 * ingress serves the provider (else every route answers `notConfigured`); `secrets` names the
 * variables whose values must never be shown or logged.
 */
export type ConfigPart<S extends z.ZodRawShape = z.ZodRawShape, E extends ConfigOf<S> = ConfigOf<S>> = {
  schema: z.ZodObject<S>;
  secrets: readonly (keyof S & string)[];
  /** a type guard: what it checks is what `setup` may rely on (the secrets present), with no `!` */
  enabled(config: ConfigOf<S>): config is E;
  refine?(config: ConfigOf<S>, issue: (variable: keyof S & string, message: string) => void): void;
};

// ---------------------------------------------------------------------------------------------
// Ingress

/** A webhook request as the generic pipeline hands it over: the exact bytes, nothing parsed. */
export type WebhookRequest = {
  method: string;
  /** the route's path as declared (`/webhooks/click/prepare`), without the query */
  path: string;
  /** the query string without "?" ("" when none) */
  query: string;
  rawBody: Buffer;
  /** lower-cased names, first value of repeated headers */
  headers: Readonly<Record<string, string | undefined>>;
  /** the caller's address as Express sees it under TRUST_PROXY (IPv4-mapped IPv6 unwrapped) */
  ip: string | null;
  /** ms since epoch, the ingress's clock */
  now: number;
};

/** An answer in the provider's own dialect. */
export type WebhookReply = {
  status: number;
  contentType: string;
  body: string;
  headers?: Readonly<Record<string, string>>;
  /** what the request came to, when the status alone does not tell (Payme answers everything 200) */
  outcome?: RequestOutcome;
};

/** What an accepted request puts on the provider's queue; the pipeline adds provider and receivedAt. */
export type QueuedDelivery = Omit<Envelope, "provider" | "deliveryId" | "receivedAt" | "replyBy">;

export type IngressDecision =
  /** refused, or answered by the ingress itself (a browser page, a test ping, ChangePassword) */
  | { kind: "reply"; reply: WebhookReply }
  /** asynchronous: enqueue under `jobId` (a redelivery carries the same id), then answer `reply` */
  | { kind: "enqueue"; jobId: string; jobName: string; delivery: QueuedDelivery; reply: WebhookReply }
  /**
   * request–reply: enqueue a call and answer with what a worker returned, or — when none answered
   * within the module's timeout, Redis refused the job or the worker failed it — `answer(null)`
   */
  | { kind: "call"; jobName: string; delivery: QueuedDelivery; answer(result: unknown | null): WebhookReply };

export type RouteSpec = {
  /** the HTTP methods the route takes; any other is answered `methodNotAllowed` */
  methods: readonly ("GET" | "POST" | "HEAD")[];
  path: string;
  /** false for routes that are no provider traffic (a payer's browser): not counted. @defaultValue true */
  counted?: boolean;
};

/** What a module's ingress part is given once, at start-up. */
export type IngressContext<C> = {
  config: C;
  /** the producer connection (no offline queue, short command timeout) */
  redis: RedisConnection;
  /** QUEUE_PREFIX, hash-tagged against a Redis Cluster */
  prefix: string;
  logger: Logger;
};

export type IngressPart<C, S, E extends C = C> = {
  routes: readonly RouteSpec[];
  /** request–reply providers get a QueueEvents listener and answer from the worker's return value */
  requestReply?: { timeoutMs(config: C): number };
  /** per-process state built from the configuration of an enabled provider (key stores, allow-lists) */
  setup(ctx: IngressContext<E>): S;
  accept(request: WebhookRequest, state: S): IngressDecision | Promise<IngressDecision>;
  /**
   * Answers the pipeline gives in the provider's dialect: the provider is not configured; the
   * body could not be read (`status` 413 too large, 415 bad encoding, 400 aborted); a method the
   * route does not take; Redis did not confirm an asynchronous job (a retryable failure).
   */
  refusals: {
    notConfigured(request: WebhookRequest): WebhookReply;
    badBody(request: Omit<WebhookRequest, "rawBody">, status: number): WebhookReply;
    methodNotAllowed(request: WebhookRequest): WebhookReply;
    unavailable(request: WebhookRequest): WebhookReply;
  };
};

// ---------------------------------------------------------------------------------------------
// Worker

/** What `Ledger.applyPayment` takes: the payment, the order it names, and its state machine. */
export type PaymentChange = Parameters<Ledger["applyPayment"]>[0];

/** The ledger change applied and the PaymentEvents it sent (their ids). */
export type AppliedChange = { result: ApplyResult; events: string[] };

/** A notification's job result, as the job records it and the job index files it. */
export type NotificationResult = {
  outcome: "applied" | "ignored";
  reason?: string;
  paymentId?: string;
  orderId: string | null;
  events: string[];
};

/** A request–reply job's result: the reply the ingress turns into the answer. */
export type CallResult =
  | { reply: unknown; outcome: "applied" | "ignored" | "read"; events: string[]; orderId: string | null }
  /** picked up after the ingress stopped waiting: not acted on, the provider has been told to retry */
  | { late: true };

export type WorkerContext<C> = {
  config: C;
  ledger: Ledger;
  /** business clock (CLOCK_OFFSET_MS applies): times a provider's state machine records */
  clock(): number;
  /** applies a change through the ledger's compare-and-set, then sends the payment's events */
  apply(change: PaymentChange): Promise<AppliedChange>;
};

export type WorkerPart<C> =
  | {
      kind: "notification";
      /**
       * The change a notification asks for, or why it changes nothing. Throws
       * PayloadValidationError (or MoneyError) for what it cannot read: the job is quarantined.
       */
      interpret(envelope: Envelope, config: C): PaymentChange | { ignore: string };
    }
  | {
      kind: "request-reply";
      /** answers one call; the lane has already refused a call that came after `replyBy` */
      answer(envelope: Envelope, ctx: WorkerContext<C>): Promise<CallResult>;
    };

// ---------------------------------------------------------------------------------------------
// Simulator

/** One request a scenario sends, already signed. */
export type SimulatedRequest = {
  /** what the provider does in this step, e.g. `CreateTransaction` or `PARTIALLY_FILLED` */
  name: string;
  /** @defaultValue POST */
  method?: "POST" | "GET";
  /** the route, e.g. `/webhooks/payram`; a GET notice carries its query here */
  path: string;
  headers: Readonly<Record<string, string>>;
  body: string;
  /** the request for people, with no secret in it (`Basic Paycom:***`) */
  summary: string;
  /** what the provider expects to hear, in words */
  expected: string;
  /** whether the answer (parsed when it is JSON, else the text) is what the provider expects */
  accept(status: number, answer: unknown): boolean;
  /** why such an answer may have come, for the report (a refused secret, an unknown order) */
  hint?(status: number, answer: unknown): string | undefined;
  /**
   * An asynchronous notice: after it is accepted the simulator waits until the order shows this
   * payment (in this provider status), as a provider's next notice would come after it.
   */
  settles?: { paymentId: string; providerStatus?: string };
};

/** The order a scenario plays against. */
export type SimulatedOrder = {
  orderId: string;
  /** integer minor units of `currency` */
  amount: number;
  currency: string;
  refundable: boolean;
  references: Partial<Record<ProviderId, string>>;
  /** `created` through the admin API, `existing` as read from it, `assumed` without the admin API */
  source: "created" | "existing" | "assumed";
};

export type ScenarioContext<C> = {
  config: C;
  order: SimulatedOrder;
  /** ms since epoch: the simulator's clock, for the times a request carries */
  now(): number;
  /**
   * Sends one request. `ok` when it was answered as the provider expects (else the scenario
   * should stop); `answer` is the body, parsed when it is JSON, so a later step can build on it.
   */
  send(request: SimulatedRequest): Promise<{ ok: boolean; status: number; answer: unknown }>;
  /** a line the report shows (what is not simulated, why a step was skipped) */
  note(line: string): void;
};

export type Scenario<C> = {
  /** the line `payhooks simulate --help` shows */
  description: string;
  /** a variable the scenario cannot be signed without, and why; null when all are there */
  missing?(config: C): { variable: string; why: string } | null;
  run(ctx: ScenarioContext<C>): Promise<void>;
};

export type SimulatorPart<C> = {
  /** the order a scenario creates through the admin API: realistic, in the provider's own currency */
  order(config: C, scenario: string): OrderInput;
  /** order ids this provider can name: `numeric` when it names orders by a number (RoboKassa's InvId) */
  orderIds?(config: C): "numeric" | "any";
  /** a variable every scenario needs (checked before anything is sent), else null */
  missing(config: C): { variable: string; why: string } | null;
  scenarios: Readonly<Record<string, Scenario<C>>>;
};

// ---------------------------------------------------------------------------------------------
// The module

/** The parsed variables of a module's configuration fragment. */
export type ConfigOf<S extends z.ZodRawShape> = z.infer<z.ZodObject<S>>;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a registry holds modules of every shape
export type ProviderModule<S extends z.ZodRawShape = any, St = any, E extends ConfigOf<S> = ConfigOf<S>> = {
  id: ProviderId;
  config: 0 extends 1 & S ? ConfigPart<any, any> : ConfigPart<S, E>; // eslint-disable-line @typescript-eslint/no-explicit-any
  ingress: IngressPart<ModuleConfig<S>, St, 0 extends 1 & S ? any : E>; // eslint-disable-line @typescript-eslint/no-explicit-any
  worker: WorkerPart<ModuleConfig<S>>;
  /**
   * Payload fields (keys, anywhere in the body) that hold personal data or secrets beyond the
   * generic ones (passwords, e-mails, cards …): masked wherever job payloads are shown (the
   * dashboard, the CLI); payloads are never logged.
   */
  sensitiveFields: readonly string[];
  /** lower-cased request headers that carry a secret or signature: redacted from logs */
  secretHeaders: readonly string[];
  simulator: SimulatorPart<ModuleConfig<S>>;
};

/** A module's parsed configuration; `any` for the registry's list of modules of every shape. */
type ModuleConfig<S extends z.ZodRawShape> = 0 extends 1 & S ? any : ConfigOf<S>; // eslint-disable-line @typescript-eslint/no-explicit-any
