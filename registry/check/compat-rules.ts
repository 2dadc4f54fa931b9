// The compatibility rule table. The checker (compat.ts) asks one question everywhere: does the
// *reader* accept everything the *writer* accepts? BACKWARD puts the old version in the writer's
// seat and the new one in the reader's (old producers, new consumers); FORWARD swaps them. Each
// rule therefore has two names and two sentences, one per direction, both said in terms of the
// change from the old version to the new one, so an author reads what they did, not which way
// round the algorithm looked. Modelled on Confluent Schema Registry's JSON Schema rules
// (io.confluent.kafka.schemaregistry.json.diff.Difference.Type), with the deviations docs/schema-authors.md lists.

export type Direction = "backward" | "forward";

/** What the rule saw: `old`/`new` are the values in the old and new version, `subject` names a property or keyword. */
export interface RuleFacts {
  old?: string;
  new?: string;
  subject?: string;
}

interface RuleSide {
  id: string;
  say: (f: RuleFacts) => string;
}

export interface RuleRow {
  /** The change that makes the new version refuse something (BACKWARD breaks). */
  backward: RuleSide;
  /** The change that makes the new version produce something the old one refuses (FORWARD breaks). */
  forward: RuleSide;
}

const side = (id: string, say: (f: RuleFacts) => string): RuleSide => ({ id, say });

export const RULES = {
  "schema-false": {
    backward: side("schema-false-added", () => "the new version rejects every value here (schema `false`)"),
    forward: side("schema-false-removed", () => "the new version accepts values here that the old version rejects outright (schema `false`)"),
  },
  type: {
    backward: side("type-narrowed", (f) => `type narrowed from ${f.old} to ${f.new}: values of type ${f.subject} that the old version accepted are now rejected`),
    forward: side("type-widened", (f) => `type widened from ${f.old} to ${f.new}: values of type ${f.subject} are not accepted by the old version`),
  },
  "enum-narrowed": {
    backward: side("enum-value-removed", (f) => `enum value(s) ${f.subject} removed: events carrying them are now rejected`),
    forward: side("enum-value-added", (f) => `enum value(s) ${f.subject} added: the old version rejects them`),
  },
  "enum-added": {
    backward: side("enum-added", (f) => `an enum ${f.new} was added where any value was accepted`),
    forward: side("enum-removed", (f) => `the enum ${f.old} was removed: the old version accepts only those values`),
  },
  "limit-added": {
    backward: side("limit-added", (f) => `${f.subject} ${f.new} added: values beyond it are now rejected`),
    forward: side("limit-removed", (f) => `${f.subject} ${f.old} removed: the old version rejects values beyond it`),
  },
  "limit-tightened": {
    backward: side("limit-tightened", (f) => `${f.subject} tightened from ${f.old} to ${f.new}: values between the two are now rejected`),
    forward: side("limit-relaxed", (f) => `${f.subject} relaxed from ${f.old} to ${f.new}: the old version rejects values between the two`),
  },
  "multiple-of": {
    backward: side("multiple-of-changed", (f) => `multipleOf changed from ${f.old ?? "none"} to ${f.new}: numbers the old version accepted are now rejected`),
    forward: side("multiple-of-changed", (f) => `multipleOf changed from ${f.old} to ${f.new ?? "none"}: the old version rejects numbers the new one accepts`),
  },
  pattern: {
    backward: side("pattern-changed", (f) => `pattern changed from ${f.old ?? "none"} to ${f.new}: strings the old version accepted may now be rejected`),
    forward: side("pattern-changed", (f) => `pattern changed from ${f.old} to ${f.new ?? "none"}: the old version may reject strings the new one accepts`),
  },
  format: {
    backward: side("format-changed", (f) => `format changed from ${f.old ?? "none"} to ${f.new}: strings the old version accepted may now be rejected`),
    forward: side("format-changed", (f) => `format changed from ${f.old} to ${f.new ?? "none"}: the old version may reject strings the new one accepts`),
  },
  required: {
    backward: side("required-added", (f) => `property "${f.subject}" became required: events without it are now rejected`),
    forward: side("required-removed", (f) => `property "${f.subject}" is no longer required: the old version rejects events without it`),
  },
  "property-open-model": {
    backward: side("property-added-to-open-model", (f) => `property "${f.subject}" was added, but the old version's content model is open (no additionalProperties: false), so old events may already carry "${f.subject}" with any value`),
    forward: side("property-removed-from-open-model", (f) => `property "${f.subject}" was removed while the new version's content model is open, so new events may carry "${f.subject}" with values the old version rejects`),
  },
  "property-closed-model": {
    backward: side("property-removed-from-closed-model", (f) => `property "${f.subject}" was removed, but additionalProperties is false, so old events carrying it are now rejected`),
    forward: side("property-added-to-closed-model", (f) => `property "${f.subject}" was added, but the old version is closed (additionalProperties: false) and rejects events carrying it`),
  },
  "additional-properties": {
    backward: side("additional-properties-closed", () => "additionalProperties became false: old events with other properties are now rejected"),
    forward: side("additional-properties-opened", () => "additionalProperties is no longer false: the old version rejects events with other properties"),
  },
  "pattern-property": {
    backward: side("pattern-property-added", (f) => `patternProperties "${f.subject}" added or changed: matching properties of old events may now be rejected`),
    forward: side("pattern-property-removed", (f) => `patternProperties "${f.subject}" removed or changed: the old version may reject matching properties`),
  },
  "dependent-required": {
    backward: side("dependent-required-added", (f) => `dependentRequired for "${f.subject}" added ${f.new}: events without them are now rejected`),
    forward: side("dependent-required-removed", (f) => `dependentRequired for "${f.subject}" removed ${f.old}: the old version rejects events without them`),
  },
  "unique-items": {
    backward: side("unique-items-added", () => "uniqueItems added: arrays with duplicates are now rejected"),
    forward: side("unique-items-removed", () => "uniqueItems removed: the old version rejects arrays with duplicates"),
  },
  "changed-conservatively": {
    backward: side("constraint-changed", (f) => `${f.subject} changed; the checker cannot prove the new version accepts everything the old one did`),
    forward: side("constraint-changed", (f) => `${f.subject} changed; the checker cannot prove the old version accepts everything the new one does`),
  },
  "any-of": {
    backward: side("alternative-removed", (f) => `no alternative of the new ${f.subject} accepts what the old version's ${f.old} accepted`),
    forward: side("alternative-added", (f) => `the new version's ${f.new} is not accepted by any alternative of the old ${f.subject}`),
  },
} satisfies Record<string, RuleRow>;

export type RuleKind = keyof typeof RULES;

/** Every rule id either direction can report, for the docs and tests. */
export function allRuleIds(): string[] {
  const ids = new Set<string>();
  for (const row of Object.values(RULES) as RuleRow[]) {
    ids.add(row.backward.id);
    ids.add(row.forward.id);
  }
  return [...ids].sort();
}
