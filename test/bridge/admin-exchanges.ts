// Requests to a bridge's admin API that remember every exchange, so a suite can end by checking
// all the real answers it got against the API's OpenAPI document (bridge/admin/openapi.ts) with
// the shared checker (test/harness/openapi-check.ts).
import { adminOpenApi } from "../../bridge/admin/openapi.ts";
import { openApiChecker, type Exchange, type OpenApiDocument } from "../harness/openapi-check.ts";

const checker = openApiChecker(adminOpenApi as unknown as OpenApiDocument, {
  // A path or method of no route answers the not-found problem (api.ts notFound); under /v1 the
  // token check and the body limit come first, so such a request may meet those refusals instead.
  unrouted: [
    { status: 404, typeSuffix: "/not-found" },
    { status: 401, typeSuffix: "/unauthorized" },
    { status: 413, typeSuffix: "/body-too-large" },
    { status: 503, typeSuffix: "/admin-disabled" },
  ],
  strict: true,
});

/** Asserts that each exchange matches the document; answers how many were checked. */
export function assertAdminExchangesMatchOpenApi(exchanges: Exchange[]): number {
  return checker.assertExchanges(exchanges);
}

/** A body as the checker takes it: parsed JSON for a JSON media type, else the text. */
export function parseBody(contentType: string, text: string): unknown {
  if (!/json/i.test(contentType) || text === "") return text;
  return JSON.parse(text) as unknown;
}

export class AdminExchanges {
  readonly exchanges: Exchange[] = [];

  /** fetch(), and the exchange remembered (the answer is cloned: the caller reads it as usual). */
  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const res = await fetch(url, init);
    const contentType = res.headers.get("content-type") ?? "";
    const requestType = new Headers(init.headers).get("content-type") ?? "";
    const body = typeof init.body === "string" ? init.body : undefined;
    this.exchanges.push({
      method: init.method ?? "GET",
      path: new URL(url).pathname,
      status: res.status,
      contentType,
      body: parseBody(contentType, await res.clone().text()),
      ...(body !== undefined ? { request: { contentType: requestType, body: parseBody(requestType, body) } } : {}),
    });
    return res;
  }

  /** Asserts every remembered exchange matches the document; answers how many were checked. */
  assertMatchOpenApi(): number {
    return assertAdminExchangesMatchOpenApi(this.exchanges);
  }
}
