// The registry's public face: what the CLI, the local stack, tests and benchmarks import.
export { checkRegistry, runCheck, comparedVersions, type CheckOptions } from "./check.ts";
export { buildRegistry, DEFAULT_OUT, type BuildOptions, type BuildProgress, type BuildResult } from "./build.ts";
export { listTypes, showVersion, diffVersions, type TypeSummary, type ShowResult, type DiffResult } from "./inspect.ts";
export { compareSchemas, type Incompatibility } from "./compat.ts";
export { RULES, allRuleIds } from "./compat-rules.ts";
export { LINT_RULES, TYPE_NAME, TYPE_NAME_MAX } from "./lint.ts";
export { formatReport, type ReportFormat } from "./report.ts";
export { readSnapshot, findRepoRoot } from "./source.ts";
export { DEFAULT_ID_BASE, schemaId } from "./layout.ts";
export { RegistryError, UsageError, CheckFailedError, RefNotFoundError, NotARepositoryError, type RegistryErrorCode } from "./errors.ts";
export type { CheckReport, Finding, Severity } from "./findings.ts";
export type * from "./compiled.ts";
export { versionKey } from "./compiled.ts";
export { registerRegistryCommands } from "./cli.ts";
