// `jetgate registry …`: check, build, list, show, diff. Exit codes: 0 clean, 1 findings (or a
// type/version that does not exist), 2 usage or repository error; cli/exit-codes.ts maps thrown
// errors through their `exitCode`.
import path from "node:path";
import { Command, Option } from "commander";
import cliProgress from "cli-progress";
import { buildRegistry, DEFAULT_OUT, type BuildProgress } from "./build/build.ts";
import { checkRegistry } from "./check/check.ts";
import { CheckFailedError, UsageError } from "./errors.ts";
import { diffVersions, listTypes, showVersion } from "./inspect.ts";
import { formatReport, REPORT_FORMATS, type ReportFormat } from "./check/report.ts";
import { findRepoRoot } from "./read/source.ts";
import type { CheckReport } from "./check/findings.ts";

/** Above this many versions, build shows a progress bar (or periodic lines when not on a terminal). */
const PROGRESS_THRESHOLD = 50;

const dirOption = () => new Option("--dir <path>", "a directory inside the git repository").default(".");
const formatOption = (choices: readonly string[]) => new Option("--format <format>", "output format").choices(choices).default("text");

function parseVersion(v: string): number {
  const n = Number(v.replace(/^v/, ""));
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`"${v}" is not a version number (1, 2, … or v1, v2, …)`);
  return n;
}

export function registerRegistryCommands(program: Command): void {
  const registry = program.command("registry").description("the git-backed schema registry (schemas/)");

  registry
    .command("check")
    .description("check schemas, lint, immutability and compatibility (for pull requests)")
    .option("--base <ref>", "the ref the change goes into (enables immutability; only versions new since it are compatibility-checked)")
    .option("--head <ref>", "the ref to check (default: the working tree)")
    .addOption(formatOption(REPORT_FORMATS))
    .addOption(dirOption())
    .action(async (opts: { base?: string; head?: string; format: ReportFormat; dir: string }) => {
      const report = await checkRegistry({ dir: opts.dir, base: opts.base, head: opts.head });
      process.stdout.write(formatReport(report, opts.format));
      process.exitCode = report.ok ? 0 : 1;
    });

  registry
    .command("build")
    .description("compile every version into ajv standalone validators and a manifest")
    .option("--out <dir>", `output directory (default: ${DEFAULT_OUT} in the repository)`)
    .option("--ref <ref>", "build from this ref (default: the working tree)")
    .addOption(dirOption())
    .action(async (opts: { out?: string; ref?: string; dir: string }) => {
      const out = opts.out ?? path.join(await findRepoRoot(opts.dir), DEFAULT_OUT);
      const progress = new BuildProgressView();
      const started = Date.now();
      try {
        const result = await buildRegistry({ dir: opts.dir, ref: opts.ref, out, onProgress: (p) => progress.update(p) });
        progress.stop();
        const versions = Object.values(result.manifest.types).reduce((n, t) => n + t.versions.length, 0);
        process.stdout.write(`built ${Object.keys(result.manifest.types).length} types, ${versions} versions into ${result.outDir} in ${Date.now() - started} ms (${result.compiled} compiled, ${result.reused} reused)\n`);
      } catch (err) {
        progress.stop();
        if (err instanceof CheckFailedError) process.stderr.write(formatReport(err.data.report as CheckReport, "text"));
        throw err;
      }
    });

  registry
    .command("list")
    .description("list the types and their versions")
    .option("--ref <ref>", "read at this ref (default: the working tree)")
    .addOption(formatOption(["text", "json"]))
    .addOption(dirOption())
    .action(async (opts: { ref?: string; format: string; dir: string }) => {
      const types = await listTypes(opts.dir, opts.ref);
      if (opts.format === "json") return void process.stdout.write(`${JSON.stringify(types, null, 2)}\n`);
      const width = Math.max(4, ...types.map((t) => t.type.length));
      const lines = types.map((t) => `${t.type.padEnd(width)}  v${t.latest}  ${t.compatibility.padEnd(19)}  ${t.deprecated ? "[deprecated] " : ""}${t.description}`);
      process.stdout.write(`${["TYPE".padEnd(width) + "  LATEST  MODE", ...lines].join("\n")}\n`);
    });

  registry
    .command("show")
    .description("show a type's settings and one version's schema (the latest by default)")
    .argument("<type>")
    .argument("[version]")
    .option("--ref <ref>", "read at this ref (default: the working tree)")
    .addOption(formatOption(["text", "json"]))
    .addOption(dirOption())
    .action(async (type: string, version: string | undefined, opts: { ref?: string; format: string; dir: string }) => {
      const shown = await showVersion(opts.dir, type, version === undefined ? undefined : parseVersion(version), opts.ref);
      if (opts.format === "json") return void process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
      const lines = [
        `${shown.type} v${shown.version} (versions: ${shown.versions.map((n) => `v${n}`).join(", ")}; mode ${shown.compatibility}${shown.deprecated ? "; deprecated" : ""})`,
        `$id: ${shown.id}`,
        `file: ${shown.file}`,
        `owners: ${shown.owners.join(", ") || "(none)"}`,
        `description: ${shown.description || "(none)"}`,
        "",
        JSON.stringify(shown.schema, null, 2),
        ...shown.examples.flatMap((e) => ["", `example ${e.file}${e.valid ? "" : " (must be rejected)"}:`, JSON.stringify(e.data, null, 2)]),
      ];
      process.stdout.write(`${lines.join("\n")}\n`);
    });

  registry
    .command("diff")
    .description("show what changed between two versions and which compatibility rules it breaks")
    .argument("<type>")
    .argument("<a>", "the older version")
    .argument("<b>", "the newer version")
    .option("--ref <ref>", "read at this ref (default: the working tree)")
    .addOption(formatOption(["text", "json"]))
    .addOption(dirOption())
    .action(async (type: string, a: string, b: string, opts: { ref?: string; format: string; dir: string }) => {
      const d = await diffVersions(opts.dir, type, parseVersion(a), parseVersion(b), opts.ref);
      if (opts.format === "json") return void process.stdout.write(`${JSON.stringify(d, null, 2)}\n`);
      const lines = [`${type}: v${d.from} → v${d.to}`, ""];
      for (const c of d.changes) {
        const sign = c.kind === "added" ? "+" : c.kind === "removed" ? "-" : "~";
        const val = c.kind === "removed" ? JSON.stringify(c.before) : c.kind === "added" ? JSON.stringify(c.after) : `${JSON.stringify(c.before)} → ${JSON.stringify(c.after)}`;
        lines.push(`  ${sign} ${c.pointer || "/"}  ${val}`);
      }
      if (d.changes.length === 0) lines.push("  (no changes)");
      const verdict = (name: string, list: typeof d.backward) =>
        list.length === 0 ? [`${name}: compatible`] : [`${name}: incompatible`, ...list.map((i) => `  ${i.rule}  ${i.pointer || "/"}: ${i.message}`)];
      lines.push("", ...verdict("BACKWARD (v" + d.to + " reads v" + d.from + " data)", d.backward), ...verdict("FORWARD (v" + d.from + " reads v" + d.to + " data)", d.forward));
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}

/** A bar on a terminal, a line per 10% elsewhere (CI logs), nothing for small registries. */
class BuildProgressView {
  private bar: cliProgress.SingleBar | null = null;
  private lastDecile = -1;

  update(p: BuildProgress): void {
    if (p.total < PROGRESS_THRESHOLD) return;
    if (process.stderr.isTTY) {
      if (!this.bar) {
        this.bar = new cliProgress.SingleBar({ stream: process.stderr, format: "building validators [{bar}] {value}/{total} {key}" }, cliProgress.Presets.shades_classic);
        this.bar.start(p.total, 0, { key: "" });
      }
      this.bar.update(p.done, { key: p.key });
      return;
    }
    const decile = Math.floor((p.done / p.total) * 10);
    if (decile !== this.lastDecile) {
      this.lastDecile = decile;
      process.stderr.write(`building validators: ${p.done}/${p.total}\n`);
    }
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}
