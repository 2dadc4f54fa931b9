// One structured JSON line per request: what came in, what it was about, how it ended, how long
// it took. The sink is injected (console.log by default; workerd ships it to Workers Logs).
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./context.ts";
import { API_KEY_SHAPE } from "../auth/keys.ts";

export type LogSink = (line: string) => void;

export function requestLog(enabled: boolean, sink: LogSink): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    const facts = { reqId: c.req.header("cf-ray") ?? crypto.randomUUID() };
    c.set("facts", facts);
    await next();
    if (!enabled) return;
    // The path and the event type are the client's text: a client that put its API key there
    // (instead of the Authorization header) must not get it written to the logs.
    sink(
      redactKeys(JSON.stringify({
        msg: "request",
        time: new Date().toISOString(),
        ...facts,
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        latencyMs: Math.round((performance.now() - started) * 100) / 100,
      })),
    );
  };
}

function redactKeys(line: string): string {
  return line.replace(API_KEY_SHAPE, "jg_[redacted]");
}
