// The subjects of the broker contract (DESIGN.md, Contracts): an event of type T is published on
// events.T, a dead letter of subscription S on dlq.S. The type grammar (event-type.ts) keeps T to
// plain tokens, so no event lands on a wildcard or outside events.>.

export const EVENTS_SUBJECT_PREFIX = "events.";
export const DLQ_SUBJECT_PREFIX = "dlq.";
/** Every event: the EVENTS stream's subjects, and the widest subscription filter. */
export const ALL_EVENTS_SUBJECT = `${EVENTS_SUBJECT_PREFIX}>`;
/** Every dead letter: the DLQ stream's subjects. */
export const ALL_DEAD_LETTERS_SUBJECT = `${DLQ_SUBJECT_PREFIX}>`;

/** The subject an event of `type` is published on. */
export function eventSubject(type: string): string {
  return EVENTS_SUBJECT_PREFIX + type;
}

/** The event type a subject under events. stands for; a subject outside events.> is returned whole. */
export function eventTypeOfSubject(subject: string): string {
  return subject.startsWith(EVENTS_SUBJECT_PREFIX) ? subject.slice(EVENTS_SUBJECT_PREFIX.length) : subject;
}

/**
 * True when every subject `inner` matches is matched by `outer` (a concrete subject as `inner`:
 * whether the filter `outer` matches it). The edge's fan-out and the bridge's share it.
 */
export function subjectCovers(outer: string, inner: string): boolean {
  const o = outer.split(".");
  const n = inner.split(".");
  for (let i = 0; i < o.length; i++) {
    if (o[i] === ">") return n.length > i;
    if (n[i] === undefined || n[i] === ">") return false;
    if (o[i] !== "*" && (n[i] === "*" || n[i] !== o[i])) return false;
  }
  return o.length === n.length;
}

/** True when some subject matches both filters. */
export function subjectsOverlap(a: string, b: string): boolean {
  const x = a.split(".");
  const y = b.split(".");
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const s = x[i];
    const t = y[i];
    if (s === ">" || t === ">") return s !== undefined && t !== undefined;
    if (s === undefined || t === undefined) return false;
    if (s !== t && s !== "*" && t !== "*") return false;
  }
  return true;
}
