// The local stack's demo webhook receiver: prints each delivery and whether its Standard Webhooks
// signature verified (with the standardwebhooks package, as a subscriber would), then answers 204.
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";

export interface DemoReceiverOptions {
  port: number;
  host?: string;
  /** The subscription's secret (whsec_…). */
  secret: string;
  /** Where lines go (default console.log). */
  print?: (line: string) => void;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export async function startDemoReceiver(opts: DemoReceiverOptions): Promise<{ url: string; stop(): Promise<void> }> {
  const webhook = new Webhook(opts.secret);
  const print = opts.print ?? ((line: string) => console.log(line));
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
    let verified = false;
    try {
      webhook.verify(body, headers, { jsonParse: false });
      verified = true;
    } catch {
      verified = false;
    }
    let type = headers["ce-type"] ?? "";
    try {
      type ||= (JSON.parse(body) as { type?: string }).type ?? "";
    } catch {
      // Not JSON: print it as it came.
    }
    const excerpt = body.length > 200 ? `${body.slice(0, 200)}…` : body;
    print(`[demo-receiver] ${req.method} ${req.url} webhook-id=${headers["webhook-id"] ?? "-"} type=${type || "-"} signature=${verified ? "verified" : "INVALID"} ${excerpt}`);
    res.writeHead(verified ? 204 : 401).end();
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host ?? "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${opts.host ?? "127.0.0.1"}:${port}/webhooks`,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
