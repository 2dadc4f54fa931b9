// The HTTP servers benchmarks drive from outside, each in its own child process so it does not
// share a thread with the load generator: the edge on Node (`serve-edge`), and the hand-written
// node:http + ajv + JetStream ingest server that is its peer (`serve-peer`). This file is also the
// children's entry: `node --import tsx bench/servers.ts <mode> <json>` prints `READY <url>`.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
import { fileURLToPath, pathToFileURL } from "node:url";
import { connect } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { encodeEvent, natsHeadersOf } from "../broker/index.ts";
import { freePort } from "../test/harness/ports.ts";
import { DEV_API_KEY, type ApiKeyEntry } from "../worker/auth/keys.ts";
import { loadRegistry } from "../worker/node/registry-loader.ts";

export interface EdgeServerArgs {
  servers: string[];
  registryDir: string;
  apiKeys: ApiKeyEntry[];
  vars: Record<string, string>;
}
export interface PeerServerArgs {
  servers: string[];
  registryDir: string;
}

export function startServer(mode: "serve-edge", args: EdgeServerArgs): Promise<{ url: string; proc: ChildProcess }>;
export function startServer(mode: "serve-peer", args: PeerServerArgs): Promise<{ url: string; proc: ChildProcess }>;
/** Starts a child server; resolves with its URL once it printed READY (30 s at most). */
export async function startServer(mode: "serve-edge" | "serve-peer", args: EdgeServerArgs | PeerServerArgs): Promise<{ url: string; proc: ChildProcess }> {
  // JETGATE_BENCH_CHILD_ARGS: node options for the child, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
  // to profile the server (NODE_OPTIONS refuses --cpu-prof); the profile is written when it stops.
  const nodeArgs = (process.env.JETGATE_BENCH_CHILD_ARGS ?? "").split(" ").filter(Boolean);
  const proc = spawn(process.execPath, [...nodeArgs, "--import", "tsx", fileURLToPath(import.meta.url), mode, JSON.stringify(args)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${mode} did not start within 30 s`)), 30_000);
      let out = "";
      proc.stdout!.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        const match = /READY (\S+)/.exec(out);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
      proc.once("exit", (code) => reject(new Error(`${mode} exited with ${code}`)));
    });
    return { url, proc };
  } catch (err) {
    await stopChild(proc);
    throw err;
  }
}

/** SIGTERM, then SIGKILL after 5 s; resolves when the process is gone. */
export function stopChild(proc: ChildProcess | undefined): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => proc.kill("SIGKILL"), 5_000);
    proc.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    proc.kill("SIGTERM");
  });
}

async function serveEdge(args: EdgeServerArgs) {
  const { startNodeEdge } = await import("../worker/node/entry.ts");
  const running = await startNodeEdge({ port: await freePort(), natsServers: args.servers, registryDir: args.registryDir, apiKeys: args.apiKeys, vars: args.vars });
  process.once("SIGTERM", () => void running.stop().finally(() => process.exit(0)));
  console.log(`READY ${running.url}`);
}

/** The peer's events come from one producer; its ids are fresh UUIDs. */
const BASELINE_SOURCE = "/bench/peer";

/**
 * The peer: what a user might write instead of the edge — node:http, the same standalone
 * validator, one JetStream connection, a bearer check, 202 after the ack.
 */
async function servePeer(args: PeerServerArgs) {
  const registry = await loadRegistry(args.registryDir);
  const validate = registry.validators["order.created/v2"]!;
  const nc = await connect({ servers: args.servers });
  const js = jetstream(nc);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const fail = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
      };
      if (req.headers.authorization !== `Bearer ${DEV_API_KEY}`) return fail(401, { error: "unauthorized" });
      let data: unknown;
      try {
        data = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        return fail(400, { error: "bad json" });
      }
      if (!validate(data)) return fail(422, { errors: validate.errors });
      const id = randomUUID();
      // The edge's own message (subject, ce-* headers, Nats-Msg-Id), so the baseline does the same work per event.
      const message = encodeEvent({ id, source: BASELINE_SOURCE, type: "order.created" }, Buffer.concat(chunks));
      try {
        const ack = await js.publish(message.subject, message.data, { headers: natsHeadersOf(message) });
        fail(202, { id, type: "order.created", seq: ack.seq, duplicate: ack.duplicate });
      } catch {
        fail(503, { error: "unavailable" });
      }
    });
  });
  const port = await freePort();
  server.listen(port, "127.0.0.1", () => console.log(`READY http://127.0.0.1:${port}`));
  process.once("SIGTERM", () => {
    server.close();
    void nc.close().finally(() => process.exit(0));
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [mode, json] = process.argv.slice(2);
  const args = JSON.parse(json ?? "{}");
  if (mode === "serve-edge") await serveEdge(args);
  else if (mode === "serve-peer") await servePeer(args);
}
