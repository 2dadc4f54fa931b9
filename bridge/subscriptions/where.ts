// A subscription's content filter, `where` (issue 14, DESIGN decision 14): a CEL expression over
// the CloudEvent, compiled once per subscription object by @marcbachmann/cel-js (no parser of our
// own) and evaluated once per event and subscription at the matching step (fan-out, ordered runner,
// backfill, replay). An event it is not true for is not delivered; an evaluation error (a missing
// field, no overload) is "no match" too, never a crash: both are counted by the caller.
//
// What the expression sees (all top-level variables):
//   data            the event's data, parsed JSON (absent when it is not JSON)
//   id, source, specversion, subject, datacontenttype, dataschema   the attributes, strings
//   time            the time attribute as a CEL timestamp
//   extensions      every other ce-* attribute, map<string, string>
//   event           every attribute (type included) and data, map<string, dyn>
// `type` is CEL's name of the type of types, so the type attribute is `event.type`; optional
// attributes are tested with `has(event.subject)`.
//
// Numbers: every JSON number is a CEL double, as in CEL's own JSON mapping (google.protobuf.Value),
// whether it is written 150 or 150.5. Comparisons with integer literals work as written
// (`data.total.amount > 100`, `== 150`, `in [1, 2]`); so that `==` type-checks as well as it
// evaluates, `double == int` is given an overload here (the numeric values are compared; `in` with
// a list of ints needs none at run time, where-schema.ts gives the checker one). Arithmetic does not mix kinds in CEL: `data.qty * 2.0`, or `int(data.qty) * 2`.
import { Environment, type ASTNode } from "@marcbachmann/cel-js";
import { isJsonMediaType, type EventEnvelope } from "../../broker/index.ts";
import type { Subscription } from "./model.ts";

export type WhereOutcome = "match" | "no_match" | "error";

/** The attributes that are variables of their own (strings), beside time, extensions, event, data. */
export const STRING_ATTRIBUTES = ["id", "source", "specversion", "subject", "datacontenttype", "dataschema"] as const;
const NAMED_ATTRIBUTES = new Set<string>([...STRING_ATTRIBUTES, "type", "time"]);

/**
 * The environment of a `where`, with `data` of type dyn at run time (an event of any version), or
 * of a type built from a version's schema when the expression is checked against it
 * (where-schema.ts): `dataType` registers those types and names the one of `data`.
 */
export function whereEnvironment(dataType: (env: Environment) => string = () => "dyn"): Environment {
  const env = new Environment({ enableOptionalTypes: true });
  env.registerOperator("double == int", (a: number, b: bigint) => a === Number(b));
  const data = dataType(env);
  for (const name of STRING_ATTRIBUTES) env.registerVariable(name, "string");
  return env
    .registerVariable("time", "google.protobuf.Timestamp")
    .registerVariable("extensions", "map<string, string>")
    .registerVariable("event", "map<string, dyn>")
    .registerVariable("data", data);
}

const runtime = whereEnvironment();

export interface WhereProgram {
  (context: Record<string, unknown>): unknown;
  ast: ASTNode;
}

export type Compiled = { ok: true; program: WhereProgram } | { ok: false; message: string };

/** Parses and type-checks an expression against the run-time environment; the library's message on failure. */
export function compileWhere(expression: string): Compiled {
  let program: WhereProgram;
  try {
    program = runtime.parse(expression) as unknown as WhereProgram;
  } catch (err) {
    return { ok: false, message: celMessage(err) };
  }
  const checked = runtime.check(expression);
  if (!checked.valid) return { ok: false, message: celMessage(checked.error) };
  if (checked.type !== "bool" && checked.type !== "dyn") return { ok: false, message: `must be true or false, but is a ${checked.type}` };
  return { ok: true, program };
}

/** The library's summary (without its source excerpt, which is multi-line). */
export function celMessage(err: unknown): string {
  const e = err as { summary?: unknown; message?: unknown } | undefined;
  if (typeof e?.summary === "string") return e.summary;
  return typeof e?.message === "string" ? e.message.split("\n")[0]! : String(err);
}

// Subscriptions are replaced, never changed in place (as in selection.ts).
type Evaluate = (context: Record<string, unknown>) => unknown;
const programs = new WeakMap<Subscription, Evaluate | null>();

function programOf(sub: Subscription): Evaluate | null {
  const known = programs.get(sub);
  if (known !== undefined) return known;
  // Refused at create/update (model.ts); one that compiles no more (a library upgrade) is an error on every event.
  const compiled = sub.where === undefined ? null : compileWhere(sub.where);
  const p: Evaluate | null = compiled === null ? null : compiled.ok ? compiled.program : () => { throw new Error(compiled.message); };
  programs.set(sub, p);
  return p;
}

const decoder = new TextDecoder();

/** The variables a `where` sees for one event; build it once per event, share it across subscriptions. */
export function whereContext(event: EventEnvelope): Record<string, unknown> {
  const attrs = event.attributes;
  const context: Record<string, unknown> = {};
  const extensions: Record<string, string> = {};
  const all: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "time") {
      const t = new Date(value);
      if (!Number.isNaN(t.getTime())) context.time = all.time = t;
      continue;
    }
    all[name] = value;
    if (!NAMED_ATTRIBUTES.has(name)) extensions[name] = value;
  }
  for (const name of STRING_ATTRIBUTES) if (attrs[name] !== undefined) context[name] = attrs[name];
  if (event.contentType !== undefined) context.datacontenttype = all.datacontenttype = event.contentType;
  if (event.contentType === undefined || isJsonMediaType(event.contentType)) {
    try {
      context.data = all.data = JSON.parse(decoder.decode(event.data));
    } catch {
      // Not JSON after all: `data` stays undefined, and an expression reading it is an error.
    }
  }
  context.extensions = extensions;
  context.event = all;
  return context;
}

/** Whether the event is for this subscription by its `where` (always "match" without one). */
export function whereOutcome(sub: Subscription, context: () => Record<string, unknown>): WhereOutcome {
  const program = programOf(sub);
  if (!program) return "match";
  try {
    const result = program(context());
    if (result === true) return "match";
    return result === false ? "no_match" : "error";
  } catch {
    return "error";
  }
}

/** Evaluates `where` for many subscriptions and one event: the context is built at most once, and only if one has a `where`. */
export class EventFilter {
  private context: Record<string, unknown> | undefined;
  private readonly byExpression = new Map<string, WhereOutcome>();

  constructor(private readonly event: () => EventEnvelope) {}

  outcome(sub: Subscription): WhereOutcome {
    if (sub.where === undefined) return "match";
    let outcome = this.byExpression.get(sub.where);
    if (outcome === undefined) {
      outcome = whereOutcome(sub, () => (this.context ??= whereContext(this.event())));
      this.byExpression.set(sub.where, outcome);
    }
    return outcome;
  }
}
