/** docker-compose.yml's Redis, read as text: the settings the ingress would otherwise warn about. */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

const COMPOSE = resolve(__dirname, "../../../docker-compose.yml");

/** The `command:` of the `redis` service, as the list of its arguments. */
function redisCommand(text: string): string[] {
  const service = /^ {2}redis:\n((?: {4}.*\n|\s*\n)+)/m.exec(text);
  if (!service) throw new Error("no redis service in docker-compose.yml");
  const line = /^ {4}command:\s*(\[.*\])\s*$/m.exec(service[1]!);
  if (!line) throw new Error("the redis service has no one-line command: [...]");
  return JSON.parse(line[1]!) as string[];
}

/** The value after `--name` (the last one wins, as in redis-server). */
function option(args: string[], name: string): string | undefined {
  const i = args.lastIndexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

it("runs redis-server with AOF, appendfsync always and noeviction", () => {
  const args = redisCommand(readFileSync(COMPOSE, "utf8"));
  expect(args[0]).toBe("redis-server");
  expect(option(args, "appendonly")).toBe("yes");
  expect(option(args, "appendfsync")).toBe("always");
  expect(option(args, "maxmemory-policy")).toBe("noeviction");
});

it("reads the redis service's command, not another service's", () => {
  const text = [
    "services:",
    "  worker:",
    '    command: ["redis-server", "--appendfsync", "always"]',
    "  redis:",
    "    image: redis:7-alpine",
    '    command: ["redis-server", "--appendonly", "yes", "--appendfsync", "everysec"]',
    "",
  ].join("\n");
  expect(option(redisCommand(text), "appendfsync")).toBe("everysec");
});
