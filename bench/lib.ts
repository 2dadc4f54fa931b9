// What every benchmark returns, so bench/run.ts can print one table and write results/latest.*.
// Ratios compare figures measured side by side in the same run: on a shared 2-core machine the
// absolute numbers drift, the ratios hold.

export interface BenchRow {
  /** The benchmark's group, e.g. "ingest" or "registry". */
  group: string;
  /** What was measured, e.g. "worker POST /v1/events/{type} (c=10)". */
  name: string;
  value: number;
  unit: string;
  /** Lower is better for latencies and sizes; higher is better for rates. */
  better: "higher" | "lower";
  /** A peer measured in the same run: ratio = value / peer's value. */
  ratio?: { against: string; value: number; goal?: string };
  note?: string;
}

export interface BenchContext {
  /** Print a progress line (benchmarks take seconds to minutes). */
  progress(line: string): void;
  /** Seconds each measured phase should run; small under `--quick`. */
  seconds: number;
}

export type Benchmark = (ctx: BenchContext) => Promise<BenchRow[]>;

export function ratio(value: number, peer: number): number {
  return peer === 0 ? Number.NaN : value / peer;
}

/** Percentile of an unsorted list of samples (nearest-rank). */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}
