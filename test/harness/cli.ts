// Runs the `jetgate` command as users run it (bin/jetgate.js) and collects its exit code and
// output. A run that outlives its deadline is killed (its whole process group: bin/jetgate.js and
// the CLI it starts) and fails naming the command.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { killOnExit } from "./exit.ts";

const ROOT = join(import.meta.dirname, "../..");
const BIN = join(ROOT, "bin/jetgate.js");

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Replaces the environment, apart from PATH and HOME. */
  env?: Record<string, string>;
  timeoutMs?: number;
}

export function runJetgate(args: string[], opts: CliOptions = {}): Promise<CliRun> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...(opts.env ?? {}) };
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  killOnExit(child, true);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      if (child.pid) process.kill(-child.pid, "SIGKILL");
      reject(new Error(`jetgate ${args.join(" ")} did not exit within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
