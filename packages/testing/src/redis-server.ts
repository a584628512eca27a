import { rmSync } from "node:fs";
import { join } from "node:path";
import type { RedisServer } from "@payhooks/core";

// The server itself is production code (`npm start` runs it): @payhooks/core's redis-launcher.
export { findRedisServer, redisInline, startRedisServer } from "@payhooks/core";
export type { RedisServer, RedisServerOptions } from "@payhooks/core";

/** Stops the server and removes its private temp dir. */
export async function removeRedisServer(server: RedisServer): Promise<void> {
  await server.stop();
  rmSync(join(server.socketPath, ".."), { recursive: true, force: true });
}
