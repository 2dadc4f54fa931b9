// The one way every part finds nats-server: the local stack, the test harness, benchmarks and CI.
// Jetgate needs nats-server ≥ 2.10.23: 2.10.20–2.10.22 could lose whole streams when a process
// crashed, and 2.9 (Debian bookworm's 2.9.10) lacks several filter subjects per consumer and
// carries no reason on +TERM. When the nats-server on PATH is missing or older, the Debian trixie
// package is fetched with `apt-get download` through a source list given on the command line and
// unpacked into the project (.jetgate/tools/); the system's packages are left alone.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BrokerError } from "../errors.ts";

export const MIN_NATS_VERSION = "2.10.23";

/** Where the fetched package is unpacked; `JETGATE_TOOLS_DIR` moves it. */
const TOOLS_DIR = process.env.JETGATE_TOOLS_DIR ?? join(import.meta.dirname, "..", "..", ".jetgate", "tools");
const LOCAL_DIR = join(TOOLS_DIR, "nats-server");
const LOCAL_BIN = join(LOCAL_DIR, "usr", "sbin", "nats-server");

/** The Debian suite that packages a nats-server ≥ MIN_NATS_VERSION (trixie: 2.10.27). */
const DEBIAN_SOURCE = "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main";

const NATS_INSTALL_HINT =
  `Jetgate needs nats-server ≥ ${MIN_NATS_VERSION}. On Debian or Ubuntu \`npm run nats:install\` fetches Debian trixie's ` +
  `package into .jetgate/tools/ (no change to the system's packages); elsewhere install a release from the NATS project ` +
  `and put it on PATH, or point JETGATE_NATS_SERVER at it.`;

export interface NatsBinary {
  path: string;
  version: string;
}

/** `nats-server --version` prints `nats-server: v2.10.27`; null when it does not run. */
function natsServerVersion(path: string): string | null {
  const out = spawnSync(path, ["--version"], { encoding: "utf8", timeout: 10_000 });
  const match = /v(\d+\.\d+\.\d+)/.exec(`${out.stdout ?? ""}${out.stderr ?? ""}`);
  return out.status === 0 && match ? match[1]! : null;
}

/** Compares dotted versions numerically: negative, zero or positive like a sort comparator. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

function onPath(bin: string): string | null {
  const found = spawnSync("sh", ["-c", `command -v ${bin}`], { encoding: "utf8" });
  const path = found.stdout.trim();
  return found.status === 0 && path ? path : null;
}

function usable(path: string | null): NatsBinary | null {
  if (!path || !existsSync(path)) return null;
  const version = natsServerVersion(path);
  return version && compareVersions(version, MIN_NATS_VERSION) >= 0 ? { path, version } : null;
}

/**
 * The nats-server to run, in this order: `JETGATE_NATS_SERVER` (which must be recent enough), the
 * one unpacked into the project, the one on PATH. Null when none is ≥ MIN_NATS_VERSION.
 */
export function findNatsServer(): NatsBinary | null {
  const chosen = process.env.JETGATE_NATS_SERVER;
  if (chosen) {
    const found = usable(chosen);
    if (!found) throw new BrokerError("NOT_INSTALLED", `JETGATE_NATS_SERVER=${chosen} is not a nats-server ≥ ${MIN_NATS_VERSION}`);
    return found;
  }
  return usable(LOCAL_BIN) ?? usable(onPath("nats-server"));
}

function run(cmd: string, args: string[], cwd?: string): void {
  const result = spawnSync(cmd, args, { cwd, encoding: "utf8", timeout: 300_000, env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  if (result.status !== 0) {
    const why = (result.stderr || result.stdout || String(result.error ?? "")).trim().split("\n").slice(-3).join(" | ");
    throw new BrokerError("INSTALL_FAILED", `\`${cmd} ${args.join(" ")}\` failed: ${why}. ${NATS_INSTALL_HINT}`);
  }
}

/**
 * Fetches Debian trixie's nats-server package and unpacks it into .jetgate/tools/nats-server.
 * apt-get runs with its own source list, package lists and cache in a temp dir, so it reads no
 * system source and writes no system state.
 */
function fetchDebianPackage(log: (line: string) => void): void {
  const work = mkdtempSync(join(tmpdir(), "jetgate-nats-deb-"));
  try {
    mkdirSync(join(work, "lists", "partial"), { recursive: true });
    mkdirSync(join(work, "cache", "archives", "partial"), { recursive: true });
    writeFileSync(join(work, "sources.list"), DEBIAN_SOURCE + "\n");
    const apt = [
      "-qq",
      "-o", `Dir::Etc::SourceList=${join(work, "sources.list")}`,
      "-o", "Dir::Etc::SourceParts=/dev/null",
      "-o", `Dir::State::Lists=${join(work, "lists")}`,
      "-o", `Dir::Cache=${join(work, "cache")}`,
      "-o", "APT::Sandbox::User=root",
    ];
    log("fetching nats-server from Debian trixie (apt-get download, project-local; system packages untouched)");
    run("apt-get", [...apt, "update"]);
    run("apt-get", [...apt, "download", "nats-server"], work);
    const deb = readdirSync(work).find((f) => f.startsWith("nats-server_") && f.endsWith(".deb"));
    if (!deb) throw new BrokerError("INSTALL_FAILED", `apt-get download left no nats-server .deb in ${work}. ${NATS_INSTALL_HINT}`);
    // Unpack beside the target and rename, so a half-unpacked tree is never taken for an install.
    const staging = join(work, "unpacked");
    run("dpkg-deb", ["-x", join(work, deb), staging]);
    mkdirSync(TOOLS_DIR, { recursive: true });
    rmSync(LOCAL_DIR, { recursive: true, force: true });
    renameSync(staging, LOCAL_DIR);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** A usable nats-server, fetched into the project first when there is none (Debian and Ubuntu). */
export function ensureNatsServer(log: (line: string) => void = () => {}): NatsBinary {
  const found = findNatsServer();
  if (found) return found;
  const old = onPath("nats-server");
  if (old) log(`nats-server on PATH (${old}) is ${natsServerVersion(old) ?? "of unknown version"}; Jetgate needs ≥ ${MIN_NATS_VERSION}`);
  if (!existsSync("/etc/debian_version") || !onPath("apt-get") || !onPath("dpkg-deb")) {
    throw new BrokerError("NOT_INSTALLED", NATS_INSTALL_HINT);
  }
  fetchDebianPackage(log);
  const installed = usable(LOCAL_BIN);
  if (!installed) throw new BrokerError("NOT_INSTALLED", `the fetched package holds no nats-server ≥ ${MIN_NATS_VERSION}. ${NATS_INSTALL_HINT}`);
  log(`nats-server ${installed.version} ready at ${installed.path}`);
  return installed;
}
