// A real HTTP webhook receiver for tests and benchmarks: records every request (headers, body,
// arrival time) and answers from a script, e.g. "fail 3 times with 503, then 200". Free port on
// loopback; stop() closes it and every keep-alive connection.
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setMaxListeners } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  /** Date.now() when the request was complete. */
  at: number;
}

export interface ScriptedResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Wait this long before answering (a slow receiver). */
  delayMs?: number;
}

/** Decides the answer to the n-th request (0-based) — per receiver, across all paths. */
export type Script = (req: RecordedRequest, n: number) => ScriptedResponse;

export const alwaysOk: Script = () => ({ status: 200 });

/** Fails `times` times with `status` (and optional headers/body), then answers 200. */
export function failThenSucceed(times: number, status = 500, extra: Omit<ScriptedResponse, "status"> = {}): Script {
  return (_req, n) => (n < times ? { status, ...extra } : { status: 200 });
}

export interface Receiver {
  url: string;
  requests: RecordedRequest[];
  setScript(script: Script): void;
  /** Resolves when at least `count` requests arrived; rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<RecordedRequest[]>;
  stop(): Promise<void>;
}

function flatten(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(", ") : v;
  return out;
}

export interface ReceiverOptions {
  script?: Script;
  path?: string;
  record?: boolean;
  /** A loopback address to listen on (default 127.0.0.1; any of 127.0.0.0/8 works on Linux). */
  host?: string;
  /** A fixed port (default: a free one). */
  port?: number;
}

export async function startReceiver(opts: ReceiverOptions = {}): Promise<Receiver> {
  let script = opts.script ?? alwaysOk;
  const record = opts.record ?? true;
  const requests: RecordedRequest[] = [];
  let seen = 0;
  const waiters = new Set<() => void>();
  // Slow answers are cut short by stop(), so a held request never keeps the process alive.
  const stopped = new AbortController();
  // Every held answer listens on it; a receiver that hangs on many requests is not a leak.
  setMaxListeners(0, stopped.signal);
  const answer = async (res: ServerResponse, reply: ScriptedResponse) => {
    if (reply.delayMs) await sleep(reply.delayMs, undefined, { signal: stopped.signal }).catch(() => undefined);
    if (stopped.signal.aborted) return;
    res.writeHead(reply.status, reply.headers ?? {});
    res.end(reply.body ?? "");
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const recorded: RecordedRequest = {
        method: req.method ?? "",
        path: req.url ?? "",
        headers: flatten(req.headers),
        body: Buffer.concat(chunks).toString("utf8"),
        at: Date.now(),
      };
      const n = seen++;
      if (record) requests.push(recorded);
      for (const wake of waiters) wake();
      void answer(res, script(recorded, n));
    });
  });
  server.keepAliveTimeout = 60_000;
  const host = opts.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}${opts.path ?? "/webhooks"}`,
    requests,
    setScript(next) {
      script = next;
    },
    async waitFor(count, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (seen < count) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`receiver: expected ${count} requests within ${timeoutMs}ms, got ${seen}`);
        await new Promise<void>((resolve) => {
          const wake = () => {
            waiters.delete(wake);
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(wake, left);
          waiters.add(wake);
        });
      }
      return requests;
    },
    async stop() {
      stopped.abort();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
