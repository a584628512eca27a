export { AddressList, BaseConfigObject, Int, callerAllowed, SecretList, buildConfigSchema, loadBaseConfig, parseEnvironment, parseOrExit } from "./config";
export type { BaseConfig, ConfigFragment } from "./config";
export { constantTimeEqual, hmacSha256, sha256Hex } from "./crypto";
export { EnvelopeSchema } from "./envelope";
export type { Envelope } from "./envelope";
export { ConfigError, LedgerConflictError, MoneyError, PayhooksError, PayloadValidationError } from "./errors";
export { JOB_OPTIONS, LEDGER_COMPACTION_SCHEDULER, MAINTENANCE_QUEUE, QUEUES, jobIdFor, providerOfQueue } from "./jobs";
export {
  ACTIVITY_BUCKET_MS,
  ACTIVITY_OUTCOMES,
  ACTIVITY_RETENTION_S,
  activityField,
  activityFromHashes,
  activityKey,
  activityMinute,
  createActivityTally,
  parseActivityField,
  queueActivityWrites,
  readActivity,
} from "./activity";
export type { ActivityCounts, ActivityOutcome, ActivityTally, ActivityWindow, ProviderActivity } from "./activity";
export { ORDER_ID_PATTERN, OUTBOX_GRACE_MS, OrderInputSchema, createLedger } from "./ledger";
export type { ApplyResult, Ledger, OrderInput, OrderRecord, OrderView, PaymentDecision, PaymentRecord, PaymentView, ProviderEvent } from "./ledger";
export {
  EVENT_TYPE_FOR_STATUS,
  ORDER_STATUSES,
  PAYMENT_STATUSES,
  USD_STABLECOINS,
  countToward,
  deriveOrder,
  reportedType,
} from "./order-model";
export type { DerivedOrder, MismatchReason, OrderStatus, OrderTerms, PaymentFacts, PaymentStatus, Verdict } from "./order-model";
export { REDACT_PATHS, createLogger, redactPaths } from "./logger";
export type { LogLevel, Logger } from "./logger";
export {
  JOB_DURATION_BUCKETS_SECONDS,
  JOB_FAILURE_KINDS,
  JOB_STATUSES,
  MERCHANT_DELIVERY_OUTCOMES,
  durationBucket,
  readWorkerMetrics,
  addToWorkerMetrics,
  deliveryIncrement,
  observationIncrements,
  workerMetricsKey,
} from "./metrics-store";
export type {
  DurationSeries,
  JobFailureKind,
  JobObservation,
  JobStatus,
  MerchantDeliveryOutcome,
  WorkerMetricsSnapshot,
} from "./metrics-store";
export { DEFAULT_CURRENCY_EXPONENT, currencyExponent, formatMinorUnits, toMinorUnits } from "./money";
export { PAYMENT_EVENT_TYPES, PaymentEventSchema, PaymentEventTypeSchema } from "./payment-event";
export type { PaymentEvent, PaymentEventType } from "./payment-event";
export { PROVIDER_IDS } from "./provider";
export type { ProviderId, VerifyFailure, VerifyInput, VerifyResult } from "./provider";
export { clusterOptionsFor, createRedis, primaries, redisOptionsFor, redisOptionsFromUrl } from "./redis";
export type { Redis, RedisConnection, RedisRole } from "./redis";
export { findRedisServer, freePort, redisInline, startRedisServer } from "./redis-launcher";
export type { RedisServer, RedisServerOptions } from "./redis-launcher";
export { clusterUrl, hasHashTag, isClusterUrl, keyPrefix, parseClusterNodes, parseClusterUrl } from "./redis-target";
export type { ClusterNodeAddress, ClusterTarget } from "./redis-target";
export { createJobIndex } from "./job-index";
export type { DeliveryAttemptNote, IndexedJob, JobIndex, TimelineEntry, TimelineNote } from "./job-index";
export { redactForDisplay } from "./redact";
export { canBeJobId, delayedUntil, duplicateAdds, isFinalAttempt, isUnrecoverable, newestFailed, oldestWaitingAt, storedJobTimestamp } from "./compat/bullmq";
export { REQUEST_OUTCOMES } from "./provider-module";
export type {
  AppliedChange,
  CallResult,
  ConfigOf,
  ConfigPart,
  IngressContext,
  IngressDecision,
  IngressPart,
  NotificationResult,
  PaymentChange,
  ProviderModule,
  QueuedDelivery,
  RequestOutcome,
  RouteSpec,
  Scenario,
  ScenarioContext,
  SimulatedOrder,
  SimulatedRequest,
  SimulatorPart,
  WebhookReply,
  WebhookRequest,
  WorkerContext,
  WorkerPart,
} from "./provider-module";
export { MAX_JSON_DEPTH, authenticatedBody, parseJsonBody, withinDepth } from "./json-body";
export type { JsonBody } from "./json-body";
export { flatHeaders, keptHeaders } from "./headers";
export { JSON_REFUSALS, jsonReply, textReply } from "./replies";
