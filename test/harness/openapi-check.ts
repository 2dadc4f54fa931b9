// Checks real exchanges against an OpenAPI 3.1 document (the edge's worker/http/openapi.ts, the
// bridge admin API's bridge/admin/openapi.ts): every answered status must be documented for its
// route and method, every body must match the documented schema for its media type, and a request
// body that was accepted (2xx) must match the documented request schema, so the document can be
// neither looser nor stricter than the code. Also: the document's own schemas, compiled.
import assert from "node:assert/strict";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import type { Ajv, ValidateFunction } from "ajv";

// ajv-formats is CommonJS: under tsx the default import is the function, under Node's loader the module.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv;

/** One request and its answer as a suite saw it; `body` is parsed JSON for JSON media types, else text. */
export interface Exchange {
  method: string;
  path: string;
  status: number;
  contentType: string;
  body: unknown;
  request?: { contentType: string; body: unknown };
}

type Content = Record<string, { schema?: object }>;
interface Operation {
  requestBody?: { content?: Content };
  responses: Record<string, { content?: Content }>;
}
export interface OpenApiDocument {
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, unknown> };
}

export interface CheckOptions {
  /**
   * Answers for a path or method the document does not describe (a missing route, a missing
   * method), known by status and the end of the problem `type`: checked against the Problem schema.
   */
  unrouted: Array<{ status: number; typeSuffix: string }>;
  /** ajv strict mode: the bridge's document is written for it; the edge's is not (yet). */
  strict: boolean;
}

const DOCUMENT_ID = "https://jetgate.dev/openapi/checked.json";
export const HTTP_METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/** An ajv 2020 instance holding the document's components, so `#/components/schemas/X` resolves. */
export function documentAjv(doc: OpenApiDocument, strict: boolean): { ajv: Ajv2020; compile: (schema: object) => ValidateFunction } {
  const ajv = new Ajv2020({ strict, allowUnionTypes: true, allErrors: true });
  addFormats(ajv);
  // The OpenAPI 3.1 dialect's own schema keywords, and `components` as the container refs point into.
  ajv.addVocabulary(["discriminator", "xml", "externalDocs", "example", "components"]);
  ajv.addSchema({ $id: DOCUMENT_ID, components: doc.components });
  const compile = (schema: object) => ajv.compile(rebase(schema));
  return { ajv, compile };
}

/** Points a schema's document-local refs (`#/components/...`) at the document registered in ajv. */
function rebase(schema: object): object {
  return JSON.parse(JSON.stringify(schema).replaceAll('"$ref":"#/', `"$ref":"${DOCUMENT_ID}#/`)) as object;
}

export function openApiChecker(doc: OpenApiDocument, opts: CheckOptions) {
  const { ajv, compile } = documentAjv(doc, opts.strict);
  const compiled = new Map<string, ValidateFunction>();
  const validator = (key: string, schema: object) => {
    let validate = compiled.get(key);
    if (!validate) compiled.set(key, (validate = compile(schema)));
    return validate;
  };
  const routes = Object.keys(doc.paths)
    .map((template) => ({ template, params: template.split("{").length - 1, pattern: new RegExp("^" + template.replace(/\{[^}]+\}/g, "[^/]+") + "$") }))
    // Prefer the most specific template (a literal path beats /v1/dlq/{seq}).
    .sort((a, b) => a.params - b.params);

  function check(key: string, schema: object, value: unknown, what: string): void {
    const validate = validator(key, schema);
    assert.ok(validate(value), `${what}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(value)?.slice(0, 300)}`);
  }

  /** Asserts every exchange matches the document; answers how many were checked. */
  function assertExchanges(exchanges: Exchange[]): number {
    let checked = 0;
    for (const r of exchanges) {
      const method = r.method.toLowerCase();
      const matching = routes.filter((x) => x.pattern.test(r.path));
      const route = matching.find((x) => doc.paths[x.template]![method]) ?? matching[0];
      const operation = route ? (doc.paths[route.template]![method] as Operation | undefined) : undefined;
      const problemType = (r.body as { type?: unknown } | null)?.type;
      if (!operation && opts.unrouted.some((u) => u.status === r.status && typeof problemType === "string" && problemType.endsWith(u.typeSuffix))) {
        check("unrouted", { $ref: "#/components/schemas/Problem" }, r.body, `${r.method} ${r.path} ${r.status}`);
        checked++;
        continue;
      }
      assert.ok(route, `${r.path} is not in the OpenAPI document`);
      assert.ok(operation, `${r.method} ${route.template} is not in the OpenAPI document`);
      const response = operation.responses[String(r.status)];
      assert.ok(response, `${r.method} ${route.template} answered ${r.status}, which the OpenAPI document does not list`);
      if (r.request && r.status < 300 && operation.requestBody?.content) {
        const mediaType = r.request.contentType.split(";")[0]!.trim();
        const content = operation.requestBody.content[mediaType];
        assert.ok(content, `${r.method} ${route.template} accepted a ${mediaType} body, not documented`);
        if (content.schema) check(`${route.template} ${method} request ${mediaType}`, content.schema, r.request.body, `${r.method} ${route.template} accepted a body the document refuses`);
      }
      if (r.status === 204 || r.status === 304) {
        checked++;
        continue;
      }
      const mediaType = r.contentType.split(";")[0]!.trim();
      const content = response.content?.[mediaType];
      assert.ok(content, `${r.method} ${route.template} ${r.status} answered ${mediaType}, not documented`);
      if (content.schema) check(`${route.template} ${method} ${r.status} ${mediaType}`, content.schema, r.body, `${r.method} ${route.template} ${r.status} ${mediaType}`);
      checked++;
    }
    return checked;
  }

  /** A validator for one component schema (`Problem`, `WsServerFrame`). */
  const component = (name: string) => validator(`component ${name}`, { $ref: `#/components/schemas/${name}` });

  return { assertExchanges, component, errorsText: (v: ValidateFunction) => ajv.errorsText(v.errors) };
}
