// The WebSocket frames (frames.ts, docs/browsers.md) as JSON Schemas, for the OpenAPI document's
// components (GET /v1/openapi.json: WsClientFrame, WsServerFrame) and for the suites, which check
// every frame the edge sends against them. `$ref`s point into that document's components.

const rid = {
  description: "The client's request id, echoed on every answer",
  oneOf: [
    { type: "string", pattern: "^[\\x21-\\x7e]{1,64}$" },
    { type: "integer", minimum: 0 },
  ],
};

const op = (name: string) => ({ const: name });

const frame = (name: string, required: string[], properties: Record<string, unknown>, description: string) => ({
  type: "object",
  description,
  required: ["op", ...required],
  additionalProperties: false,
  properties: { op: op(name), ...properties },
});

const typeGlob = { type: "string", description: "A type glob as in API key scopes: `*` within a segment, `**` across" };

export const WS_CLIENT_FRAME = {
  description: "A frame a client sends on GET /v1/ws (subprotocol jetgate.v1), JSON text",
  oneOf: [
    frame("publish", ["rid", "event"], { rid, event: { type: "object", description: "A structured-mode CloudEvent, as POST /v1/events takes it" } }, "Publish one event; answered by one ack or problem with the same rid"),
    frame(
      "subscribe",
      ["rid", "types"],
      {
        rid,
        types: { oneOf: [typeGlob, { type: "array", minItems: 1, maxItems: 32, items: typeGlob }] },
        from: { oneOf: [{ type: "integer", minimum: 1 }, { enum: ["new", "last"] }], default: "new", description: "A stream sequence, only events from now on, or the last matching event" },
      },
      "Receive every event whose type matches, in stream order, from `from`",
    ),
    frame("unsubscribe", ["rid"], { rid }, "Stop the subscription opened with this rid"),
    frame("ping", [], { rid }, "Answered by pong"),
  ],
};

const accepted = {
  id: { type: "string" },
  type: { type: "string" },
  seq: { type: "integer", minimum: 1 },
  duplicate: { type: "boolean" },
};

export const WS_SERVER_FRAME = {
  description: "A frame the edge sends on GET /v1/ws, JSON text",
  oneOf: [
    frame(
      "ready",
      ["protocol", "sub", "expiresAt", "maxFrameBytes", "maxInFlight"],
      {
        protocol: { enum: ["jetgate.v1", "cloudevents.json"] },
        sub: { type: "string", description: "The API key's name the token was minted for" },
        expiresAt: { type: "string", format: "date-time", description: "The token's expiry: the socket closes with 1008 at its first use after it" },
        maxFrameBytes: { type: "integer", minimum: 1 },
        maxInFlight: { type: "integer", minimum: 1 },
      },
      "The first frame: who the socket speaks for and its limits",
    ),
    frame("ack", ["rid", "id", "type", "seq", "duplicate"], { rid, ...accepted }, "The event is stored in JetStream at seq"),
    frame("problem", ["problem"], { rid, problem: { $ref: "#/components/schemas/Problem" } }, "A publish, subscribe or frame was refused; the same problem types as HTTPS"),
    frame(
      "subscribed",
      ["rid", "types"],
      {
        rid,
        types: { type: "array", items: typeGlob },
        from: { type: "integer", minimum: 1, description: 'The stream sequence it starts at ("new" resolved; absent for "last"): resume from here if no event came yet' },
      },
      "The subscription is open; its events follow",
    ),
    frame("event", ["rid", "seq", "event"], { rid, seq: { type: "integer", minimum: 1 }, event: { type: "object", required: ["specversion", "id", "source", "type"] } }, "An event of subscription rid, as a structured CloudEvent"),
    frame("unsubscribed", ["rid"], { rid }, "No more events for rid"),
    frame("pong", [], { rid }, "The answer to a ping"),
  ],
};
