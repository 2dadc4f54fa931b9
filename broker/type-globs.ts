// Type globs, the one pattern grammar for event types (API keys' scopes, browser tokens, socket
// subscriptions, subscriptions' `types`): `*` matches within one dot-separated segment, `**`
// across segments (isEventTypeGlob, event-type.ts, says which globs are valid). Here: whether a
// glob matches a type, and the NATS subjects that cover a set of globs, for consumers' filters.
import { ALL_EVENTS_SUBJECT, EVENTS_SUBJECT_PREFIX, subjectCovers, subjectsOverlap } from "./subjects.ts";

const globCache = new Map<string, RegExp>();

/**
 * Whether `pattern` matches `type`: `order.*` allows `order.created` but not `order.item.added`; `order.**` allows both; `**`
 * allows every type.
 */
export function typeMatches(pattern: string, type: string): boolean {
  let re = globCache.get(pattern);
  if (!re) {
    const source = pattern
      .split("**")
      .map((part) =>
        part
          .split("*")
          .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
          .join("[^.]*"),
      )
      .join(".*");
    re = new RegExp(`^${source}$`);
    globCache.set(pattern, re);
  }
  return re.test(type);
}

/**
 * The NATS filter subjects that cover a set of type globs: a segment with `*` becomes `*`, a `**`
 * becomes `>` for the rest. They may cover more than the globs (`order-*.created` →
 * `events.*.created`), so a reader still checks each event's type with typeMatches.
 * NATS refuses overlapping filters in one consumer (2.10): a filter another one covers is dropped
 * (`order.created` beside `order.*`); filters that overlap otherwise fall back to `events.>`.
 */
export function filterSubjects(globs: string[]): string[] {
  const unique = [...new Set(globs.map(globSubject))];
  // Distinct filters cannot cover each other both ways, so this keeps exactly the widest ones.
  const subjects = unique.filter((s, i) => !unique.some((other, j) => j !== i && subjectCovers(other, s)));
  for (let i = 0; i < subjects.length; i++) {
    for (let j = i + 1; j < subjects.length; j++) if (subjectsOverlap(subjects[i]!, subjects[j]!)) return [ALL_EVENTS_SUBJECT];
  }
  return subjects;
}

function globSubject(glob: string): string {
  const tokens: string[] = [];
  for (const segment of glob.split(".")) {
    if (segment.includes("**")) {
      tokens.push(">");
      break;
    }
    tokens.push(segment.includes("*") ? "*" : segment);
  }
  return EVENTS_SUBJECT_PREFIX + tokens.join(".");
}
