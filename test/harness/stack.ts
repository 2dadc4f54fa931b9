// The local stack (`npm start` = `jetgate stack`) as a process a test starts and stops: on a port
// block of its own (--port-base, never the fixed ports of DESIGN.md) and a data dir of its own, in
// its own process group, so the test can stop it the ways a user does (Ctrl-C, SIGTERM, SIGKILL to
// the group) and find what it left behind (its nats-server nodes run detached, by the pid files the
// launcher writes).
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import assert from "node:assert/strict";
import type { NodeSpec } from "../../broker/server/index.ts";
import { createServer } from "node:net";
import { killOnExit } from "./exit.ts";

export const ROOT = join(import.meta.dirname, "../..");

/** The offsets from the port base that the stack uses (scripts/stack.ts, stackPorts). */
export const STACK_PORT_OFFSETS = [0, 3, 4, 10, 11, 12, 20, 21, 22, 30, 31, 32, 40, 41, 42];

export interface StackProcess {
  child: ChildProcess;
  pgid: number;
  /** Every line the stack printed so far (stdout and stderr). */
  output: string[];
  /** Resolves with the first output line (from index `from` on) matching `re`. */
  waitForLine(re: RegExp, what: string, timeoutMs: number, from?: number): Promise<string>;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/**
 * A block of 43 ports (stackPorts' layout) whose used ports, and `extraOffsets` for processes the
 * test starts itself, are all free right now.
 */
export async function freeStackPortBase(extraOffsets: number[] = []): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const base = 20_000 + Math.floor(Math.random() * 800) * 50;
    let free = true;
    for (const offset of [...STACK_PORT_OFFSETS, ...extraOffsets]) if (!(await portFree(base + offset))) free = false;
    if (free) return base;
  }
  throw new Error("no free block of 43 loopback ports found in 50 tries");
}

/**
 * Starts the stack in its own process group. `via: "npm"` runs `npm start` as users do (npm and its
 * shell share the group and get a signal to it too); `via: "node"` runs what `npm start` runs,
 * `node --import tsx cli/main.ts stack`, without npm in between.
 */
export function startStackProcess(opts: { dataDir: string; base: number; via: "npm" | "node" }): StackProcess {
  const stackArgs = ["--data-dir", opts.dataDir, "--port-base", String(opts.base)];
  const [command, args] =
    opts.via === "npm"
      ? ["npm", ["start", "--silent", "--", ...stackArgs]]
      : [process.execPath, ["--import", "tsx", join(ROOT, "cli/main.ts"), "stack", ...stackArgs]];
  const child = spawn(command, args, { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  killOnExit(child, true);
  assert.ok(child.pid, "the stack process started");
  const output: string[] = [];
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output.push(...chunk.toString("utf8").split("\n").filter((l) => l.length > 0));
    for (const listener of listeners) listener();
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  const waitForLine = (re: RegExp, what: string, timeoutMs: number, from = 0) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const line = output.slice(from).find((l) => re.test(l));
        if (line !== undefined) return done(() => resolve(line));
        if (child.exitCode !== null || child.signalCode !== null) {
          done(() => reject(new Error(`the stack exited (${child.exitCode ?? child.signalCode}) before ${what}; last output:\n${output.slice(-30).join("\n")}`)));
        }
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last output:\n${output.slice(-30).join("\n")}`))),
        timeoutMs,
      );
      const done = (settle: () => void) => {
        clearTimeout(timer);
        listeners.delete(check);
        child.off("exit", check);
        settle();
      };
      listeners.add(check);
      child.on("exit", check);
      check();
    });
  return { child, pgid: child.pid!, output, waitForLine };
}

export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits until no process of the group is left, or the deadline passes; true when it is empty. */
export async function groupGone(pgid: number, deadlineMs: number): Promise<boolean> {
  const deadline = Date.now() + deadlineMs;
  while (groupAlive(pgid) && Date.now() < deadline) await sleep(100);
  return !groupAlive(pgid);
}

/**
 * Signals the whole process group, as a terminal's Ctrl-C or `kill -- -<pgid>` does, and waits until
 * it is gone. A group still there at the deadline is killed and the wait fails, naming the signal.
 */
export async function stopGroup(stack: Pick<StackProcess, "pgid">, signal: NodeJS.Signals, deadlineMs: number): Promise<void> {
  if (groupAlive(stack.pgid)) process.kill(-stack.pgid, signal);
  if (await groupGone(stack.pgid, deadlineMs)) return;
  process.kill(-stack.pgid, "SIGKILL");
  throw new Error(`the stack's process group ${stack.pgid} was still running ${deadlineMs} ms after ${signal}`);
}

/** The nodes of a 3-node stack as it lays them out in its data dir, so leftovers can be stopped by pid. */
export function stackNodeSpecs(dataDir: string): NodeSpec[] {
  return [1, 2, 3].map((i) => ({
    name: `n${i}`,
    dir: join(dataDir, "cluster", `n${i}`),
    configFile: join(ROOT, `deploy/nats/dev/n${i}.conf`),
    ports: { client: 0, websocket: 0, cluster: 0, monitor: 0 },
  }));
}

/** The pids of the stack's nats-server nodes, from the pid files the launcher writes. */
export function nodePids(dataDir: string): number[] {
  return stackNodeSpecs(dataDir).map((spec) => Number.parseInt(readFileSync(join(spec.dir, "nats.pid"), "utf8"), 10));
}

/**
 * The processes of a process group with their command names, read from /proc (Linux). Lets a test
 * note the workerd a stack started, to check later that none outlived it. Empty without /proc.
 */
export function processesInGroup(pgid: number): Array<{ pid: number; comm: string }> {
  let entries: string[];
  try {
    entries = readdirSync("/proc").filter((e) => /^\d+$/.test(e));
  } catch {
    return [];
  }
  const found: Array<{ pid: number; comm: string }> = [];
  for (const entry of entries) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // gone since the listing
    }
    // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses, so split after the last ")".
    const close = stat.lastIndexOf(")");
    const fields = stat.slice(close + 2).split(" ");
    if (Number(fields[2]) === pgid) found.push({ pid: Number(entry), comm: stat.slice(stat.indexOf("(") + 1, close) });
  }
  return found;
}
