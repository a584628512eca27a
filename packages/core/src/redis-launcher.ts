/**
 * A private redis-server of our own: what `npm start` (apps/cli/src/start.ts) runs when REDIS_URL
 * is not set, and what the tests start (@payhooks/testing builds on it). Production code, so the
 * CLI needs nothing from @payhooks/testing.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";

export type RedisServerOptions = {
  /** Listen on this TCP port on 127.0.0.1 instead of a private unix socket only. */
  port?: number;
  /**
   * Keep data here with AOF on and `appendfsync always` (for `npm start`: every acknowledged
   * webhook is on disk before the 2xx); default: a temp dir, no persistence.
   */
  dataDir?: string;
  /**
   * AOF on in the private temp dir with `appendfsync always`, so a SIGKILL and `restart()` keep
   * every write Redis acknowledged. (With `everysec` Redis may reply before even write(2)-ing
   * the AOF while a background fsync runs, so a crash test could lose acknowledged writes.)
   */
  aof?: boolean;
  /**
   * More redis-server arguments, after ours (a later one wins): a test that needs a Redis set up
   * otherwise, e.g. `["--appendfsync", "everysec"]` or `["--rename-command", "CONFIG", ""]`.
   */
  args?: string[];
};

export type RedisServer = {
  /** unix:///…/redis.sock, or redis://127.0.0.1:PORT when a port was asked for */
  url: string;
  socketPath: string;
  pid(): number;
  /** Stops the server (SIGTERM, or SIGKILL to simulate a crash) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again with the same socket, port and data dir. */
  restart(): Promise<void>;
};

/** A port nobody listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** The redis-server binary on PATH, or null. */
export function findRedisServer(): string | null {
  for (const dir of (process.env["PATH"] ?? "").split(delimiter)) {
    const candidate = join(dir, "redis-server");
    if (dir && existsSync(candidate)) return candidate;
  }
  return null;
}

/** Sends one inline command over a socket and returns the raw reply text. */
export function redisInline(target: { path: string } | { port: number; host?: string }, command: string, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = "path" in target ? connect(target.path) : connect(target.port, target.host ?? "127.0.0.1");
    let data = "";
    const timer = setTimeout(() => { socket.destroy(); reject(new Error("redis did not answer")); }, timeoutMs);
    socket.on("connect", () => socket.write(`${command}\r\n`));
    socket.on("data", (chunk) => {
      data += chunk.toString("utf8");
      // A bulk reply "$N\r\n…\r\n" or a simple "+…\r\n" / "-…\r\n" line.
      const bulk = /^\$(\d+)\r\n/.exec(data);
      if ((bulk && data.length >= bulk[0].length + Number(bulk[1]) + 2) || (!data.startsWith("$") && data.endsWith("\r\n"))) {
        clearTimeout(timer);
        socket.end();
        resolve(data);
      }
    });
    socket.on("error", (err) => { clearTimeout(timer); reject(err); });
  });
}

/**
 * Starts a redis-server of our own. Its unix socket lives in a fresh private temp dir, so no
 * other Redis can be reached by mistake; readiness is proven by `INFO server` reporting *our*
 * child's PID (a foreign server on a reused port would report another PID and we abort).
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const binary = findRedisServer();
  if (!binary) throw new Error("redis-server not found: install it (apt-get install redis-server) or set REDIS_URL");
  const runDir = mkdtempSync(join(tmpdir(), "payhooks-redis-"));
  const socketPath = join(runDir, "redis.sock");
  const persistent = options.dataDir !== undefined;
  const args = [
    "--port", String(options.port ?? 0),
    "--bind", "127.0.0.1",
    "--unixsocket", socketPath,
    "--unixsocketperm", "700",
    "--dir", options.dataDir ?? runDir,
    "--save", "",
    "--appendonly", persistent || options.aof ? "yes" : "no",
    ...(persistent || options.aof ? ["--appendfsync", "always"] : []),
    "--maxmemory-policy", "noeviction",
    "--daemonize", "no",
    "--loglevel", "warning",
    ...(options.args ?? []),
  ];
  let child: ChildProcess | null = null;
  let log = "";

  async function launch(): Promise<void> {
    const proc = spawn(binary!, args, { stdio: ["ignore", "pipe", "pipe"] });
    child = proc;
    proc.stdout!.on("data", (c: Buffer) => (log += c.toString()));
    proc.stderr!.on("data", (c: Buffer) => (log += c.toString()));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}: ${log.trim().slice(-500)}`);
      try {
        const info = await redisInline({ path: socketPath }, "INFO server", 500);
        const pid = /process_id:(\d+)/.exec(info)?.[1];
        if (Number(pid) !== proc.pid) throw new Error(`socket ${socketPath} answered with PID ${pid}, not ours (${proc.pid})`);
        // With a TCP port, the port must lead to the same server.
        if (options.port) {
          const viaPort = await redisInline({ port: options.port, host: "127.0.0.1" }, "INFO server", 500);
          if (Number(/process_id:(\d+)/.exec(viaPort)?.[1]) !== proc.pid) throw new Error(`port ${options.port} belongs to another Redis`);
        }
        return;
      } catch (err) {
        if (err instanceof Error && /not ours|another Redis/.test(err.message)) { proc.kill("SIGKILL"); throw err; }
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    proc.kill("SIGKILL");
    throw new Error(`redis-server did not become ready: ${log.trim().slice(-500)}`);
  }

  async function stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once("exit", () => resolve());
      proc.kill(signal);
    });
  }

  await launch();
  return {
    url: options.port ? `redis://127.0.0.1:${options.port}` : `unix://${socketPath}`,
    socketPath,
    pid: () => child?.pid ?? -1,
    stop,
    restart: launch,
  };
}
