// The built registry, served read-only: GET /v1/schemas, /v1/schemas/{type},
// /v1/schemas/{type}/versions/{n}. A schema document's ETag is its content hash from the manifest;
// the list and the type entries are hashed once on first use (they never change within a build).
import type { Context, Hono } from "hono";
import type { AppEnv } from "./context.ts";
import { EdgeError } from "./problems.ts";
import type { RegistryView } from "../events/schema-registry.ts";
import { versionKey, type ManifestType } from "../../registry/compiled.ts";

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** RFC 9110 §13.1.2: a weak or strong match against any listed tag, or `*`. */
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === "*") return true;
  return ifNoneMatch.split(",").some((tag) => tag.trim().replace(/^W\//, "") === etag);
}

function cached(c: Context<AppEnv>, etag: string, body: string, contentType: string): Response {
  const headers = { etag, "cache-control": "public, max-age=60", "content-type": contentType };
  if (matches(c.req.header("if-none-match"), etag)) return new Response(null, { status: 304, headers });
  return new Response(body, { status: 200, headers });
}

function typeSummary(entry: ManifestType) {
  return {
    type: entry.type,
    description: entry.description,
    compatibility: entry.compatibility,
    owners: entry.owners,
    deprecated: entry.deprecated,
    latest: entry.latest,
    versions: entry.versions.map((v) => ({ version: v.version, id: v.id, hash: v.hash })),
  };
}

export function registerSchemaRoutes(app: Hono<AppEnv>, registry: RegistryView): void {
  const bodies = new Map<string, { etag: string; body: string }>();
  const once = async (key: string, make: () => unknown) => {
    let hit = bodies.get(key);
    if (!hit) {
      const body = JSON.stringify(make());
      hit = { etag: `"${await sha256Hex(body)}"`, body };
      bodies.set(key, hit);
    }
    return hit;
  };
  const manifest = registry.compiled.manifest;
  const entryOf = (type: string) => {
    const entry = registry.typeEntry(type);
    if (!entry) throw new EdgeError("UNKNOWN_TYPE", `the event type "${type}" is not registered`, { eventType: type });
    return entry;
  };

  app.get("/v1/schemas", async (c) => {
    const { etag, body } = await once("list", () => ({
      commit: manifest.commit,
      builtAt: manifest.builtAt,
      types: Object.values(manifest.types).map(typeSummary),
    }));
    return cached(c, etag, body, "application/json");
  });

  app.get("/v1/schemas/:type", async (c) => {
    const entry = entryOf(c.req.param("type"));
    const { etag, body } = await once(`type:${entry.type}`, () => typeSummary(entry));
    return cached(c, etag, body, "application/json");
  });

  app.get("/v1/schemas/:type/versions/:n", (c) => {
    const entry = entryOf(c.req.param("type"));
    const n = Number(c.req.param("n").replace(/^v/, ""));
    const version = entry.versions.find((v) => v.version === n);
    const schema = version && registry.compiled.schemas[versionKey(entry.type, n)];
    if (!version || !schema) {
      throw new EdgeError("UNKNOWN_SCHEMA_VERSION", `"${entry.type}" has no version ${c.req.param("n")}`, { eventType: entry.type });
    }
    return cached(c, `"${version.hash}"`, JSON.stringify(schema), "application/schema+json");
  });
}
