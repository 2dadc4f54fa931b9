// Rule-based compatibility between two resolved schemas (every `$ref` already replaced by its
// target, see read/resolve.ts). The walker answers "does the reader accept everything the writer
// accepts?" keyword by keyword and reports each place where it cannot prove so, with the JSON
// pointer into the new version and a rule from compat-rules.ts. It errs on the side of reporting:
// a change it cannot reason about (if/then/else, not, dependentSchemas) is reported as
// `constraint-changed` rather than passed.
import { jsonEqual, pointerJoin } from "../canonical.ts";
import { RULES, type Direction, type RuleFacts, type RuleKind, type RuleRow } from "./compat-rules.ts";

export interface Incompatibility {
  /** Pointer into the new version's resolved schema. */
  pointer: string;
  rule: string;
  message: string;
}

type Obj = Record<string, unknown>;
type Schema = boolean | Obj;

const ALL_TYPES = ["array", "boolean", "integer", "null", "number", "object", "string"] as const;
const UPPER = ["maxLength", "maxItems", "maxProperties", "maxContains"] as const;
const LOWER = ["minLength", "minItems", "minProperties", "minContains"] as const;

/** The keywords that only annotate; a difference in them never breaks anyone. */
const ANNOTATIONS = new Set(["$id", "$schema", "$comment", "$anchor", "$defs", "definitions", "title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly", "contentMediaType", "contentEncoding", "$vocabulary"]);

/**
 * Compares `writer` (data producer) against `reader` (data consumer). For BACKWARD pass the old
 * version as writer; for FORWARD the new one. Pointers are reported into the new version.
 */
export function compareSchemas(writer: unknown, reader: unknown, direction: Direction): Incompatibility[] {
  const walker = new Walker(direction);
  walker.compare(asSchema(writer), asSchema(reader), "");
  const seen = new Set<string>();
  return walker.found.filter((f) => {
    const key = `${f.pointer} ${f.rule} ${f.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function asSchema(s: unknown): Schema {
  if (typeof s === "boolean") return s;
  if (s && typeof s === "object" && !Array.isArray(s)) return s as Obj;
  return true;
}

function isObj(s: unknown): s is Obj {
  return typeof s === "object" && s !== null && !Array.isArray(s);
}

function show(v: unknown): string {
  return Array.isArray(v) && v.length === 1 ? JSON.stringify(v[0]) : JSON.stringify(v);
}

function kebab(keyword: string): string {
  return keyword.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** True when a schema constrains nothing (only annotations). */
function acceptsAll(s: Schema): boolean {
  if (s === true) return true;
  if (s === false) return false;
  return Object.keys(s).every((k) => ANNOTATIONS.has(k));
}

class Walker {
  readonly found: Incompatibility[] = [];
  private readonly seen = new WeakMap<object, WeakSet<object>>();

  constructor(private readonly direction: Direction) {}

  /** Records a rule; `wVal`/`rVal` are the writer's and reader's values, mapped to old/new by direction. */
  report(pointer: string, kind: RuleKind, wVal?: string, rVal?: string, subject?: string): void {
    const row = RULES[kind] as RuleRow;
    const sideRule = this.direction === "backward" ? row.backward : row.forward;
    const facts: RuleFacts = this.direction === "backward" ? { old: wVal, new: rVal, subject } : { old: rVal, new: wVal, subject };
    let rule = sideRule.id;
    if (kind === "limit-added" || kind === "limit-tightened") rule = `${kebab(subject ?? "limit")}-${sideRule.id.slice("limit-".length)}`;
    this.found.push({ pointer, rule, message: sideRule.say(facts) });
  }

  compare(w: Schema, r: Schema, ptr: string): void {
    if (w === false || acceptsAll(r)) return;
    if (r === false) return this.report(ptr, "schema-false");
    if (w === true) w = {};
    const wo = w;
    const ro = r as Obj;
    if (jsonEqual(wo, ro)) return;
    if (this.visited(wo, ro)) return;

    if ("$ref" in wo || "$ref" in ro) return this.compareRefs(wo, ro, ptr);

    const wm = mergeAllOf(wo);
    if (Array.isArray(ro.allOf)) {
      ro.allOf.forEach((member, i) => this.compare(wm, asSchema(member), pointerJoin(ptr, "allOf", i)));
    }
    if (Array.isArray(wm.anyOf) || Array.isArray(wm.oneOf)) {
      if (!Array.isArray(ro.anyOf) && !Array.isArray(ro.oneOf)) {
        for (const alt of alternatives(wm)) this.compare(alt, withoutCombinators(ro), ptr);
        return;
      }
    }
    if (Array.isArray(ro.anyOf) || Array.isArray(ro.oneOf)) this.compareAlternatives(wm, ro, ptr);
    this.compareNot(wm, ro, ptr);
    this.compareConditional(wm, ro, ptr);
    this.compareLocal(wm, ro, ptr);
  }

  private visited(w: Obj, r: Obj): boolean {
    let set = this.seen.get(w);
    if (!set) this.seen.set(w, (set = new WeakSet()));
    if (set.has(r)) return true;
    set.add(r);
    return false;
  }

  /** Only recursive `$ref`s survive resolution; equal ones point at the same (already compared) place. */
  private compareRefs(w: Obj, r: Obj, ptr: string): void {
    if ("$ref" in r && w.$ref === r.$ref) return;
    if (!("$ref" in r)) return; // a recursive writer is at most as wide as "anything"; compare the reader alone later
    this.report(ptr, "changed-conservatively", undefined, undefined, "a recursive $ref");
  }

  private compareAlternatives(w: Obj, r: Obj, ptr: string): void {
    const key = Array.isArray(r.anyOf) ? "anyOf" : "oneOf";
    const options = (r[key] as unknown[]).map(asSchema).map((alt) => mergeSiblings(withoutCombinators(r), alt));
    const candidates = Array.isArray(w.anyOf) || Array.isArray(w.oneOf) ? alternatives(w) : [withoutCombinators(w)];
    candidates.forEach((cand, i) => {
      const fits = options.some((opt) => compareSchemas(cand, opt, "backward").length === 0);
      if (!fits) {
        const label = candidates.length > 1 ? `alternative ${i}` : "schema";
        this.report(pointerJoin(ptr, key), "any-of", label, label, key);
      }
    });
  }

  private compareNot(w: Obj, r: Obj, ptr: string): void {
    if (r.not === undefined || jsonEqual(w.not, r.not)) return;
    // The reader excludes r.not; that is safe when the writer already excludes at least as much.
    if (w.not !== undefined && compareSchemas(r.not, w.not, "backward").length === 0) return;
    this.report(pointerJoin(ptr, "not"), "changed-conservatively", undefined, undefined, "not");
  }

  private compareConditional(w: Obj, r: Obj, ptr: string): void {
    if (r.if === undefined) return;
    if (jsonEqual(w.if, r.if) && jsonEqual(w.then, r.then) && jsonEqual(w.else, r.else)) return;
    this.report(pointerJoin(ptr, "if"), "changed-conservatively", undefined, undefined, "if/then/else");
  }

  /** Keywords of a single schema object, by instance type. */
  private compareLocal(w: Obj, r: Obj, ptr: string): void {
    const wTypes = typeSet(w);
    const rTypes = typeSet(r);
    const lost = wTypes.filter((t) => !covers(rTypes, t));
    if (lost.length > 0) {
      this.report(pointerJoin(ptr, "type"), "type", showTypes(w.type), showTypes(r.type), lost.join(", "));
    }
    const shared = new Set(wTypes.filter((t) => covers(rTypes, t)));
    this.compareEnum(w, r, ptr);
    if (shared.has("string")) this.compareString(w, r, ptr);
    if (shared.has("number") || shared.has("integer")) this.compareNumber(w, r, ptr);
    if (shared.has("object")) this.compareObject(w, r, ptr);
    if (shared.has("array")) this.compareArray(w, r, ptr);
  }

  private compareEnum(w: Obj, r: Obj, ptr: string): void {
    const rEnum = enumOf(r);
    if (rEnum === undefined) return;
    const wEnum = enumOf(w);
    const at = pointerJoin(ptr, "const" in r ? "const" : "enum");
    if (wEnum === undefined) return this.report(at, "enum-added", undefined, show(rEnum));
    const missing = wEnum.filter((v) => !rEnum.some((x) => jsonEqual(v, x)));
    if (missing.length > 0) this.report(at, "enum-narrowed", show(wEnum), show(rEnum), missing.map((v) => JSON.stringify(v)).join(", "));
  }

  private compareLimits(w: Obj, r: Obj, ptr: string, keywords: readonly string[], upper: boolean): void {
    for (const k of keywords) {
      const rv = r[k];
      if (typeof rv !== "number") continue;
      const wv = w[k];
      if (typeof wv !== "number") this.report(pointerJoin(ptr, k), "limit-added", undefined, String(rv), k);
      else if (upper ? rv < wv : rv > wv) this.report(pointerJoin(ptr, k), "limit-tightened", String(wv), String(rv), k);
    }
  }

  private compareString(w: Obj, r: Obj, ptr: string): void {
    this.compareLimits(w, r, ptr, ["maxLength"], true);
    this.compareLimits(w, r, ptr, ["minLength"], false);
    if (typeof r.pattern === "string" && w.pattern !== r.pattern) this.report(pointerJoin(ptr, "pattern"), "pattern", strOrNone(w.pattern), r.pattern);
    if (typeof r.format === "string" && w.format !== r.format) this.report(pointerJoin(ptr, "format"), "format", strOrNone(w.format), r.format);
  }

  private compareNumber(w: Obj, r: Obj, ptr: string): void {
    this.compareBound(w, r, ptr, "maximum", "exclusiveMaximum", true);
    this.compareBound(w, r, ptr, "minimum", "exclusiveMinimum", false);
    if (typeof r.multipleOf === "number") {
      const wm = w.multipleOf;
      const divides = typeof wm === "number" && isMultiple(wm, r.multipleOf);
      if (!divides) this.report(pointerJoin(ptr, "multipleOf"), "multiple-of", typeof wm === "number" ? String(wm) : undefined, String(r.multipleOf));
    }
  }

  /** maximum and exclusiveMaximum together form one bound (likewise the minimums). */
  private compareBound(w: Obj, r: Obj, ptr: string, inclusive: string, exclusive: string, upper: boolean): void {
    const rb = bound(r, inclusive, exclusive, upper);
    if (!rb) return;
    const wb = bound(w, inclusive, exclusive, upper);
    const at = pointerJoin(ptr, rb.keyword);
    if (!wb) return this.report(at, "limit-added", undefined, String(rb.value), rb.keyword);
    const tighter = upper ? rb.value < wb.value : rb.value > wb.value;
    const sameButExclusive = rb.value === wb.value && rb.exclusive && !wb.exclusive;
    if (tighter || sameButExclusive) this.report(at, "limit-tightened", `${wb.keyword} ${wb.value}`, `${rb.keyword} ${rb.value}`, rb.keyword);
  }

  private compareObject(w: Obj, r: Obj, ptr: string): void {
    const wProps = isObj(w.properties) ? w.properties : {};
    const rProps = isObj(r.properties) ? r.properties : {};
    const wReq = requiredOf(w);
    for (const name of requiredOf(r)) {
      if (!wReq.includes(name) && rProps[name] !== false) this.report(pointerJoin(ptr, "required"), "required", undefined, undefined, name);
    }
    for (const name of Object.keys(rProps)) {
      const rp = asSchema(rProps[name]);
      const at = pointerJoin(ptr, "properties", name);
      if (name in wProps) {
        this.compare(asSchema(wProps[name]), rp, at);
        continue;
      }
      // The writer never declared this name: what it may put there is its schema for "other" names.
      const wOther = otherSchema(w, name);
      if (wOther === false || acceptsAll(rp)) continue;
      if (acceptsAll(wOther)) this.report(at, "property-open-model", undefined, undefined, name);
      else this.compare(wOther, rp, at);
    }
    for (const name of Object.keys(wProps)) {
      if (name in rProps) continue;
      const wp = asSchema(wProps[name]);
      const rOther = otherSchema(r, name);
      if (wp === false || acceptsAll(rOther)) continue;
      const at = pointerJoin(ptr, "properties", name);
      if (rOther === false) this.report(at, "property-closed-model", undefined, undefined, name);
      else this.compare(wp, rOther, at);
    }
    this.comparePatternProperties(w, r, ptr);
    this.compareAdditional(w, r, ptr);
    this.compareLimits(w, r, ptr, ["maxProperties"], true);
    this.compareLimits(w, r, ptr, ["minProperties"], false);
    if (r.propertyNames !== undefined) this.compare(asSchema(w.propertyNames ?? true), asSchema(r.propertyNames), pointerJoin(ptr, "propertyNames"));
    this.compareDependencies(w, r, ptr);
  }

  private comparePatternProperties(w: Obj, r: Obj, ptr: string): void {
    const wPat = isObj(w.patternProperties) ? w.patternProperties : {};
    const rPat = isObj(r.patternProperties) ? r.patternProperties : {};
    for (const pattern of Object.keys(rPat)) {
      const at = pointerJoin(ptr, "patternProperties", pattern);
      if (pattern in wPat) this.compare(asSchema(wPat[pattern]), asSchema(rPat[pattern]), at);
      else if (!acceptsAll(asSchema(rPat[pattern]))) this.report(at, "pattern-property", undefined, undefined, pattern);
    }
    for (const pattern of Object.keys(wPat)) {
      if (pattern in rPat) continue;
      const rAdd = additionalOf(r);
      if (acceptsAll(rAdd)) continue;
      this.report(pointerJoin(ptr, "patternProperties"), "pattern-property", undefined, undefined, pattern);
    }
  }

  /** additionalProperties (or unevaluatedProperties) governs names neither side declares. */
  private compareAdditional(w: Obj, r: Obj, ptr: string): void {
    const wa = additionalOf(w);
    const ra = additionalOf(r);
    const key = r.additionalProperties !== undefined || r.unevaluatedProperties === undefined ? "additionalProperties" : "unevaluatedProperties";
    if (ra === false && wa !== false) return this.report(pointerJoin(ptr, key), "additional-properties");
    this.compare(wa, ra, pointerJoin(ptr, key));
  }

  private compareDependencies(w: Obj, r: Obj, ptr: string): void {
    const wDep = dependentRequired(w);
    for (const [name, needs] of Object.entries(dependentRequired(r))) {
      const had = wDep[name] ?? [];
      const added = needs.filter((n) => !had.includes(n) && !requiredOf(w).includes(n));
      if (added.length > 0) this.report(pointerJoin(ptr, "dependentRequired", name), "dependent-required", show(had), show(added), name);
    }
    const rSchemas = dependentSchemas(r);
    const wSchemas = dependentSchemas(w);
    for (const [name, schema] of Object.entries(rSchemas)) {
      const at = pointerJoin(ptr, "dependentSchemas", name);
      if (name in wSchemas) this.compare(asSchema(wSchemas[name]), asSchema(schema), at);
      else if (!acceptsAll(asSchema(schema))) this.report(at, "changed-conservatively", undefined, undefined, `dependentSchemas "${name}"`);
    }
  }

  private compareArray(w: Obj, r: Obj, ptr: string): void {
    const wa = arrayModel(w);
    const ra = arrayModel(r);
    const n = Math.max(wa.prefix.length, ra.prefix.length);
    for (let i = 0; i < n; i++) {
      const at = i < ra.prefix.length ? pointerJoin(ptr, ra.prefixKey, i) : pointerJoin(ptr, ra.restKey);
      this.compare(wa.prefix[i] ?? wa.rest, ra.prefix[i] ?? ra.rest, at);
    }
    this.compare(wa.rest, ra.rest, pointerJoin(ptr, ra.restKey));
    this.compareLimits(w, r, ptr, ["maxItems"], true);
    this.compareLimits(w, r, ptr, ["minItems"], false);
    if (r.uniqueItems === true && w.uniqueItems !== true) this.report(pointerJoin(ptr, "uniqueItems"), "unique-items");
    if (r.contains !== undefined) {
      if (!jsonEqual(w.contains, r.contains)) this.report(pointerJoin(ptr, "contains"), "changed-conservatively", undefined, undefined, "contains");
      else {
        this.compareLimits(w, r, ptr, ["maxContains"], true);
        this.compareLimits(w, r, ptr, ["minContains"], false);
      }
    }
    if (r.unevaluatedItems !== undefined && !jsonEqual(w.unevaluatedItems, r.unevaluatedItems)) {
      this.compare(asSchema(w.unevaluatedItems ?? true), asSchema(r.unevaluatedItems), pointerJoin(ptr, "unevaluatedItems"));
    }
  }
}

function strOrNone(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function showTypes(t: unknown): string {
  if (t === undefined) return "any type";
  return Array.isArray(t) ? t.map(String).join(" | ") : String(t);
}

function typeSet(s: Obj): string[] {
  const t = s.type;
  const values = enumOf(s);
  if (t === undefined && values !== undefined) return [...new Set(values.map(jsonType))];
  if (t === undefined) return [...ALL_TYPES];
  const list = (Array.isArray(t) ? t : [t]).map(String);
  return list.includes("number") && !list.includes("integer") ? [...list, "integer"] : list;
}

function jsonType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

function covers(types: string[], t: string): boolean {
  return types.includes(t) || (t === "integer" && types.includes("number"));
}

function enumOf(s: Obj): unknown[] | undefined {
  if ("const" in s) return [s.const];
  return Array.isArray(s.enum) ? s.enum : undefined;
}

function requiredOf(s: Obj): string[] {
  return Array.isArray(s.required) ? s.required.map(String) : [];
}

function bound(s: Obj, inclusive: string, exclusive: string, upper: boolean): { value: number; exclusive: boolean; keyword: string } | undefined {
  const inc = typeof s[inclusive] === "number" ? (s[inclusive] as number) : undefined;
  const exc = typeof s[exclusive] === "number" ? (s[exclusive] as number) : undefined;
  if (inc === undefined && exc === undefined) return undefined;
  if (inc === undefined) return { value: exc!, exclusive: true, keyword: exclusive };
  if (exc === undefined) return { value: inc, exclusive: false, keyword: inclusive };
  const excTighter = upper ? exc <= inc : exc >= inc;
  return excTighter ? { value: exc, exclusive: true, keyword: exclusive } : { value: inc, exclusive: false, keyword: inclusive };
}

function isMultiple(value: number, of: number): boolean {
  const q = value / of;
  return Math.abs(q - Math.round(q)) < 1e-9;
}

/** The writer's or reader's schema for a property name it does not list in `properties`. */
function otherSchema(s: Obj, name: string): Schema {
  if (isObj(s.patternProperties)) {
    for (const [pattern, schema] of Object.entries(s.patternProperties)) {
      try {
        if (new RegExp(pattern, "u").test(name)) return asSchema(schema);
      } catch {
        // an invalid pattern is a schema error reported elsewhere
      }
    }
  }
  return additionalOf(s);
}

function additionalOf(s: Obj): Schema {
  if (s.additionalProperties !== undefined) return asSchema(s.additionalProperties);
  if (s.unevaluatedProperties !== undefined) return asSchema(s.unevaluatedProperties);
  return true;
}

function dependentRequired(s: Obj): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const src of [s.dependentRequired, s.dependencies]) {
    if (!isObj(src)) continue;
    for (const [k, v] of Object.entries(src)) if (Array.isArray(v)) out[k] = v.map(String);
  }
  return out;
}

function dependentSchemas(s: Obj): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const src of [s.dependentSchemas, s.dependencies]) {
    if (!isObj(src)) continue;
    for (const [k, v] of Object.entries(src)) if (!Array.isArray(v)) out[k] = v;
  }
  return out;
}

/** Tuple items and the schema for the rest, in both drafts' spellings. */
function arrayModel(s: Obj): { prefix: Schema[]; rest: Schema; prefixKey: string; restKey: string } {
  if (Array.isArray(s.prefixItems)) {
    return { prefix: s.prefixItems.map(asSchema), rest: asSchema(s.items ?? true), prefixKey: "prefixItems", restKey: "items" };
  }
  if (Array.isArray(s.items)) {
    return { prefix: s.items.map(asSchema), rest: asSchema(s.additionalItems ?? true), prefixKey: "items", restKey: "additionalItems" };
  }
  return { prefix: [], rest: asSchema(s.items ?? true), prefixKey: "prefixItems", restKey: "items" };
}

function withoutCombinators(s: Obj): Obj {
  const { anyOf: _a, oneOf: _o, ...rest } = s;
  return rest;
}

function alternatives(s: Obj): Schema[] {
  const list = (Array.isArray(s.anyOf) ? s.anyOf : (s.oneOf as unknown[])).map(asSchema);
  const siblings = withoutCombinators(s);
  return list.map((alt) => mergeSiblings(siblings, alt));
}

/** An alternative together with the keywords beside anyOf/oneOf, which apply to it too. */
function mergeSiblings(siblings: Obj, alt: Schema): Schema {
  if (alt === false) return false;
  if (acceptsAll(siblings)) return alt;
  return mergeAllOf({ ...siblings, allOf: [alt] });
}

/**
 * Folds `allOf` into its parent so the writer can be compared as one schema. Where members
 * disagree on a keyword the first value is kept, which can only make the writer look wider than it
 * is: the checker may then report a change it could have passed, never pass one it should report.
 */
function mergeAllOf(s: Obj): Obj {
  if (!Array.isArray(s.allOf)) return s;
  const { allOf, ...base } = s;
  let out: Obj = { ...base };
  for (const member of allOf) {
    const m = asSchema(member);
    if (m === true) continue;
    if (m === false) return { not: {} };
    out = mergeTwo(out, mergeAllOf(m));
  }
  return out;
}

function mergeTwo(a: Obj, b: Obj): Obj {
  const out: Obj = { ...a };
  for (const [k, v] of Object.entries(b)) {
    if (!(k in out)) {
      out[k] = v;
    } else if (k === "properties" && isObj(out.properties) && isObj(v)) {
      const props: Obj = { ...out.properties };
      for (const [name, schema] of Object.entries(v)) props[name] = name in props ? { allOf: [props[name], schema] } : schema;
      out.properties = props;
    } else if (k === "required" && Array.isArray(v)) {
      out.required = [...new Set([...requiredOf(out), ...v.map(String)])];
    } else if (k === "type") {
      const t = typeSet({ type: v });
      const merged = typeSet(out).filter((x) => t.includes(x));
      out.type = merged.length === 1 ? merged[0] : merged;
    }
  }
  return out;
}
