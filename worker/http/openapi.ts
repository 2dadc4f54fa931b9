// The OpenAPI 3.1 description of the edge, served at /v1/openapi.json. The edge suites check every
// real response they get against the schemas below (test/edge/openapi-check.ts, from
// test/edge/ingest.test.ts and test/edge/errors.test.ts), so this document cannot drift from the code.
import { EVENT_TYPE_MAX_LENGTH, EVENT_TYPE_PATTERN_SOURCE, SPEC_VERSION } from "../../broker/index.ts";
import { PROBLEM_KINDS, problemType, type ProblemKind } from "./problems.ts";
import { TOKEN_LIMITS, TOKEN_SECRET_VAR } from "../config.ts";
import { TOKEN_PROTOCOL_PREFIX } from "../auth/browser-tokens.ts";
import { WS_CLIENT_FRAME, WS_SERVER_FRAME } from "../sockets/frame-schemas.ts";

const problem = { $ref: "#/components/schemas/Problem" };
const problemContent = { "application/problem+json": { schema: problem } };
const errorResponse = (description: string) => ({ description, content: problemContent });
const retryAfter = { "Retry-After": { schema: { type: "string" }, description: "Seconds to wait before retrying" } };
const unavailable = { description: "The broker did not confirm the publish; nothing was accepted", headers: retryAfter, content: problemContent };
const limited = { description: "The key's rate limit is exhausted", headers: retryAfter, content: problemContent };
const etag = { ETag: { schema: { type: "string" } } };

export const openapi = {
  openapi: "3.1.0",
  info: {
    title: "Jetgate edge",
    version: "1.0.0",
    description:
      "Events in over HTTP (CloudEvents 1.0 or plain JSON), checked against the registry, durable in NATS JetStream before 202.",
  },
  servers: [{ url: "/" }],
  security: [{ apiKey: [] }],
  paths: {
    "/v1/events": {
      post: {
        summary: "Publish CloudEvents (binary, structured or batch mode)",
        parameters: [
          { name: "ce-specversion", in: "header", schema: { type: "string" }, description: "Binary mode: 1.0" },
          { name: "ce-id", in: "header", schema: { type: "string" }, description: "With ce-source, the event's identity: a repeat of both is a duplicate" },
          { name: "ce-source", in: "header", schema: { type: "string" } },
          { name: "ce-type", in: "header", schema: { type: "string" } },
          { name: "ce-dataschema", in: "header", schema: { type: "string" }, description: "A registered schema $id; default the type's latest" },
          { name: "traceparent", in: "header", schema: { type: "string" } },
        ],
        requestBody: {
          required: true,
          content: {
            "application/cloudevents+json": { schema: { $ref: "#/components/schemas/CloudEvent" } },
            "application/cloudevents-batch+json": { schema: { type: "array", items: { $ref: "#/components/schemas/CloudEvent" } } },
            "application/json": { schema: {}, description: "Binary mode: the event data; attributes in ce-* headers" },
          },
        },
        responses: {
          "202": {
            description: "Stored in JetStream (single event), or per-event results in order (batch)",
            content: {
              "application/json": {
                schema: { oneOf: [{ $ref: "#/components/schemas/Accepted" }, { $ref: "#/components/schemas/BatchAccepted" }] },
              },
            },
          },
          "400": errorResponse("Malformed JSON, too deep, a missing or invalid attribute"),
          "401": errorResponse("No valid API key"),
          "403": errorResponse("The key may not publish this type"),
          "404": errorResponse("Unknown type or schema version"),
          "413": errorResponse("Body or batch too large"),
          "415": errorResponse("datacontenttype is not JSON"),
          "422": errorResponse("The data does not match the schema (errors lists each failure), or no event of a batch was accepted"),
          "429": limited,
          "431": errorResponse("Headers too large"),
          "503": unavailable,
        },
      },
    },
    "/v1/events/{type}": {
      post: {
        summary: "Publish plain JSON data as an event of {type}",
        parameters: [
          { name: "type", in: "path", required: true, schema: { type: "string", pattern: EVENT_TYPE_PATTERN_SOURCE, maxLength: EVENT_TYPE_MAX_LENGTH } },
          { name: "Idempotency-Key", in: "header", schema: { type: "string" }, description: "Becomes the event id (the source is the API key's name): a repeat with the same key from the same API key is a duplicate, the same key from another API key is another event" },
          { name: "traceparent", in: "header", schema: { type: "string" } },
        ],
        requestBody: { required: true, content: { "application/json": { schema: {} } } },
        responses: {
          "202": { description: "Stored in JetStream", content: { "application/json": { schema: { $ref: "#/components/schemas/Accepted" } } } },
          "400": errorResponse("Malformed JSON or too deep"),
          "401": errorResponse("No valid API key"),
          "403": errorResponse("The key may not publish this type"),
          "404": errorResponse("Unknown type"),
          "413": errorResponse("Body too large"),
          "415": errorResponse("Not JSON"),
          "422": errorResponse("The data does not match the schema"),
          "429": limited,
          "431": errorResponse("Headers too large"),
          "503": unavailable,
        },
      },
    },
    "/v1/tokens": {
      post: {
        summary: "Mint a short-lived browser token for this API key (for the WebSocket, where a browser cannot send Authorization)",
        requestBody: {
          required: false,
          content: { "application/json": { schema: { $ref: "#/components/schemas/TokenRequest" } } },
        },
        responses: {
          "201": {
            description: "The token; pass `protocol` in Sec-WebSocket-Protocol (beside jetgate.v1)",
            headers: { "Cache-Control": { schema: { const: "no-store" } } },
            content: { "application/json": { schema: { $ref: "#/components/schemas/TokenIssued" } } },
          },
          "400": errorResponse("Malformed JSON, an unknown field, a bad ttl, origin or glob (invalid-token-request; `field` names it)"),
          "401": errorResponse("No valid API key"),
          "403": errorResponse("publish or subscribe asks for more than the key's scope (forbidden-scope; `outside` lists the globs)"),
          "413": errorResponse("Body too large"),
          "415": errorResponse("Not JSON"),
          "429": limited,
          "431": errorResponse("Headers too large"),
          "503": errorResponse(`The operator set no ${TOKEN_SECRET_VAR} (tokens-not-configured)`),
        },
      },
    },
    "/v1/ws": {
      get: {
        summary: "Browser WebSocket: publish with per-frame acks, subscribe to types from a stream sequence (frames and close codes: docs/browsers.md)",
        security: [],
        parameters: [
          {
            name: "token",
            in: "query",
            required: false,
            description: `A browser token, for clients that cannot offer the subprotocol ${TOKEN_PROTOCOL_PREFIX}<token> (preferred: a query shows in URLs and logs)`,
            schema: { type: "string" },
          },
        ],
        responses: {
          "101": {
            description:
              "Switching Protocols; Sec-WebSocket-Protocol: jetgate.v1 (or cloudevents.json, publish only). Then frames: components WsClientFrame and WsServerFrame",
          },
          "400": errorResponse("None of the offered subprotocols is jetgate.v1 or cloudevents.json (malformed-request)"),
          "401": errorResponse("No token, or a malformed or forged one (token-invalid), or an expired one (token-expired)"),
          "403": errorResponse("The Origin is not the edge's own nor in CORS_ORIGINS (origin-not-allowed), or not the token's (token-origin-mismatch)"),
          "426": errorResponse("Not a WebSocket upgrade (upgrade-required)"),
          "431": errorResponse("Headers too large"),
          "503": errorResponse(`The operator set no ${TOKEN_SECRET_VAR} (tokens-not-configured)`),
        },
      },
    },
    "/v1/schemas": {
      get: {
        summary: "The registered event types",
        security: [],
        responses: {
          "200": { description: "Types", headers: etag, content: { "application/json": { schema: { $ref: "#/components/schemas/SchemaList" } } } },
          "304": { description: "Not modified" },
        },
      },
    },
    "/v1/schemas/{type}": {
      get: {
        summary: "One event type and its versions",
        security: [],
        parameters: [{ name: "type", in: "path", required: true, schema: { type: "string" } }],
        responses: {
          "200": { description: "The type", headers: etag, content: { "application/json": { schema: { $ref: "#/components/schemas/SchemaType" } } } },
          "304": { description: "Not modified" },
          "404": errorResponse("Unknown type"),
        },
      },
    },
    "/v1/schemas/{type}/versions/{n}": {
      get: {
        summary: "The JSON Schema document of one version",
        security: [],
        parameters: [
          { name: "type", in: "path", required: true, schema: { type: "string" } },
          { name: "n", in: "path", required: true, schema: { type: "integer", minimum: 1 } },
        ],
        responses: {
          "200": { description: "The schema; ETag is its content hash", headers: etag, content: { "application/schema+json": { schema: { type: "object" } } } },
          "304": { description: "Not modified" },
          "404": errorResponse("Unknown type or version"),
        },
      },
    },
    "/healthz": {
      get: {
        summary: "Whether the broker is reachable",
        security: [],
        responses: {
          "200": { description: "Reachable", content: { "application/json": { schema: { $ref: "#/components/schemas/Health" } } } },
          "503": { description: "Unreachable", content: { "application/json": { schema: { $ref: "#/components/schemas/Health" } } } },
        },
      },
    },
    "/livez": {
      get: {
        summary: "The edge process answers (does not touch the broker)",
        security: [],
        responses: { "200": { description: "Alive", content: { "application/json": { schema: { type: "object" } } } } },
      },
    },
    "/v1/openapi.json": {
      get: { summary: "This document", security: [], responses: { "200": { description: "OpenAPI 3.1", content: { "application/json": {} } } } },
    },
  },
  components: {
    securitySchemes: { apiKey: { type: "http", scheme: "bearer", description: "An API key; the edge stores only its SHA-256" } },
    schemas: {
      Accepted: {
        type: "object",
        required: ["id", "type", "seq", "duplicate"],
        additionalProperties: false,
        properties: {
          id: { type: "string" },
          type: { type: "string" },
          seq: { type: "integer", minimum: 1, description: "The event's sequence in the EVENTS stream" },
          duplicate: { type: "boolean", description: "An event with the same source and id was stored inside the duplicate window; seq is the original's" },
        },
      },
      BatchAccepted: {
        type: "object",
        required: ["accepted", "rejected", "results"],
        additionalProperties: false,
        properties: {
          accepted: { type: "integer", minimum: 0 },
          rejected: { type: "integer", minimum: 0 },
          results: { type: "array", items: { $ref: "#/components/schemas/BatchResult" } },
        },
      },
      BatchResult: {
        oneOf: [
          {
            type: "object",
            required: ["status", "id", "type", "seq", "duplicate"],
            additionalProperties: false,
            properties: {
              status: { const: 202 },
              id: { type: "string" },
              type: { type: "string" },
              seq: { type: "integer" },
              duplicate: { type: "boolean" },
            },
          },
          {
            type: "object",
            required: ["status", "problem"],
            additionalProperties: false,
            properties: { status: { type: "integer", minimum: 400 }, id: { type: "string" }, type: { type: "string" }, problem },
          },
        ],
      },
      WsClientFrame: WS_CLIENT_FRAME,
      WsServerFrame: WS_SERVER_FRAME,
      Problem: {
        type: "object",
        description: "RFC 9457 problem details",
        required: ["type", "title", "status", "detail"],
        properties: {
          type: { type: "string", enum: (Object.keys(PROBLEM_KINDS) as ProblemKind[]).map(problemType) },
          title: { type: "string" },
          status: { type: "integer", minimum: 400, maximum: 599 },
          detail: { type: "string" },
          errors: {
            type: "array",
            items: {
              type: "object",
              required: ["instancePath", "keyword", "message"],
              properties: { instancePath: { type: "string" }, keyword: { type: "string" }, message: { type: "string" } },
            },
          },
        },
      },
      CloudEvent: {
        type: "object",
        required: ["specversion", "id", "source", "type"],
        properties: {
          specversion: { const: SPEC_VERSION },
          id: { type: "string" },
          source: { type: "string" },
          type: { type: "string" },
          datacontenttype: { type: "string" },
          dataschema: { type: "string" },
          subject: { type: "string" },
          time: { type: "string" },
          data: {},
          data_base64: { type: "string" },
        },
      },
      TokenRequest: {
        type: "object",
        additionalProperties: false,
        properties: {
          ttl: { type: "integer", minimum: 1, maximum: TOKEN_LIMITS.MAX_TTL_SECONDS, default: TOKEN_LIMITS.DEFAULT_TTL_SECONDS, description: "Seconds the token is valid" },
          origin: { type: "string", description: "The one Origin the token may be used from, as browsers send it: scheme://host[:port]" },
          publish: { type: "array", items: { type: "string" }, description: "Type globs, each within the key's types; default the key's types" },
          subscribe: { type: "array", items: { type: "string" }, description: "Type globs, each within the key's subscribe scope; default that scope (none if the key has none)" },
        },
      },
      TokenIssued: {
        type: "object",
        required: ["token", "expiresAt", "protocol"],
        additionalProperties: false,
        properties: {
          token: { type: "string", pattern: "^v1\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$" },
          expiresAt: { type: "string", format: "date-time" },
          protocol: { type: "string", description: `${TOKEN_PROTOCOL_PREFIX}<token>, a Sec-WebSocket-Protocol value` },
        },
      },
      SchemaType: {
        type: "object",
        required: ["type", "latest", "versions"],
        properties: {
          type: { type: "string" },
          description: { type: "string" },
          compatibility: { type: "string" },
          owners: { type: "array", items: { type: "string" } },
          deprecated: { type: "boolean" },
          latest: { type: "integer" },
          versions: {
            type: "array",
            items: {
              type: "object",
              required: ["version", "id", "hash"],
              properties: { version: { type: "integer" }, id: { type: "string" }, hash: { type: "string" } },
            },
          },
        },
      },
      SchemaList: {
        type: "object",
        required: ["types"],
        properties: {
          commit: { type: ["string", "null"] },
          builtAt: { type: "string" },
          types: { type: "array", items: { $ref: "#/components/schemas/SchemaType" } },
        },
      },
      Health: {
        type: "object",
        required: ["ok", "broker"],
        properties: {
          ok: { type: "boolean" },
          broker: { type: "object", required: ["reachable", "detail"], properties: { reachable: { type: "boolean" }, detail: { type: "string" } } },
        },
      },
    },
  },
} as const;
