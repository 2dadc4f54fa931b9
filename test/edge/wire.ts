// Sends a WireRequest (arbitraries.ts) to an edge and reports what came back, or how the
// connection failed. Ordinary cases go through node:http on a keep-alive agent (as SDKs send:
// connection reuse is where an early close shows); raw cases are written byte for byte on a TCP
// socket, because node:http and fetch refuse to send malformed heads.
import http from "node:http";
import type { WireRequest } from "./arbitraries.ts";
import { exchangeBytes } from "../harness/raw-http.ts";

export interface WireAnswer {
  /** 0 when no answer arrived. */
  status: number;
  contentType: string;
  body: string;
  /** Set when the connection failed: ECONNRESET, "closed without an answer", timeout, … */
  networkError?: string;
}

const TIMEOUT_MS = 30_000;

export function sendWire(baseUrl: string, req: WireRequest, agent: http.Agent): Promise<WireAnswer> {
  return req.rawHead ? sendRaw(baseUrl, req) : sendHttp(baseUrl, req, agent);
}

function sendHttp(baseUrl: string, req: WireRequest, agent: http.Agent): Promise<WireAnswer> {
  const url = new URL(baseUrl);
  return new Promise((resolve) => {
    const headers: Record<string, string> = {};
    for (const [name, value] of req.headers) headers[name] = value;
    if (req.body.length > 0 || req.method === "POST") headers["content-length"] = String(req.body.length);
    const request = http.request(
      { host: url.hostname, port: url.port, method: req.method, path: req.target, headers, agent, timeout: TIMEOUT_MS },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers["content-type"] ?? ""), body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", (err) => resolve({ status: res.statusCode ?? 0, contentType: "", body: "", networkError: codeOf(err) }));
      },
    );
    request.on("timeout", () => request.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })));
    request.on("error", (err) => resolve({ status: 0, contentType: "", body: "", networkError: codeOf(err) }));
    request.end(req.body);
  });
}

function codeOf(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e.code ?? e.message ?? String(err);
}

/** One request on its own socket, written byte for byte; the answer is read until the server closes. */
async function sendRaw(baseUrl: string, req: WireRequest): Promise<WireAnswer> {
  const outcome = await exchangeBytes(baseUrl, Buffer.concat([req.rawHead!, req.body]), { timeoutMs: TIMEOUT_MS, halfClose: true });
  if (outcome.kind === "reset") return { status: 0, contentType: "", body: "", networkError: outcome.error };
  const answer = { status: outcome.status, contentType: outcome.headers["content-type"] ?? "", body: outcome.body.toString("utf8") };
  // A reset after a complete answer still counts as a reset: the issue asks for none at all.
  return outcome.error ? { ...answer, networkError: outcome.error } : answer;
}
