// Parts of the system in their own processes (a bridge, the edge), so the chaos loop can SIGKILL
// them for real and start them again. A child prints "ready <url> [<pid to kill>]" once it serves;
// everything it writes goes to a log file, whose tail is shown when it fails to start.
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync } from "node:fs";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { killOnExit } from "../harness/exit.ts";

export interface ChildSpec {
  name: string;
  /** The fixture module to run with tsx. */
  script: string;
  /** JSON handed to the fixture as argv[2]. */
  options: unknown;
  logFile: string;
  readyTimeoutMs: number;
}

export interface ChildService {
  name: string;
  url: string;
  /** The wrapper process (node). */
  pid: number;
  /** The process that serves requests: workerd for the workerd edge, else the wrapper. */
  servingPid: number;
  child: ChildProcess;
}

export class ChildStartError extends Error {
  readonly code = "CHILD_START_FAILED";
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly logTail: string,
  ) {
    super(message);
  }
}

/** Every PID ever started here, so cleanup can kill what is left even after a failed test. */
const started = new Set<number>();

function log(file: string, line: string): void {
  appendFileSync(file, line + "\n");
}

/** Starts the child and waits for its "ready" line; a child that exits first is a ChildStartError. */
export async function startChild(spec: ChildSpec): Promise<ChildService> {
  const child = spawn(process.execPath, ["--import", "tsx", spec.script, JSON.stringify(spec.options)], { stdio: ["ignore", "pipe", "pipe"] });
  killOnExit(child);
  if (child.pid === undefined) throw new ChildStartError(`${spec.name}: spawn failed`, null, "");
  started.add(child.pid);
  const tail: string[] = [];
  const keep = (line: string) => {
    log(spec.logFile, `[${spec.name} ${child.pid}] ${line}`);
    tail.push(line);
    if (tail.length > 20) tail.shift();
  };
  createInterface({ input: child.stderr! }).on("line", keep);
  const lines = createInterface({ input: child.stdout! });
  const ready = new Promise<string>((resolve) => {
    lines.on("line", (line) => {
      keep(line);
      if (line.startsWith("ready ")) resolve(line);
    });
  });
  const exited = once(child, "exit").then(([code]) => code as number | null);
  const timeout = sleep(spec.readyTimeoutMs, "timeout" as const);
  const first = await Promise.race([ready, exited.then((code) => ({ exited: code })), timeout]);
  if (first === "timeout" || typeof first !== "string") {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await sleep(100);
    const why = first === "timeout" ? `not ready within ${spec.readyTimeoutMs}ms` : `exited with code ${first.exited} before it was ready`;
    throw new ChildStartError(`${spec.name} ${why}`, first === "timeout" ? null : first.exited, tail.join("\n"));
  }
  const [, url = "", pid] = first.split(" ");
  const servingPid = pid ? Number(pid) : child.pid;
  started.add(servingPid);
  return { name: spec.name, url, pid: child.pid, servingPid, child };
}

function signal(pid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false; // ESRCH: already gone
  }
}

async function gone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!signal(pid, 0)) return true;
    await sleep(20);
  }
  return false;
}

/** SIGKILL: the serving process first (workerd), then its wrapper; resolves once both are gone. */
export async function killChild(svc: ChildService): Promise<void> {
  const exited = svc.child.exitCode === null && svc.child.signalCode === null ? once(svc.child, "exit") : Promise.resolve();
  if (svc.servingPid !== svc.pid) signal(svc.servingPid, "SIGKILL");
  signal(svc.pid, "SIGKILL");
  await Promise.race([exited, sleep(10_000)]);
  if (svc.servingPid !== svc.pid && !(await gone(svc.servingPid, 10_000))) throw new Error(`${svc.name}: pid ${svc.servingPid} survived SIGKILL`);
  started.delete(svc.pid);
  started.delete(svc.servingPid);
}

/** For t.after(): SIGTERM (a clean stop), SIGKILL after the grace period; for every PID started here. */
export async function stopAllChildren(graceMs = 5000): Promise<void> {
  const pids = [...started];
  for (const pid of pids) signal(pid, "SIGTERM");
  await Promise.all(pids.map(async (pid) => {
    if (!(await gone(pid, graceMs))) signal(pid, "SIGKILL");
    await gone(pid, 5000);
    started.delete(pid);
  }));
}
