// The Node edge's body reader: straight from @hono/node-server's IncomingMessage. Reading
// `c.req.raw.body` instead makes the server build a full web Request per request (an
// AbortController, a ReadableStream over the socket), which cost more than the rest of a small
// request's work together.
import type { IncomingMessage } from "node:http";
import type { HttpBindings } from "@hono/node-server";
import { concat, DRAIN_BYTES, readWebBody, type BodyReader } from "./limits.ts";

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
        // Drop the rest (as readWebBody does), so the 413 reaches a client still sending; past
        // DRAIN_BYTES more, close the connection instead.
        let dropped = 0;
        incoming.on("data", (more: Buffer) => {
          dropped += more.byteLength;
          if (dropped > DRAIN_BYTES) incoming.destroy();
        });
        resolve(null);
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

export const readNodeBody: BodyReader = (request, env, maxBytes) => {
  const incoming = (env as Partial<HttpBindings> | undefined)?.incoming;
  // app.request() in tests has no IncomingMessage: read the web Request as workerd does.
  if (!incoming || incoming.readableEnded) return readWebBody(request, env, maxBytes);
  return readIncoming(incoming, maxBytes);
};
