import type { Queue, QueueEvents } from "bullmq";
import type { Logger, ProviderId, RedisConnection } from "@payhooks/core";
import { MODULES, enabledProviders, type Config } from "@payhooks/providers";
import type { ProviderRuntime } from "./pipeline";
import { createRpcClient } from "./rpc-client";

/**
 * Every module of the registry as the ingress serves it: configured ones with the state their
 * `setup` built, the others answering `notConfigured` in their own dialect. Request–reply
 * modules get an RPC client when `events` holds a QueueEvents for their queue.
 */
export function createProviderRuntimes(
  config: Config,
  deps: {
    redis: RedisConnection;
    prefix: string;
    logger: Logger;
    queues: Readonly<Record<ProviderId, Queue>>;
    events?: ReadonlyMap<ProviderId, QueueEvents>;
  },
): ProviderRuntime[] {
  const enabled = enabledProviders(config);
  return MODULES.map((module) => {
    const configured = enabled[module.id];
    const listener = deps.events?.get(module.id);
    const queue = deps.queues[module.id];
    return {
      module,
      configured,
      state: configured ? module.ingress.setup({ config, redis: deps.redis, prefix: deps.prefix, logger: deps.logger }) : null,
      queue,
      rpc: listener && module.ingress.requestReply ? createRpcClient({ queue, events: listener, timeoutMs: module.ingress.requestReply.timeoutMs(config) }) : null,
    };
  });
}
