/**
 * jest `setupFiles` entry of the `e2e:cluster` project: every startTestRedis() in those test
 * files starts a private 3-master Redis Cluster instead of one redis-server.
 */
import { TEST_REDIS_ENV } from "./test-redis";

process.env[TEST_REDIS_ENV] = "cluster";
