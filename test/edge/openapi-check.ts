// Checks recorded real responses against the OpenAPI document the edge serves: every status
// must be documented for its route, and every JSON body must match the documented schema (the
// generic check is test/harness/openapi-check.ts, shared with the bridge's admin API).
import assert from "node:assert/strict";
import { openapi } from "../../worker/http/openapi.ts";
import { openApiChecker, type OpenApiDocument } from "../harness/openapi-check.ts";
import type { Recorded } from "./helpers.ts";

const checker = openApiChecker(openapi as unknown as OpenApiDocument, {
  // A missing route answers the not-found problem, a method the path does not have the
  // method-not-allowed one: OpenAPI describes the methods a path has, so they are checked against Problem alone.
  unrouted: [
    { status: 404, typeSuffix: "/not-found" },
    { status: 405, typeSuffix: "/method-not-allowed" },
  ],
  strict: false,
});

export function assertResponsesMatchOpenApi(responses: Recorded[]): number {
  return checker.assertExchanges(responses);
}

/** Checks frames the edge sent on GET /v1/ws against the document's WsServerFrame; answers how many. */
export function assertServerFramesMatchOpenApi(frames: unknown[]): number {
  const validate = checker.component("WsServerFrame");
  for (const frame of frames) assert.ok(validate(frame), `a server frame is not a WsServerFrame: ${checker.errorsText(validate)} in ${JSON.stringify(frame).slice(0, 300)}`);
  return frames.length;
}
