// Servers a test file started die with it, however it ends. When `node --test` stops a file that
// ran past its timeout it sends the file's process SIGTERM, whose default action ends the process
// without running its "exit" listeners, so every nats-server, workerd and child service the file
// started would be left running. Exiting on SIGTERM/SIGINT runs them: the nats-server launcher's
// (broker/server/launcher.ts), Miniflare's, and the one below for the children a test spawns itself.
import type { ChildProcess } from "node:child_process";

const children = new Map<ChildProcess, boolean>();

/** Kills `child` (its whole process group when `group`, for a detached child) if this process exits first. */
export function killOnExit(child: ChildProcess, group = false): void {
  children.set(child, group);
  child.once("exit", () => children.delete(child));
}

process.once("exit", () => {
  for (const [child, group] of children) {
    try {
      if (group && child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      else child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
});

for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
  process.once(signal, () => process.exit(code));
}
