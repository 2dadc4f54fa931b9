// The Node edge's body reader: straight from @hono/node-server's IncomingMessage. Reading
// `c.req.raw.body` instead makes the server build a full web Request per request (an
// AbortController, a ReadableStream over the socket), which cost more than the rest of a small
// request's work together.
import type { IncomingMessage } from "node:http";
import type { HttpBindings } from "@hono/node-server";
import { concat, DISCARD_LIMIT_BYTES, discardWebBody, readWebBody, type BodyDiscarder, type BodyReader } from "../http/request-limits.ts";

function readIncoming(incoming: IncomingMessage, maxBytes: number): Promise<Uint8Array | null> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let total = 0;
    const cleanup = () => {
      incoming.off("data", onData);
      incoming.off("end", onEnd);
      incoming.off("error", onError);
    };
    const onData = (chunk: Buffer) => {
      total += chunk.byteLength;
      if (total > maxBytes) {
        cleanup();
        // Drop the rest before answering, as on workerd (http/request-limits.ts DISCARD_LIMIT_BYTES): answered
        // early, @hono/node-server drains for only 500 ms, then closes a socket still receiving.
        dropRest(incoming, total).then(() => resolve(null));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(concat(chunks, total));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    incoming.on("data", onData);
    incoming.once("end", onEnd);
    incoming.once("error", onError);
  });
}

/** Reads and drops the rest of the body; past DISCARD_LIMIT_BYTES in all, closes the connection. */
function dropRest(incoming: IncomingMessage, alreadyRead: number): Promise<void> {
  if (incoming.readableEnded || incoming.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let total = alreadyRead;
    const done = () => {
      incoming.off("data", onData);
      incoming.off("end", done);
      incoming.off("error", done);
      incoming.off("close", done);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      total += chunk.byteLength;
      if (total > DISCARD_LIMIT_BYTES) {
        incoming.destroy();
        done();
      }
    };
    incoming.on("data", onData);
    incoming.once("end", done);
    incoming.once("error", done);
    incoming.once("close", done);
  });
}

function incomingOf(env: unknown): IncomingMessage | undefined {
  return (env as Partial<HttpBindings> | undefined)?.incoming;
}

export const readNodeBody: BodyReader = (request, env, maxBytes) => {
  const incoming = incomingOf(env);
  // app.request() in tests has no IncomingMessage: read the web Request as workerd does.
  if (!incoming || incoming.readableEnded) return readWebBody(request, env, maxBytes);
  return readIncoming(incoming, maxBytes);
};

export const discardNodeBody: BodyDiscarder = (request, env) => {
  const incoming = incomingOf(env);
  if (!incoming) return discardWebBody(request, env);
  // A declared length past the bound: reading would not save the connection.
  if (Number(incoming.headers["content-length"] ?? 0) > DISCARD_LIMIT_BYTES) return Promise.resolve();
  return dropRest(incoming, 0);
};
