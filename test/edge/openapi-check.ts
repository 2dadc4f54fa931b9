// Checks recorded real responses against the OpenAPI document the edge serves: every status
// must be documented for its route, and every JSON body must match the documented schema.
import assert from "node:assert/strict";
import { Ajv2020 } from "ajv/dist/2020.js";
import { openapi } from "../../worker/http/openapi.ts";
import type { Recorded } from "./helpers.ts";

type Operation = { responses: Record<string, { content?: Record<string, { schema?: unknown }> }> };
const doc = openapi as unknown as { paths: Record<string, Record<string, Operation>>; components: unknown };

const routes = Object.keys(doc.paths).map((template) => ({
  template,
  pattern: new RegExp("^" + template.replace(/\{[^}]+\}/g, "[^/]+") + "$"),
}));

export function assertResponsesMatchOpenApi(responses: Recorded[]): number {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const compiled = new Map<string, ReturnType<typeof ajv.compile>>();
  let checked = 0;
  for (const r of responses) {
    // Prefer the most specific template (a literal path beats /v1/events/{type}).
    const route = routes.filter((x) => x.pattern.test(r.path)).sort((a, b) => a.template.split("{").length - b.template.split("{").length)[0];
    // Unknown routes answer the not-found problem, which no path of the document describes.
    if (!route && r.status === 404 && (r.body as { type?: string }).type?.endsWith("/not-found")) continue;
    assert.ok(route, `${r.path} is not in the OpenAPI document`);
    const operation = doc.paths[route.template]![r.method.toLowerCase()];
    // A method the path does not have answers the method-not-allowed problem: OpenAPI describes
    // the methods a path has, not the others, so the body is checked against Problem alone.
    if (!operation && r.status === 405 && (r.body as { type?: string }).type?.endsWith("/method-not-allowed")) {
      const validate = ajv.compile({ components: doc.components, $ref: "#/components/schemas/Problem" });
      assert.ok(validate(r.body), `${r.method} ${route.template} 405: ${ajv.errorsText(validate.errors)}`);
      checked++;
      continue;
    }
    assert.ok(operation, `${r.method} ${route.template} is not in the OpenAPI document`);
    const response = operation.responses[String(r.status)];
    assert.ok(response, `${r.method} ${route.template} answered ${r.status}, which the OpenAPI document does not list`);
    if (r.status === 304) continue;
    const mediaType = r.contentType.split(";")[0]!.trim();
    const content = response.content?.[mediaType];
    assert.ok(content, `${r.method} ${route.template} ${r.status} answered ${mediaType}, not documented`);
    if (!content.schema) continue;
    const key = `${route.template} ${r.method} ${r.status} ${mediaType}`;
    let validate = compiled.get(key);
    if (!validate) {
      validate = ajv.compile({ components: doc.components, ...(content.schema as object) });
      compiled.set(key, validate);
    }
    assert.ok(validate(r.body), `${key}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(r.body).slice(0, 300)}`);
    checked++;
  }
  return checked;
}

/** Checks frames the edge sent on GET /v1/ws against the document's WsServerFrame; answers how many. */
export function assertServerFramesMatchOpenApi(frames: unknown[]): number {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const validate = ajv.compile({ components: doc.components, $ref: "#/components/schemas/WsServerFrame" });
  for (const frame of frames) assert.ok(validate(frame), `a server frame is not a WsServerFrame: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(frame).slice(0, 300)}`);
  return frames.length;
}
