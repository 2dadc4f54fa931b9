// Shaping for pinned versions (issue 14, DESIGN.md decision 14): a subscription that pins a type
// (`types: ["order.created@1"]`) gets each event of that type in the pinned version's shape. The
// data goes as it is when it validates against the pinned version; otherwise it is projected onto
// it (a copy, with what the version's closed objects do not define dropped; nothing is invented)
// and goes if the projection validates. Either way `dataschema` names the pinned version's `$id`.
// An event that cannot be shaped is a schema-mismatch: the caller dead-letters it at once, with
// this problem (the versions, ajv's errors with their JSON pointers), since no retry can change it.
// Called once per delivery attempt, by the shared task worker and the ordered runners alike.
import { DEFAULT_DATA_CONTENT_TYPE, isJsonMediaType, percentEncode, type EventEnvelope } from "../../broker/index.ts";
import type { SchemaError } from "../../registry/compiled.ts";
import type { LoadedRegistry, RegistrySource } from "../registry/index.ts";
import { pinnedVersion } from "../subscriptions/selection.ts";
import type { Subscription } from "../subscriptions/model.ts";

/** The problem type of an event that cannot be shaped for the pinned version. */
export const SCHEMA_MISMATCH = "https://jetgate.dev/problems/bridge/schema-mismatch";

/** At most this many validation errors travel with a dead letter. */
const MAX_ERRORS = 20;

export interface SchemaMismatch {
  type: typeof SCHEMA_MISMATCH;
  title: "The event cannot be shaped for the pinned version";
  detail: string;
  eventType: string;
  /** The version the subscription pins. */
  pinnedVersion: number;
  /** The version the event's `dataschema` names, when it names one of the registry. */
  eventVersion: number | null;
  dataschema: string | null;
  /** The registry build consulted (its commit), null when none is loaded. */
  registryCommit: string | null;
  /** ajv's errors against the pinned version, after projection (instancePath is an RFC 6901 pointer). */
  errors: Array<Pick<SchemaError, "instancePath" | "schemaPath" | "keyword" | "params" | "message">>;
}

export type Shaped =
  | { ok: true; event: EventEnvelope; shaped: "unpinned" | "as-is" | "projected" }
  | { ok: false; problem: SchemaMismatch };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function shapeForSubscription(source: RegistrySource | undefined, sub: Subscription, event: EventEnvelope): Shaped {
  const pinned = pinnedVersion(sub, event.type);
  if (pinned === undefined) return { ok: true, event, shaped: "unpinned" };
  const registry = source?.current();
  const dataschema = event.attributes.dataschema ?? null;
  const mismatch = (detail: string, errors: SchemaError[] = [], eventVersion: number | null = null): Shaped => ({
    ok: false,
    problem: {
      type: SCHEMA_MISMATCH,
      title: "The event cannot be shaped for the pinned version",
      detail,
      eventType: event.type,
      pinnedVersion: pinned,
      eventVersion,
      dataschema,
      registryCommit: registry?.commit ?? null,
      errors: errors.slice(0, MAX_ERRORS).map(({ instancePath, schemaPath, keyword, params, message }) => ({ instancePath, schemaPath, keyword, params, ...(message ? { message } : {}) })),
    },
  });
  if (!registry) return mismatch(`${event.type} is pinned to v${pinned}, but the bridge has no registry build loaded (JETGATE_BRIDGE_REGISTRY)`);
  const id = registry.idOf(event.type, pinned);
  if (!id) return mismatch(`${event.type} is pinned to v${pinned}, which the registry does not have (it has ${versionsText(registry, event.type)})`);
  const eventVersion = dataschema ? (registry.versionOfSchemaId(dataschema)?.version ?? null) : null;
  const from = eventVersion === null ? "the event" : `the v${eventVersion} event`;
  if (!isJsonMediaType(event.contentType || DEFAULT_DATA_CONTENT_TYPE)) return mismatch(`${from} has ${event.contentType} data, and only JSON data can be shaped for ${event.type} v${pinned}`, [], eventVersion);
  let data: unknown;
  try {
    data = JSON.parse(decoder.decode(event.data));
  } catch {
    return mismatch(`${from}'s data is not JSON, so it cannot be shaped for ${event.type} v${pinned}`, [], eventVersion);
  }
  if (registry.strictValidator(event.type, pinned)!(data)) return { ok: true, event: withDataschema(event, id), shaped: "as-is" };
  const projected = structuredClone(data);
  registry.project(event.type, pinned, projected);
  const result = registry.check(event.type, pinned, projected);
  if (!result.valid) return mismatch(`${from} of ${event.type} cannot be shaped for the pinned v${pinned}: ${result.errors.slice(0, 3).map(describe).join("; ")}`, result.errors, eventVersion);
  return { ok: true, event: withDataschema({ ...event, data: encoder.encode(JSON.stringify(projected)) }, id), shaped: "projected" };
}

/** The event with `dataschema` naming `id`, in the decoded attributes and as it travels in headers. */
function withDataschema(event: EventEnvelope, id: string): EventEnvelope {
  if (event.attributes.dataschema === id) return event;
  return { ...event, attributes: { ...event.attributes, dataschema: id }, headerAttributes: { ...event.headerAttributes, dataschema: percentEncode(id) } };
}

function versionsText(registry: LoadedRegistry, type: string): string {
  const versions = registry.versions(type);
  return versions.length === 0 ? `no type ${type}` : versions.map((v) => `v${v}`).join(", ");
}

function describe(e: SchemaError): string {
  const at = e.instancePath === "" ? "/" : e.instancePath;
  if (e.keyword === "required") return `${at} lacks ${String((e.params as { missingProperty?: unknown }).missingProperty)}`;
  return `${at} ${e.message ?? e.keyword}`;
}
