// A subscription's pinned versions checked against the loaded registry build when it is created
// or changed (issue 14): pinning a version the registry does not have is refused with a 422 that
// names the type and the versions it has. Without a loaded registry nothing can be checked, and
// such an event becomes a schema-mismatch dead letter at delivery (delivery/shape.ts).
import { BridgeError } from "../errors.ts";
import type { RegistrySource } from "../registry/index.ts";
import type { Subscription } from "./model.ts";
import { pins } from "./selection.ts";

export function checkPins(sub: Subscription, registry: RegistrySource | undefined): void {
  const loaded = registry?.current();
  if (!loaded) return;
  const unknown: Array<{ path: string; eventType: string; pinned: number; versions: number[]; message: string }> = [];
  for (const [type, version] of pins(sub)) {
    if (loaded.has(type, version)) continue;
    const versions = loaded.versions(type);
    const index = sub.types?.findIndex((t) => t === `${type}@${version}`) ?? -1;
    const has = versions.length === 0 ? "has no such type" : `has ${versions.map((v) => `v${v}`).join(", ")}`;
    unknown.push({ path: `types[${index}]`, eventType: type, pinned: version, versions, message: `pins ${type} to v${version}, but the registry ${has}` });
  }
  if (unknown.length === 0) return;
  throw new BridgeError("PINNED_VERSION_UNKNOWN", unknown.map((u) => `${u.path} ${u.message}`).join("; "), {
    registryCommit: loaded.commit,
    errors: unknown,
  });
}
