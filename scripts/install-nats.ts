// Finds nats-server, installing the distro package when that is safe to do (root on Debian or
// Ubuntu); otherwise stops with one message that says how to install it.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { BrokerError, NATS_INSTALL_HINT, findNatsServer } from "../broker/index.ts";

function run(cmd: string, args: string[]): void {
  const result = spawnSync(cmd, args, { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  if (result.status !== 0) throw new BrokerError("INSTALL_FAILED", `\`${cmd} ${args.join(" ")}\` failed. ${NATS_INSTALL_HINT}`);
}

export function ensureNatsServer(log: (line: string) => void): string {
  const found = findNatsServer();
  if (found) return found;
  const isRoot = process.getuid?.() === 0;
  const isDebian = existsSync("/etc/debian_version") && findOnPath("apt-get");
  if (!isRoot || !isDebian) throw new BrokerError("NOT_INSTALLED", NATS_INSTALL_HINT);
  log("nats-server is missing: installing the distro package (apt-get update, apt-get install -y nats-server)");
  run("apt-get", ["update", "-qq"]);
  run("apt-get", ["install", "-y", "-qq", "nats-server"]);
  const installed = findNatsServer();
  if (!installed) throw new BrokerError("NOT_INSTALLED", NATS_INSTALL_HINT);
  return installed;
}

function findOnPath(bin: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${bin}`]).status === 0;
}
