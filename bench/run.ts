// `npm run bench`: runs every bench/*.bench.ts in turn, prints one table of figures and ratios,
// and writes bench/results/latest.json and latest.md.
//   npm run bench -- --quick          short phases (2 s) for a smoke run
//   npm run bench -- --only ingest    only the benchmarks whose file name contains "ingest"
//   npm run bench -- --only sockets   browser WebSockets against HTTPS, and fan-out (sockets.bench.ts)
//   npm run bench -- --only subscriptions   N subscriptions through the admin API: time to active,
//                                  nats-server RSS/CPU, fan-out, 10% dead, restarts (JETGATE_BENCH_SUBSCRIPTIONS=N
//                                  or a list, e.g. 1000,10000: a fresh cluster per N; default 50)
//   npm run bench -- --only schema-aware   delivery with a CEL where and with a pinned version beside plain
import { readdirSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { cpus } from "node:os";
import { pathToFileURL } from "node:url";
import type { Benchmark, BenchRow } from "./lib.ts";

const here = import.meta.dirname;
const args = process.argv.slice(2);
const quick = args.includes("--quick");
const only = args.includes("--only") ? args[args.indexOf("--only") + 1] : undefined;
const seconds = quick ? 2 : Number(process.env.JETGATE_BENCH_SECONDS ?? 8);

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString("en-US");
  return n.toFixed(2);
}

function table(rows: BenchRow[]): string {
  const lines = ["| group | measure | value | unit | ratio | against | goal | note |", "|---|---|---:|---|---:|---|---|---|"];
  for (const r of rows) {
    lines.push(
      `| ${r.group} | ${r.name} | ${fmt(r.value)} | ${r.unit} | ${r.ratio ? fmt(r.ratio.value) + "×" : ""} | ${r.ratio?.against ?? ""} | ${r.ratio?.goal ?? ""} | ${(r.note ?? "").replaceAll("|", "/")} |`,
    );
  }
  return lines.join("\n");
}

const files = readdirSync(here)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => !only || f.includes(only))
  .sort();
const rows: BenchRow[] = [];
const failures: string[] = [];
const started = Date.now();
for (const file of files) {
  const t0 = Date.now();
  const progress = (line: string) => process.stderr.write(`[bench +${Math.round((Date.now() - started) / 1000)}s] ${line}\n`);
  progress(`${file}: starting`);
  try {
    const mod = (await import(pathToFileURL(join(here, file)).href)) as { default: Benchmark };
    const got = await mod.default({ progress, seconds });
    rows.push(...got);
    progress(`${file}: ${got.length} figures in ${Math.round((Date.now() - t0) / 1000)}s`);
  } catch (err) {
    failures.push(`${file}: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    progress(`${file}: FAILED ${err instanceof Error ? err.message : err}`);
  }
}

const machine = `${cpus().length} cores (${cpus()[0]?.model ?? "?"}), node ${process.version}`;
const md = [
  `# Benchmark results`,
  ``,
  `Run ${new Date().toISOString()} on ${machine}, ${seconds}s per phase. Ratios are measured side by side in this run.`,
  ``,
  table(rows),
  ...(failures.length ? ["", "## Failed", "", ...failures.map((f) => "- " + f.split("\n")[0])] : []),
  ``,
].join("\n");
mkdirSync(join(here, "results"), { recursive: true });
writeFileSync(join(here, "results/latest.json"), JSON.stringify({ at: new Date().toISOString(), machine, seconds, rows, failures }, null, 2) + "\n");
writeFileSync(join(here, "results/latest.md"), md);
console.log(md);
if (failures.length) process.exitCode = 1;
