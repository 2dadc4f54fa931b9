// Request limits, checked before any work is spent on a request: header size, body size (read as
// a stream and cut off at the limit, so a lying or missing Content-Length cannot get past it) and
// JSON nesting depth (scanned on the text before JSON.parse sees it).
import { EdgeError } from "./problems.ts";

export function checkHeaderSize(headers: Headers, maxBytes: number): void {
  let size = 0;
  headers.forEach((value, name) => {
    size += name.length + value.length + 4; // ": " and CRLF, as on the wire
  });
  if (size > maxBytes) {
    throw new EdgeError("headers-too-large", `the request headers take ${size} bytes; the limit is ${maxBytes}`, { limit: maxBytes });
  }
}

function tooLarge(limit: number, what: string): EdgeError {
  return new EdgeError("payload-too-large", `${what} is larger than ${limit} bytes`, { limit });
}

/**
 * Reads a request's whole body, or answers null as soon as it passes `maxBytes`. The app reads
 * through this seam so each runtime can use its cheapest path: the web Request's stream here
 * (workerd), the IncomingMessage itself on Node (body-node.ts).
 */
export type BodyReader = (request: Request, env: unknown, maxBytes: number) => Promise<Uint8Array | null>;

export const readWebBody: BodyReader = async (request, _env, maxBytes) => {
  if (!request.body) return new Uint8Array(0);
  // A declared length within the limit (readBody refused larger ones) binds the body: the HTTP
  // framing ends it there. One native read is then much cheaper than a loop of chunk reads.
  if (request.headers.get("content-length") !== null) return new Uint8Array(await request.arrayBuffer());
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await drain(reader);
      return null;
    }
    chunks.push(value);
  }
  return concat(chunks, total);
};

/** Past the limit, this much more is read and dropped before the body is cut off. */
export const DRAIN_BYTES = 1024 * 1024;

/**
 * Reads and drops the rest of an oversized body (up to DRAIN_BYTES), like a lingering close: a
 * client still sending when the 413 goes out would otherwise see the connection reset instead of
 * the answer. A body longer than that is cancelled, which closes the connection.
 */
async function drain(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
  let dropped = 0;
  while (dropped <= DRAIN_BYTES) {
    const { done, value } = await reader.read();
    if (done) return;
    dropped += value.byteLength;
  }
  await reader.cancel().catch(() => undefined);
}

export function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

/**
 * The whole body, or payload-too-large: at once when Content-Length already says so, otherwise as
 * soon as the bytes read pass the limit (a lying or missing Content-Length cannot get past it).
 */
export async function readBody(read: BodyReader, request: Request, env: unknown, maxBytes: number, what = "the body"): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(maxBytes, what);
  const body = await read(request, env, maxBytes);
  if (body === null) throw tooLarge(maxBytes, what);
  return body;
}

/** The deepest nesting of arrays and objects in a JSON text (strings are skipped). */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped char
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > max) max = depth;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Decodes UTF-8 and parses JSON within the depth limit; the only JSON.parse the edge runs. */
export function parseJson(bytes: Uint8Array, maxDepth: number): unknown {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new EdgeError("malformed-json", "the body is not valid UTF-8");
  }
  const depth = jsonDepth(text);
  if (depth > maxDepth) {
    throw new EdgeError("json-too-deep", `the JSON nests ${depth} levels deep; the limit is ${maxDepth}`, { limit: maxDepth });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new EdgeError("malformed-json", err instanceof Error ? err.message : "the body is not valid JSON");
  }
}
