// Resolves every `$ref` of a version (within the file, to _common/, to other versions) with
// @apidevtools/json-schema-ref-parser, reading from the in-memory snapshot instead of the network
// or disk: the files' paths mirror their `$id`s, so a relative `$ref` such as
// "../_common/money.json#/$defs/Money" means the same thing as a URI and as a path.
import $RefParser from "@apidevtools/json-schema-ref-parser";

export class SchemaResolver {
  /** `byId` maps a document's `$id` (without fragment) to its parsed JSON. */
  constructor(private readonly byId: Map<string, unknown>) {}

  /** The schema with each `$ref` replaced by its target; recursive `$ref`s are left in place. */
  async dereference(id: string, schema: unknown): Promise<unknown> {
    const byId = this.byId;
    const parser = new $RefParser();
    return parser.dereference(id, structuredClone(schema) as object, {
      resolve: {
        file: false,
        http: false,
        registry: {
          order: 1,
          canRead: true,
          read(file: { url: string }) {
            const doc = byId.get(file.url);
            if (doc === undefined) throw new Error(`no schema in the registry has $id ${file.url}`);
            return JSON.stringify(doc);
          },
        },
      },
      dereference: { circular: "ignore" },
    } as never);
  }
}
