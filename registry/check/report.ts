// How check findings are shown: readable text (default), JSON (the CheckReport as is), and GitHub
// workflow commands (`::error file=…,line=…::message`), which annotate the pull request's diff.
import type { CheckReport, Finding, RefInfo } from "./findings.ts";

export type ReportFormat = "text" | "json" | "github";
export const REPORT_FORMATS: readonly ReportFormat[] = ["text", "json", "github"];

export function formatReport(report: CheckReport, format: ReportFormat): string {
  if (format === "json") return `${JSON.stringify(report, null, 2)}\n`;
  if (format === "github") return formatGithub(report);
  return formatText(report);
}

function refLabel(r: RefInfo | null): string {
  if (!r) return "none";
  if (r.ref === null) return r.commit ? `working tree (= ${r.commit.slice(0, 7)})` : "working tree";
  return r.commit ? `${r.ref} (${r.commit.slice(0, 7)})` : r.ref;
}

function summary(report: CheckReport): string {
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? "" : "s"}`;
  return `${plural(report.types, "type")}, ${plural(report.versions, "version")} (${report.newVersions.length} new): ${plural(report.errors, "error")}, ${plural(report.warnings, "warning")}`;
}

function formatText(report: CheckReport): string {
  const lines = [`registry check: head ${refLabel(report.head)}, base ${refLabel(report.base)}`];
  let group: string | undefined;
  for (const f of report.findings) {
    const g = f.type ?? "(registry)";
    if (g !== group) {
      lines.push("", g);
      group = g;
    }
    const where = f.file ? `${f.file}${f.line ? `:${f.line}` : ""}` : "";
    const version = f.version === null ? "  " : `v${f.version}`;
    lines.push(`  ${version} ${f.severity.padEnd(7)} ${f.rule}  ${where}${f.pointer ? `  ${f.pointer}` : ""}`);
    lines.push(`      ${f.message}`);
  }
  lines.push(...shapingText(report));
  lines.push("", `${report.ok ? "ok" : "FAILED"}: ${summary(report)}`, "");
  return lines.join("\n");
}

/** What subscribers pinned to an earlier version get from each new version (check/shaping.ts). */
function shapingText(report: CheckReport): string[] {
  if (report.shaping.length === 0) return [];
  const lines = ["", "pinned subscribers: what each new version's events can be shaped into"];
  for (const s of report.shaping) {
    const into = s.shapesInto.length > 0 ? s.shapesInto.map((v) => `v${v}`).join(", ") : "no earlier version";
    lines.push(`  ${s.type} v${s.version}: shapes into ${into}`);
    for (const n of s.notInto) {
      lines.push(`    not into v${n.version} (such events are dead-lettered as schema-mismatch):`);
      for (const p of n.problems) lines.push(`      ${p.pointer || "/"}  ${p.rule}: ${p.message}`);
    }
  }
  return lines;
}

/** Escaping per GitHub's workflow command syntax (data: % CR LF; properties also : and ,). */
function escapeData(s: string): string {
  return s.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}

function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, "%3A").replace(/,/g, "%2C");
}

function formatGithub(report: CheckReport): string {
  const lines = report.findings.map((f: Finding) => {
    const props: string[] = [];
    if (f.file) props.push(`file=${escapeProperty(f.file)}`);
    if (f.file && f.line) props.push(`line=${f.line}`);
    props.push(`title=${escapeProperty(`${f.rule}${f.type ? ` (${f.type}${f.version ? ` v${f.version}` : ""})` : ""}`)}`);
    return `::${f.severity === "error" ? "error" : "warning"} ${props.join(",")}::${escapeData(f.message)}`;
  });
  lines.push(`registry check: ${summary(report)}`, "");
  return lines.join("\n");
}
