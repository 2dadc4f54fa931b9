// A subscription's `where` checked against the loaded registry build when it is created or
// changed (issue 14): every version of every registered type the subscription selects
// (selection.ts) is given to the schema checker (where-schema.ts); what it finds is a 422
// `where-invalid` naming the paths and the versions. Without a loaded registry, or when the
// subscription selects no registered type, the expression was only compiled (model.ts).
import { eventSubject } from "../../broker/index.ts";
import { BridgeError } from "../errors.ts";
import type { RegistrySource } from "../registry/index.ts";
import type { Subscription } from "./model.ts";
import { selectsSubject } from "./selection.ts";
import { checkWhereAgainstSchemas, type SchemaVersion } from "./where-schema.ts";

export function checkWhere(sub: Subscription, registry: RegistrySource | undefined): void {
  const loaded = registry?.current();
  if (!loaded || sub.where === undefined) return;
  const versions: SchemaVersion[] = [];
  for (const type of loaded.types()) {
    if (!selectsSubject(sub, eventSubject(type))) continue;
    for (const version of loaded.versions(type)) versions.push({ type, version, schema: loaded.dereferenced(type, version) ?? {} });
  }
  const errors = checkWhereAgainstSchemas(sub.where, versions);
  if (errors.length === 0) return;
  throw new BridgeError("WHERE_INVALID", `where: ${errors.map((e) => e.message).join("; ")}`, {
    registryCommit: loaded.commit,
    errors: errors.map((e) => ({ path: e.path, field: "where", ...(e.pointer === undefined ? {} : { pointer: e.pointer }), versions: e.versions, message: e.message })),
  });
}
