// The bridge as operators run it: bridge/main.ts bundled into one file (bridge/build.ts) and started
// with plain node and the bridge's node flags — what `jetgate bridge` starts and the delivery
// benchmark measures. The other suites run the bridge in-process through tsx; this one proves the
// shipped artifact works on its own.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import { buildBridgeBundle, bridgeNodeArgs } from "../../bridge/dev/index.ts";
import { startTestBroker } from "../harness/nats.ts";
import { freePort } from "../harness/ports.ts";
import { startReceiver } from "../harness/receiver.ts";
import { addSubscription, publishEvent, waitPulling, waitUntil, SECRET_A } from "./helpers.ts";

const cleanups: Array<() => Promise<unknown> | void> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test("the bundled bridge starts with plain node, delivers a signed event, and stops on SIGTERM", async () => {
  const dir = mkdtempSync(join(tmpdir(), "jetgate-bundle-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const bundle = await buildBridgeBundle(join(dir, "bridge.mjs"));

  const broker = await startTestBroker({ nodes: 1 });
  cleanups.push(() => broker.stop());
  const nc = await broker.connect();
  const rx = await startReceiver();
  cleanups.push(() => rx.stop());

  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, bridgeNodeArgs(bundle), {
    stdio: ["ignore", "ignore", "pipe"],
    env: {
      PATH: process.env.PATH,
      JETGATE_BRIDGE_NATS_SERVERS: broker.servers.join(","),
      JETGATE_BRIDGE_PORT: String(port),
      JETGATE_BRIDGE_SSRF_ALLOW: "127.0.0.1",
      JETGATE_BRIDGE_LOG_LEVEL: "warn",
    },
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  await waitUntil("the bundled bridge ready", 20_000, async () => {
    assert.equal(child.exitCode, null, `bridge exited early: ${stderr}`);
    return fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
  });

  await addSubscription(nc, { id: "bundled", url: rx.url, filter: "events.bundle.works", secret: SECRET_A });
  // The subscription starts at new events: publish once the bridge's durable is pulling.
  await waitPulling(nc, "bundled", 1);
  const { webhookId } = await publishEvent(nc, "bundle.works", { ok: true });
  const [req] = await rx.waitFor(1, 15_000);
  assert.ok(req);
  assert.equal(req.headers["webhook-id"], webhookId);
  const payload = new Webhook(SECRET_A).verify(req.body, req.headers) as Record<string, unknown>;
  assert.deepEqual(payload.data, { ok: true });

  child.kill("SIGTERM");
  const [code] = (await once(child, "exit", { signal: AbortSignal.timeout(15_000) })) as [number | null];
  assert.equal(code, 0, `exit code; stderr: ${stderr}`);
});
