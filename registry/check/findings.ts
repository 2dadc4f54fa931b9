// Findings are data: what `check` reports about a schema, an example or a type. Tests assert on
// `rule`; people read `message`.

import type { ShapingReport } from "./shaping.ts";

export type Severity = "error" | "warning";
type FindingCategory = "layout" | "schema" | "lint" | "immutability" | "compatibility" | "example";

export interface Finding {
  /** Stable rule id, e.g. `id-mismatch`, `required-added` (see docs/schema-authors.md, "Check findings"). */
  rule: string;
  severity: Severity;
  category: FindingCategory;
  type: string | null;
  version: number | null;
  /** Repository-relative path of the file the finding is about. */
  file: string | null;
  /** RFC 6901 pointer into that file (or into the resolved schema for compatibility findings). */
  pointer: string | null;
  /** 1-based line in `file`, when the pointer could be located. */
  line?: number;
  message: string;
  /** For compatibility findings: the version compared against and the direction that failed. */
  against?: number;
  direction?: "backward" | "forward";
}

export interface RefInfo {
  ref: string | null;
  commit: string | null;
}

export interface CheckReport {
  base: RefInfo | null;
  head: RefInfo;
  types: number;
  versions: number;
  /** Versions checked for compatibility (new at head, or all without a base). */
  newVersions: string[];
  findings: Finding[];
  /**
   * For each new version after v1: the earlier versions its events can still be shaped into for a
   * subscriber pinned to them (check/shaping.ts), and why not the others. Information, not findings.
   */
  shaping: ShapingReport[];
  errors: number;
  warnings: number;
  ok: boolean;
}

export function finding(f: Omit<Finding, "severity"> & { severity?: Severity }): Finding {
  return { severity: "error", ...f };
}
