// What /proc says about the processes a benchmark started: resident memory and CPU time, so a
// phase can report where its CPU went (on a 2-core machine, the sum says whether it was saturated).
import { readFileSync, readdirSync } from "node:fs";

const TICKS_PER_SECOND = 100;

export function rssMb(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** User + system CPU time of a process (all its threads) so far, in ms. */
export function cpuMs(pid: number): number {
  const stat = readStat(pid);
  return stat ? ((Number(stat.fields[11]) + Number(stat.fields[12])) * 1000) / TICKS_PER_SECOND : Number.NaN;
}

/** PIDs of this process's children running `name` (e.g. the workerd that Miniflare started). */
export function childPids(name: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat?.name === name && Number(stat.fields[1]) === process.pid) out.push(Number(entry));
  }
  return out;
}

/** /proc/<pid>/stat: the command name, and the fields after it (fields[0] is the state). */
function readStat(pid: number): { name: string; fields: string[] } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = stat.lastIndexOf(")");
    return { name: stat.slice(stat.indexOf("(") + 1, close), fields: stat.slice(close + 2).split(" ") };
  } catch {
    return null;
  }
}

/** CPU used by groups of processes from this call until `stop()`, in ms per group. */
export function cpuMeter(groups: Record<string, number[]>): { stop(): Record<string, number> } {
  const sum = (pids: number[]) => pids.reduce((total, pid) => total + cpuMs(pid), 0);
  const before = Object.fromEntries(Object.entries(groups).map(([k, pids]) => [k, sum(pids)]));
  return {
    stop: () => Object.fromEntries(Object.entries(groups).map(([k, pids]) => [k, sum(pids) - before[k]!])),
  };
}
