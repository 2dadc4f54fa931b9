// Durations as people write them in YAML and env vars ("50ms", "5s", "5m", "2h", "5d") or as
// plain milliseconds. One parser so the subscription file, the API and the config agree.
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** A duration as text: a number and an optional unit (no unit: milliseconds); also the OpenAPI `pattern`. */
export const DURATION_PATTERN_SOURCE = "^\\s*(\\d+(?:\\.\\d+)?)\\s*(ms|s|m|h|d)?\\s*$";
const DURATION_PATTERN = new RegExp(DURATION_PATTERN_SOURCE);

/** Milliseconds for a duration, or null when it is not one. */
export function parseDuration(value: unknown): number | null {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? value : null;
  if (typeof value !== "string") return null;
  const match = DURATION_PATTERN.exec(value);
  if (!match) return null;
  return Math.round(Number(match[1]) * UNITS[match[2] ?? "ms"]!);
}
