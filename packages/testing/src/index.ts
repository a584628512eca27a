export { findRedisServer, redisInline, removeRedisServer, startRedisServer } from "./redis-server";
export type { RedisServer, RedisServerOptions } from "./redis-server";
export { freePort, spawnNode, waitFor } from "./processes";
export type { NodeProcess } from "./processes";
export { INGRESS_MAIN, WORKER_MAIN, startIngress, startMerchantEndpoint, startWorker } from "./pipeline";
export type { ReceivedWebhook } from "./pipeline";
export { paymeAuth, paymeCall, paymeId } from "./payme-client";
export type { PaymeResponse } from "./payme-client";
export { adminClient, drained, paymentEventsFor } from "./pipeline-probes";
export {
  ASYNC_PROVIDERS,
  CHAOS_PAYME_KEY,
  CHAOS_PROVIDER_ENV,
  auditPayments,
  mapLimit,
  openPipelineStore,
  paymentNotification,
  processGroup,
} from "./chaos";
export type { AsyncProvider, ExpectedPayment, PaymentNotification, PipelineStore } from "./chaos";
export { startRedisCluster } from "./redis-cluster";
export type { RedisCluster, RedisClusterNode, RedisClusterOptions } from "./redis-cluster";
export { TEST_REDIS_ENV, startTestRedis, testRedisMode } from "./test-redis";
export type { TestRedis, TestRedisMode } from "./test-redis";
