// The registry's public face: what the CLI, the local stack, tests and benchmarks import.
export { checkRegistry, runCheck, comparedVersions, type CheckOptions } from "./check/check.ts";
export { buildRegistry, DEFAULT_OUT, type BuildOptions, type BuildProgress, type BuildResult } from "./build/build.ts";
export { listTypes, showVersion, diffVersions, type TypeSummary, type ShowResult, type DiffResult } from "./inspect.ts";
export { compareSchemas, type Incompatibility } from "./check/compat.ts";
export { RULES, allRuleIds } from "./check/compat-rules.ts";
export { LINT_RULES } from "./check/lint.ts";
export { formatReport, type ReportFormat } from "./check/report.ts";
export { readSnapshot, findRepoRoot } from "./read/source.ts";
export { DEFAULT_ID_BASE, schemaId } from "./read/layout.ts";
export { RegistryError, UsageError, CheckFailedError, RefNotFoundError, NotARepositoryError, type RegistryErrorCode } from "./errors.ts";
export type { CheckReport, Finding, Severity } from "./check/findings.ts";
export type * from "./compiled.ts";
export { versionKey } from "./compiled.ts";
export { registerRegistryCommands } from "./cli.ts";
