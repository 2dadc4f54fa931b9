// Which events a subscription selects by type, and the version it pins for a type (issue 14).
// A subscription names either one `filter` subject under events. (the way to say "everything",
// `events.>`, or any NATS pattern) or a list of `types`: type globs of the edge's grammar
// (`order.*`, `payment.settled`, `order.**`; broker/type-globs.ts), each optionally pinned to a
// version of an exact type (`order.created@1`). Types map to subjects as socket subscriptions'
// do (filterSubjects): a consumer or a scan reads the covering subjects and checks each event's
// type against the globs, so a subject wider than the globs never delivers more.
import { ALL_EVENTS_SUBJECT, eventTypeOfSubject, filterSubjects, isEventType, isEventTypeGlob, subjectCovers, typeMatches } from "../../broker/index.ts";
import type { Subscription } from "./model.ts";

export interface TypeEntry {
  glob: string;
  /** The version deliveries of this (exact) type are shaped for. */
  version?: number;
}

/** At most this many entries in `types`. */
export const MAX_TYPE_ENTRIES = 64;

const PINNED = /^(.+)@([1-9][0-9]{0,8})$/;

/** `order.*` → {glob}; `order.created@2` → {glob: "order.created", version: 2}; null if invalid. */
export function parseTypeEntry(entry: string): TypeEntry | null {
  const pinned = PINNED.exec(entry);
  if (pinned) return isEventType(pinned[1]!) ? { glob: pinned[1]!, version: Number(pinned[2]) } : null;
  return isEventTypeGlob(entry) ? { glob: entry } : null;
}

/** What is wrong with `types` as given, per entry; empty when it is valid. */
export function typesProblems(types: unknown): Array<{ path: string; message: string }> {
  if (!Array.isArray(types) || types.length === 0 || types.length > MAX_TYPE_ENTRIES) {
    return [{ path: "types", message: `must be a list of 1 to ${MAX_TYPE_ENTRIES} type patterns like order.*, payment.settled or order.created@1` }];
  }
  const problems: Array<{ path: string; message: string }> = [];
  const pins = new Map<string, number>();
  for (const [i, entry] of types.entries()) {
    const parsed = typeof entry === "string" ? parseTypeEntry(entry) : null;
    if (!parsed) {
      problems.push({ path: `types[${i}]`, message: "must be a type glob (order.*, order.**, payment.settled) or an exact type pinned to a version (order.created@1)" });
    } else if (parsed.version !== undefined) {
      const other = pins.get(parsed.glob);
      if (other !== undefined && other !== parsed.version) problems.push({ path: `types[${i}]`, message: `pins ${parsed.glob} to v${parsed.version}, but another entry pins it to v${other}` });
      pins.set(parsed.glob, parsed.version);
    }
  }
  return problems;
}

interface Selection {
  key: string;
  globs: string[] | undefined;
  pins: Map<string, number>;
  subjects: string[];
}

// Subscriptions are replaced, never changed in place, so a parsed selection can hang off the object.
const selections = new WeakMap<Subscription, Selection>();

function selectionOf(sub: Subscription): Selection {
  let s = selections.get(sub);
  if (!s) {
    if (sub.types) {
      const entries = sub.types.map((t) => parseTypeEntry(t)).filter((e): e is TypeEntry => e !== null);
      const globs = entries.map((e) => e.glob);
      s = {
        key: `types:${sub.types.join(",")}`,
        globs,
        pins: new Map(entries.filter((e) => e.version !== undefined).map((e) => [e.glob, e.version!])),
        subjects: filterSubjects(globs),
      };
    } else {
      const filter = sub.filter ?? ALL_EVENTS_SUBJECT;
      s = { key: `filter:${filter}`, globs: undefined, pins: new Map(), subjects: [filter] };
    }
    selections.set(sub, s);
  }
  return s;
}

/** Equal for subscriptions that select the same events by type (the fan-out matches each key once per event). */
export function selectionKey(sub: Subscription): string {
  return selectionOf(sub).key;
}

/** True when the subscription selects events published on `subject` (an events.<type> subject). */
export function selectsSubject(sub: Subscription, subject: string): boolean {
  const s = selectionOf(sub);
  if (!s.globs) return subjectCovers(s.subjects[0]!, subject);
  const type = eventTypeOfSubject(subject);
  return s.globs.some((glob) => typeMatches(glob, type));
}

/** The NATS subjects a consumer of this subscription filters on (they may cover more than it selects). */
export function coveringSubjects(sub: Subscription): string[] {
  return selectionOf(sub).subjects;
}

/** One subject covering the subscription, for reads that take a single one (direct gets by subject). */
export function coveringSubject(sub: Subscription): string {
  const subjects = coveringSubjects(sub);
  return subjects.length === 1 ? subjects[0]! : ALL_EVENTS_SUBJECT;
}

/** The version the subscription pins for `type`, if it pins one. */
export function pinnedVersion(sub: Subscription, type: string): number | undefined {
  return selectionOf(sub).pins.get(type);
}

/** Every pin of the subscription: type → version. */
export function pins(sub: Subscription): ReadonlyMap<string, number> {
  return selectionOf(sub).pins;
}
