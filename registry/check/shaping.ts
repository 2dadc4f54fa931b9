// Which earlier versions a new version's events can still be shaped into (issue 14), so a schema
// author sees what subscribers pinned to an older version will get. The bridge shapes an event for
// a pinned version vK by projection (runtime ajv, removeAdditional: true; bridge/registry/): where
// vK's object is closed (`additionalProperties: false`), the properties it does not define are
// dropped; open objects keep everything; nothing is invented. Statically: every instance valid
// against vN, projected onto vK, is valid against vK exactly when vK accepts everything the
// projection of vN's schema onto vK accepts. That projected schema is built here and handed to the
// compatibility walker (compat.ts), which then says what breaks, e.g. a property vK requires that
// vN makes optional, or a type vN widened.
//
// The projection mirrors ajv's: it descends through properties and array items only. Where either
// side combines schemas (anyOf, oneOf, allOf, if, not) or the reader has patternProperties or
// unevaluatedProperties, it leaves vN as it is at that place: what ajv removes there depends on
// the order branches are tried (ajv issue #129), and the walker then reports what it cannot prove.
import { compareSchemas, type Incompatibility } from "./compat.ts";

type Obj = Record<string, unknown>;

export interface ShapingTarget {
  version: number;
  /** The problems that keep some vN instances from being shaped into this version (empty when none). */
  problems: Incompatibility[];
}

export interface ShapingReport {
  type: string;
  /** The new version. */
  version: number;
  /** Earlier versions every event of `version` can be shaped into. */
  shapesInto: number[];
  /** Earlier versions some events of `version` cannot be shaped into, and why. */
  notInto: ShapingTarget[];
}

const COMBINATORS = ["anyOf", "oneOf", "allOf", "if", "then", "else", "not", "$ref"];

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function combines(s: Obj): boolean {
  return COMBINATORS.some((k) => k in s);
}

/** `writer` as it is after ajv's removeAdditional validated it against `reader`. */
export function projectSchema(writer: unknown, reader: unknown, seen = new WeakSet<object>()): unknown {
  if (!isObj(writer) || !isObj(reader)) return writer;
  if (seen.has(writer)) return writer; // a recursive schema (an unresolved $ref cycle)
  seen.add(writer);
  if (combines(writer) || combines(reader)) return writer;
  const out: Obj = { ...writer };
  const wProps = isObj(writer.properties) ? writer.properties : {};
  const rProps = isObj(reader.properties) ? reader.properties : {};
  const closed = reader.additionalProperties === false && !("patternProperties" in reader) && !("unevaluatedProperties" in reader);
  if (isObj(writer.properties) || closed) {
    const props: Obj = {};
    for (const [name, schema] of Object.entries(wProps)) {
      if (closed && !(name in rProps)) continue;
      props[name] = name in rProps ? projectSchema(schema, rProps[name], seen) : schema;
    }
    out.properties = props;
  }
  if (closed) {
    // Whatever the writer allowed beside its properties is dropped too, and so is its requirement.
    out.additionalProperties = false;
    delete out.patternProperties;
    if (Array.isArray(writer.required)) out.required = writer.required.filter((name) => typeof name === "string" && name in rProps);
  }
  if (isObj(writer.items) && isObj(reader.items)) out.items = projectSchema(writer.items, reader.items, seen);
  return out;
}

/** Whether every instance of `newer` (resolved) can be shaped into `older` (resolved), and if not why. */
export function shapingProblems(newer: unknown, older: unknown): Incompatibility[] {
  // FORWARD: the (projected) newer version writes, the older one reads; the rules then speak of
  // what the newer version allows that the older one refuses.
  return compareSchemas(projectSchema(newer, older), older, "forward");
}

/** The shaping report of one new version against each earlier version (all resolved schemas). */
export function shapingReport(type: string, version: number, resolved: unknown, earlier: Array<{ version: number; resolved: unknown }>): ShapingReport {
  const report: ShapingReport = { type, version, shapesInto: [], notInto: [] };
  for (const e of [...earlier].sort((a, b) => b.version - a.version)) {
    const problems = shapingProblems(resolved, e.resolved);
    if (problems.length === 0) report.shapesInto.push(e.version);
    else report.notInto.push({ version: e.version, problems });
  }
  return report;
}
