// Which other registry documents a schema reaches through `$ref`, transitively. Used to notice a
// released version that changed through a shared definition, and to key the build cache.

/** `$ref` targets of one document, as absolute document URIs (fragment dropped), itself excluded. */
function directRefs(json: unknown, id: string): string[] {
  const found = new Set<string>();
  const walk = (node: unknown): void => {
    if (typeof node !== "object" || node === null) return;
    if (Array.isArray(node)) return node.forEach(walk);
    for (const [k, v] of Object.entries(node)) {
      if ((k === "$ref" || k === "$dynamicRef") && typeof v === "string") {
        try {
          const target = new URL(v, id);
          target.hash = "";
          if (target.href !== id) found.add(target.href);
        } catch {
          // not a URI reference: ajv reports it
        }
      } else if (k !== "enum" && k !== "const" && k !== "examples" && k !== "default") {
        walk(v);
      }
    }
  };
  walk(json);
  return [...found].sort();
}

/** All documents reachable from `id` (not including it), sorted. */
export function refClosure(id: string, byId: Map<string, unknown>): string[] {
  const seen = new Set<string>();
  const pending = [id];
  while (pending.length > 0) {
    const cur = pending.pop()!;
    const json = byId.get(cur);
    if (json === undefined) continue;
    for (const dep of directRefs(json, cur)) {
      if (dep !== id && !seen.has(dep)) {
        seen.add(dep);
        pending.push(dep);
      }
    }
  }
  return [...seen].sort();
}
