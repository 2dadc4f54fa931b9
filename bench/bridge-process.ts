// The bridge as `jetgate bridge` runs it, for the benchmarks that drive a real one: the bundle
// with its node flags, settings from JETGATE_BRIDGE_* variables, loopback receivers allowed.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { bridgeNodeArgs } from "../bridge/dev/index.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * `logFd`: a file descriptor for the bridge's pino log (stdout) and its stderr, for a bench with
 * thousands of subscriptions whose warnings would flood the terminal. Without it the pino log is
 * dropped and stderr is this process's.
 */
export function spawnBridge(bundle: string, servers: string[], port: number, env: Record<string, string> = {}, logFd?: number): ChildProcess {
  return spawn(process.execPath, bridgeNodeArgs(bundle), {
    cwd: ROOT,
    stdio: logFd === undefined ? ["ignore", "ignore", "inherit"] : ["ignore", logFd, logFd],
    env: {
      ...process.env,
      JETGATE_BRIDGE_NATS_SERVERS: servers.join(","),
      JETGATE_BRIDGE_PORT: String(port),
      JETGATE_BRIDGE_SSRF_ALLOW: "127.0.0.1",
      ...env,
    },
  });
}

/** Resolves once `url` answers 2xx; throws if `child` exits first or after `timeoutMs`, naming the URL. */
export async function waitHttp(url: string, timeoutMs: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`process ${child.pid} exited with ${child.exitCode}`);
    const ok = await fetch(url, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`${url} not ready in ${timeoutMs}ms`);
}
