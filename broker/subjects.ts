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
