// A `where` checked against the registry's schemas when a subscription is saved (issue 14, DESIGN
// decision 14). For every version of every type the subscription covers, the version's JSON
// Schema becomes CEL types (objects with the properties it defines, lists, maps, string / double /
// bool), and cel-js's own type checker checks the expression against them. Refused:
//   - a field path under `data` that no covered version defines (a path that only some versions
//     define is fine: on events of the others it is an evaluation error, i.e. no match);
//   - an operation whose types a version does not allow, e.g. a string field compared with a number.
// The checker stops at its first error, so each operand of the expression's && / || / ! is checked
// on its own (all their faults are found at once), and a path missing in one version is given the
// type dyn in that version and the check runs again, until it passes or fails for another reason.
// Pure: schemas in (their $refs resolved, or local `#/...` ones), errors out, as data.
import type { ASTNode, Environment } from "@marcbachmann/cel-js";
import { celMessage, compileWhere, whereEnvironment } from "./where.ts";

export interface SchemaVersion {
  type: string;
  version: number;
  /** The version's JSON Schema; `$ref`s are followed when they are local (`#/$defs/x`) or in `refs`. */
  schema: unknown;
  /** Other schemas by `$id`/URI, for non-local `$ref`s. */
  refs?: Record<string, unknown>;
}

export interface WhereSchemaError {
  /** Where in the event's data the path points (RFC 6901), when it names one place: `/customer/id`. */
  pointer?: string;
  /** The expression's text at fault, e.g. `data.total.amount` or `data.customer.id == 5`. */
  path: string;
  /** `order.created v1`, ... */
  versions: string[];
  message: string;
}

type Shape =
  | { k: "object"; fields: Map<string, Shape> }
  | { k: "list"; items: Shape }
  | { k: "map"; values: Shape }
  | { k: "prim"; cel: "string" | "double" | "bool" | "null_type" }
  | { k: "dyn" };

const DYN: Shape = { k: "dyn" };
const MAX_DEPTH = 32;
/** Re-checks per version after a missing path was given the type dyn. */
const MAX_PASSES = 32;

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function resolveRef(ref: string, root: unknown, refs: Record<string, unknown> | undefined): unknown {
  const [base, fragment] = ref.split("#", 2) as [string, string | undefined];
  let doc: unknown = base === "" ? root : refs?.[base];
  if (doc === undefined) return undefined;
  if (!fragment) return doc;
  // RFC 6901 JSON pointer.
  for (const token of fragment.split("/").slice(1)) {
    const key = token.replaceAll("~1", "/").replaceAll("~0", "~");
    doc = isObject(doc) || Array.isArray(doc) ? (doc as Json)[key] : undefined;
    if (doc === undefined) return undefined;
  }
  return doc;
}

function primOf(value: unknown): Shape {
  if (typeof value === "string") return { k: "prim", cel: "string" };
  if (typeof value === "number") return { k: "prim", cel: "double" };
  if (typeof value === "boolean") return { k: "prim", cel: "bool" };
  return DYN;
}

/** The union of two shapes (anyOf/oneOf): a field that either defines exists. */
function union(a: Shape, b: Shape): Shape {
  if (a.k === "object" && b.k === "object") {
    const fields = new Map(a.fields);
    for (const [name, s] of b.fields) fields.set(name, fields.has(name) ? union(fields.get(name)!, s) : s);
    return { k: "object", fields };
  }
  if (a.k === "list" && b.k === "list") return { k: "list", items: union(a.items, b.items) };
  if (a.k === "prim" && b.k === "prim" && a.cel === b.cel) return a;
  return DYN;
}

/** Both shapes at once (allOf): what one leaves open (dyn) the other may define. */
function intersect(a: Shape, b: Shape): Shape {
  if (a.k === "dyn") return b;
  if (b.k === "dyn") return a;
  if (a.k === "object" && b.k === "object") {
    const fields = new Map(a.fields);
    for (const [name, s] of b.fields) fields.set(name, fields.has(name) ? intersect(fields.get(name)!, s) : s);
    return { k: "object", fields };
  }
  return union(a, b);
}

/** Per version: each schema object's shape once (a DAG of $refs stays small), a cycle's back edge dyn. */
interface Walk {
  v: SchemaVersion;
  done: Map<object, Shape>;
  open: Set<object>;
}

function shapeOf(schema: unknown, w: Walk, depth: number): Shape {
  if (!isObject(schema) || depth > MAX_DEPTH || w.open.has(schema)) return DYN;
  const known = w.done.get(schema);
  if (known) return known;
  w.open.add(schema);
  const shape = shapeOfNew(schema, w, depth);
  w.open.delete(schema);
  w.done.set(schema, shape);
  return shape;
}

function shapeOfNew(schema: Json, w: Walk, depth: number): Shape {
  const v = w.v;
  let shape = ownShape(schema, w, depth);
  if (typeof schema.$ref === "string") shape = intersect(shape, shapeOf(resolveRef(schema.$ref, v.schema, v.refs), w, depth + 1));
  if (Array.isArray(schema.allOf)) for (const s of schema.allOf) shape = intersect(shape, shapeOf(s, w, depth + 1));
  for (const key of ["anyOf", "oneOf"] as const) {
    const branches = schema[key];
    if (!Array.isArray(branches) || branches.length === 0) continue;
    shape = intersect(shape, branches.map((s) => shapeOf(s, w, depth + 1)).reduce(union));
  }
  return shape;
}

function ownShape(schema: Json, w: Walk, depth: number): Shape {
  let types = Array.isArray(schema.type) ? schema.type.filter((t) => t !== "null") : schema.type === undefined ? [] : [schema.type];
  // A nullable value is a CEL null or the type: dyn, so both comparisons type-check.
  if (Array.isArray(schema.type) && types.length !== schema.type.length) return DYN;
  if (types.length === 0) {
    if (isObject(schema.properties) || schema.additionalProperties !== undefined) types = ["object"];
    else if (schema.items !== undefined) types = ["array"];
    else if (schema.const !== undefined) return primOf(schema.const);
    else if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum.map(primOf).reduce(union);
    else return DYN;
  }
  if (types.length > 1) return DYN;
  switch (types[0]) {
    case "object": {
      if (isObject(schema.properties)) {
        const fields = new Map<string, Shape>();
        for (const [name, s] of Object.entries(schema.properties)) fields.set(name, shapeOf(s, w, depth + 1));
        return { k: "object", fields };
      }
      return { k: "map", values: isObject(schema.additionalProperties) ? shapeOf(schema.additionalProperties, w, depth + 1) : DYN };
    }
    case "array":
      return { k: "list", items: isObject(schema.items) ? shapeOf(schema.items, w, depth + 1) : DYN };
    case "string":
      return { k: "prim", cel: "string" };
    case "integer":
    case "number":
      // Every JSON number is a CEL double at run time (where.ts).
      return { k: "prim", cel: "double" };
    case "boolean":
      return { k: "prim", cel: "bool" };
    case "null":
      return { k: "prim", cel: "null_type" };
    default:
      return DYN;
  }
}

/** Registers the shape's object types in `env` (each shape once) and gives the CEL type name of the shape. */
function register(env: Environment, shape: Shape, names: Map<Shape, string>): string {
  switch (shape.k) {
    case "dyn":
      return "dyn";
    case "prim":
      return shape.cel;
    case "list":
      return `list<${register(env, shape.items, names)}>`;
    case "map":
      return `map<string, ${register(env, shape.values, names)}>`;
    case "object": {
      const known = names.get(shape);
      if (known) return known;
      const fields: Record<string, string> = Object.create(null);
      for (const [name, s] of shape.fields) fields[name] = register(env, s, names);
      const typeName = `Data${names.size}`;
      env.registerType(typeName, { fields });
      names.set(shape, typeName);
      return typeName;
    }
  }
}

type Step = { field: string } | { index: true; at?: number };

/** The steps from `data` to an access node (`data.a.b`, `data.items[0].sku`); null if it is not rooted at data. */
function stepsOf(node: ASTNode): Step[] | null {
  const steps: Step[] = [];
  let n: ASTNode = node;
  for (;;) {
    if (n.op === "id") return n.args === "data" ? steps.reverse() : null;
    if (n.op === "." || n.op === ".?") {
      steps.push({ field: n.args[1] });
      n = n.args[0];
    } else if (n.op === "[]" || n.op === "[?]") {
      const key = n.args[1];
      if (key.op === "value" && typeof key.args === "string") steps.push({ field: key.args });
      else steps.push(key.op === "value" && typeof key.args === "bigint" ? { index: true, at: Number(key.args) } : { index: true });
      n = n.args[0];
    } else return null;
  }
}

/**
 * A copy of `shape` in which the missing last step of `steps` has the type dyn; null if the path
 * cannot be followed. Copied along the path only: a schema used in two places (one $ref) keeps its
 * other place as it was, so a second missing path there is still found.
 */
function withMissing(shape: Shape, steps: Step[]): Shape | null {
  const [step, ...rest] = steps;
  if (!step) return null;
  if ("index" in step) {
    if (shape.k === "list") {
      const items = withMissing(shape.items, rest);
      return items && { k: "list", items };
    }
    if (shape.k === "map") {
      const values = withMissing(shape.values, rest);
      return values && { k: "map", values };
    }
    return null;
  }
  if (shape.k !== "object") return null;
  const next = shape.fields.get(step.field);
  if (rest.length === 0) return next ? null : { k: "object", fields: new Map([...shape.fields, [step.field, DYN]]) };
  const changed = next && withMissing(next, rest);
  return changed ? { k: "object", fields: new Map([...shape.fields, [step.field, changed]]) } : null;
}

/**
 * The JSON pointer (RFC 6901) into the event's data of an access node (`data.customer.id` →
 * `/customer/id`), when it names one place: rooted at data, every index a literal.
 */
function pointerOf(node: ASTNode): string | undefined {
  const steps = stepsOf(node);
  if (!steps || steps.some((s) => "index" in s && s.at === undefined)) return undefined;
  return steps.map((s) => `/${"index" in s ? s.at : s.field.replaceAll("~", "~0").replaceAll("/", "~1")}`).join("");
}

function textOf(node: ASTNode): string {
  return node.input.slice(node.range.start, node.range.end);
}

interface CelError {
  code?: string;
  node?: ASTNode;
}

type Finding =
  | { kind: "missing"; path: string; pointer?: string }
  /** `compared` when a comparison's operand types are known: [left type, right type, right text]. */
  | { kind: "mismatch"; path: string; pointer?: string; message: string; compared?: [string, string, string] };

const COMPARISONS = new Set(["==", "!=", "<", "<=", ">", ">=", "in"]);

function kindName(celType: string): string {
  return celType === "double" || celType === "int" || celType === "uint" ? "number" : celType;
}

/** A mismatch; for a comparison of two operands the checker can type alone, names their types. */
function mismatch(env: Environment, node: ASTNode | undefined, message: string, expression: string): Finding {
  if (!node) return { kind: "mismatch", path: expression, message };
  if (COMPARISONS.has(node.op)) {
    const [left, right] = node.args as [ASTNode, ASTNode];
    const l = env.check(textOf(left));
    const r = env.check(textOf(right));
    if (l.valid && r.valid && l.type && r.type) {
      return { kind: "mismatch", path: textOf(left), ...withPointer(left), message, compared: [kindName(l.type), kindName(r.type), textOf(right)] };
    }
  }
  return { kind: "mismatch", path: textOf(node), ...withPointer(node), message };
}

function withPointer(node: ASTNode): { pointer?: string } {
  const pointer = pointerOf(node);
  return pointer === undefined ? {} : { pointer };
}

/** The where environment with `data` typed by a version's shape. */
function typedEnvironment(shape: Shape): Environment {
  return whereEnvironment((env) => {
    // At run time `data.amount in [1, 2]` is dyn in list<int> and works; typed, it needs this
    // (the run-time environment must not have it: it overlaps cel-js's own `V in list<V>` there).
    env.registerOperator("double in list<int>", (a: number, list: bigint[]) => list.some((x) => a === Number(x)));
    return register(env, shape, new Map());
  });
}

/** Checks the expression against one version: the paths it misses, and the first mismatch if any. */
function checkVersion(expression: string, v: SchemaVersion): Finding[] {
  const findings: Finding[] = [];
  let shape = shapeOf(v.schema, { v, done: new Map(), open: new Set() }, 0);
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    let typed: Environment;
    let result: ReturnType<Environment["check"]>;
    try {
      typed = typedEnvironment(shape);
      result = typed.check(expression);
    } catch {
      // The library refused the types made from this schema (not the subscriber's fault): this
      // version goes unchecked rather than the save failing; at run time the expression still applies.
      return findings;
    }
    if (result.valid) return findings;
    const err = result.error as unknown as CelError;
    const node = err.node;
    if (err.code === "no_such_key" && node) {
      const path = textOf(node);
      findings.push({ kind: "missing", path, ...withPointer(node) });
      const steps = stepsOf(node);
      const patched = steps && withMissing(shape, steps);
      if (!patched) return findings;
      shape = patched;
      continue;
    }
    findings.push(mismatch(typed, node, celMessage(result.error), expression));
    return findings;
  }
  return findings;
}

/** The operands of the expression's top-level &&, || and ! (the expression itself if it has none). */
function logicalParts(node: ASTNode): ASTNode[] {
  if (node.op === "&&" || node.op === "||") return [...logicalParts(node.args[0]), ...logicalParts(node.args[1])];
  if (node.op === "!_") return logicalParts(node.args);
  return [node];
}

/** Each part on its own, then (if they all pass) the whole, for what only their combination gets wrong. */
function checkAll(expression: string, v: SchemaVersion): Finding[] {
  const compiled = compileWhere(expression);
  const parts = compiled.ok ? logicalParts(compiled.program.ast).map(textOf) : [expression];
  const findings = parts.length > 1 ? parts.flatMap((part) => checkVersion(part, v)) : [];
  const all = findings.length > 0 ? findings : checkVersion(expression, v);
  // A path read by two parts is one finding of this version.
  const seen = new Set<string>();
  return all.filter((f) => !seen.has(JSON.stringify(f)) && Boolean(seen.add(JSON.stringify(f))));
}

function label(v: SchemaVersion): string {
  return `${v.type} v${v.version}`;
}

/** Names versions compactly: `order.created v1, v2; order.cancelled v1`. */
export function versionList(versions: SchemaVersion[]): string {
  const byType = new Map<string, number[]>();
  for (const v of versions) byType.set(v.type, [...(byType.get(v.type) ?? []), v.version]);
  return [...byType].map(([type, ns]) => `${type} ${ns.map((n) => `v${n}`).join(", ")}`).join("; ");
}

/**
 * What is wrong with `expression` against the covered versions; empty when it may be saved. With
 * no versions (no registry loaded, or no registered type covered) nothing is checked here.
 */
export function checkWhereAgainstSchemas(expression: string, versions: SchemaVersion[]): WhereSchemaError[] {
  if (versions.length === 0) return [];
  const missing = new Map<string, SchemaVersion[]>();
  const mismatches = new Map<string, { finding: Extract<Finding, { kind: "mismatch" }>; versions: SchemaVersion[] }>();
  const pointers = new Map<string, string>();
  for (const v of versions) {
    for (const f of checkAll(expression, v)) {
      if (f.kind === "missing") {
        missing.set(f.path, [...(missing.get(f.path) ?? []), v]);
        if (f.pointer !== undefined) pointers.set(f.path, f.pointer);
      }
      else {
        const key = JSON.stringify([f.path, f.message, f.compared]);
        const known = mismatches.get(key) ?? { finding: f, versions: [] };
        known.versions.push(v);
        mismatches.set(key, known);
      }
    }
  }
  const errors: WhereSchemaError[] = [];
  const types = [...new Set(versions.map((v) => v.type))];
  for (const [path, where] of missing) {
    if (where.length < versions.length) continue;
    const pointer = pointers.get(path);
    errors.push({ path, ...(pointer === undefined ? {} : { pointer }), versions: where.map(label), message: `${path}: no version of ${types.join(" or ")} defines it (${types.length === 1 ? where.map((v) => `v${v.version}`).join(", ") : versionList(where)})` });
  }
  for (const { finding: f, versions: vs } of mismatches.values()) {
    const message = f.compared
      ? `${f.path} is a ${f.compared[0]} in ${versionList(vs)} but is compared with a ${f.compared[1]} (${f.compared[2]})`
      : `${f.path}: ${f.message} in ${versionList(vs)}`;
    errors.push({ path: f.path, ...(f.pointer === undefined ? {} : { pointer: f.pointer }), versions: vs.map(label), message });
  }
  return errors;
}
