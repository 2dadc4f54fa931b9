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

/**
 * CPU time the whole machine's processes spent so far (all cores: user, nice and system, the
 * fields a process's own times add up to), and time the hypervisor stole, in ms from /proc/stat.
 * On a shared machine, that less a benchmark's own processes is roughly what others ran beside it
 * (roughly: interrupt time is counted apart, and kernel accounting is by ticks).
 */
export function machineCpuMs(): { busy: number; steal: number } {
  try {
    const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , , , steal = 0] = fields;
    const toMs = (ticks: number) => (ticks * 1000) / TICKS_PER_SECOND;
    return { busy: toMs(user + nice + system), steal: toMs(steal) };
  } catch {
    return { busy: Number.NaN, steal: Number.NaN };
  }
}
