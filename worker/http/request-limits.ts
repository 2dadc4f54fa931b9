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
    throw new EdgeError("HEADERS_TOO_LARGE", `the request headers take ${size} bytes; the limit is ${maxBytes}`, { limit: maxBytes });
  }
}

function tooLarge(limit: number, what: string): EdgeError {
  return new EdgeError("PAYLOAD_TOO_LARGE", `${what} is larger than ${limit} bytes`, { limit });
}

/**
 * Reads a request's whole body, or answers null as soon as it passes `maxBytes`. The app reads
 * through this seam so each runtime can use its cheapest path: the web Request's stream here
 * (workerd), the IncomingMessage itself on Node (node/body.ts).
 */
export type BodyReader = (request: Request, env: unknown, maxBytes: number) => Promise<Uint8Array | null>;

/**
 * Reads and drops whatever the app left unread of a request's body, before the answer goes out
 * (see DISCARD_LIMIT_BYTES). Each runtime has its own, next to its BodyReader.
 */
export type BodyDiscarder = (request: Request, env: unknown) => Promise<void>;

/**
 * How much of a refused body is read and dropped before answering. An answer sent while the
 * client is still sending makes workerd (kj's HTTP server: it waits for at most 64 KiB or 1 s of
 * the rest) close the socket with unread bytes in it, which the kernel turns into a TCP reset,
 * and the client sees ECONNRESET instead of the 413. Reading the rest first avoids that; the bound
 * is Cloudflare's own front-end limit (100 MB on the Free and Pro plans, developers.cloudflare.com/
 * workers/platform/limits), past which a body never reaches a real Worker. A longer body is cut
 * off, which closes the connection.
 */
export const DISCARD_LIMIT_BYTES = 100 * 1024 * 1024;

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
      await dropRest(reader, total);
      return null;
    }
    chunks.push(value);
  }
  return concat(chunks, total);
};

/** workerd: the rest of a body the app did not read (a refusal before reading it). */
export const discardWebBody: BodyDiscarder = async (request) => {
  if (!request.body || request.bodyUsed || request.body.locked) return;
  // A declared length past the bound: the front end would have refused it; reading would not help.
  if (Number(request.headers.get("content-length") ?? 0) > DISCARD_LIMIT_BYTES) return;
  await dropRest(request.body.getReader(), 0);
};

/** Reads and drops chunks until the body ends, or cancels it past DISCARD_LIMIT_BYTES. */
async function dropRest(reader: ReadableStreamDefaultReader<Uint8Array>, alreadyRead: number): Promise<void> {
  let total = alreadyRead;
  try {
    while (total <= DISCARD_LIMIT_BYTES) {
      const { done, value } = await reader.read();
      if (done) return;
      total += value.byteLength;
    }
    await reader.cancel();
  } catch {
    // The client went away mid-body: nothing left to protect.
  } finally {
    reader.releaseLock();
  }
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
 * The app drops what is left unread (BodyDiscarder) before its answer goes out.
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

/** Decodes UTF-8 and parses JSON within the depth limit (parseJsonText). */
export function parseJson(bytes: Uint8Array, maxDepth: number): unknown {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new EdgeError("MALFORMED_JSON", "the body is not valid UTF-8");
  }
  return parseJsonText(text, maxDepth);
}

/** Parses JSON text within the depth limit; the only JSON.parse the edge runs on a client's input. */
export function parseJsonText(text: string, maxDepth: number): unknown {
  const depth = jsonDepth(text);
  if (depth > maxDepth) {
    throw new EdgeError("JSON_TOO_DEEP", `the JSON nests ${depth} levels deep; the limit is ${maxDepth}`, { limit: maxDepth });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new EdgeError("MALFORMED_JSON", err instanceof Error ? err.message : "the body is not valid JSON");
  }
}
