// The event-type grammar (DESIGN.md, Contracts): lower-case words joined by ".", "_" or "-", at
// most 128 characters. A type becomes the NATS subject events.<type> (subjects.ts), so this grammar
// is what keeps a client from naming a wildcard (`*`, `>`), an empty token or another prefix.
// Written once for the edge (refuses other types), the registry (lints type names), the edge's
// OpenAPI document (`pattern`) and the bridge (subscription filters are built from type segments).

/** A word: lower-case ASCII letters and digits. */
const WORD = "[a-z0-9]+";
/** Words inside one segment join with "_" or "-". */
const IN_SEGMENT_JOINERS = "_-";
/** "." joins words too, and splits a type into segments, as it splits a NATS subject into tokens. */
const SEGMENT_SEPARATOR = ".";

/** `^[a-z0-9]+(?:[._-][a-z0-9]+)*$`, the source of EVENT_TYPE_PATTERN and the OpenAPI `pattern`. */
export const EVENT_TYPE_PATTERN_SOURCE = `^${WORD}(?:[${SEGMENT_SEPARATOR}${IN_SEGMENT_JOINERS}]${WORD})*$`;
export const EVENT_TYPE_PATTERN = new RegExp(EVENT_TYPE_PATTERN_SOURCE);
export const EVENT_TYPE_MAX_LENGTH = 128;

/** `^[a-z0-9]+(?:[_-][a-z0-9]+)*$`: one segment, so a type is its segments joined by ".". */
const SEGMENT_PATTERN = new RegExp(`^${WORD}(?:[${IN_SEGMENT_JOINERS}]${WORD})*$`);

/** True for a valid event type. The length is checked first, so a long input costs no regex run. */
export function isEventType(value: string): boolean {
  return value.length <= EVENT_TYPE_MAX_LENGTH && EVENT_TYPE_PATTERN.test(value);
}

/**
 * True for one segment of a type (the text between two dots, one NATS subject token). Subscription
 * filters are made of these, `*` and a final `>`, so a filter can name every type and nothing else.
 */
export function isEventTypeSegment(value: string): boolean {
  return SEGMENT_PATTERN.test(value);
}

/**
 * True for a type glob as API keys and browser tokens hold them (worker/auth/keys.ts typeMatches):
 * dot-separated segments, each `**` (any run of segments), or a segment of the type grammar in
 * which `*` stands for any text within the segment (`order.*`, `order.**`, `order-*.created`,
 * `**`). A glob no valid type could match (`Order.*`, `order..x`, `a**b`) is refused, so a key's
 * scope is never silently empty.
 */
export function isEventTypeGlob(value: string): boolean {
  if (value.length === 0 || value.length > EVENT_TYPE_MAX_LENGTH) return false;
  return value.split(SEGMENT_SEPARATOR).every((segment) => {
    if (segment === "**" || segment === "*") return true;
    if (segment.includes("**")) return false;
    // Each `*` may stand for a word; what is left around it must read as a segment.
    return SEGMENT_PATTERN.test(segment.replaceAll("*", "x"));
  });
}
