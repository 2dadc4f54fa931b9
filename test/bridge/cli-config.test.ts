// The bridge's commands take their settings where the bridge does: bridge/config.ts, from the
// JETGATE_BRIDGE_* variables (a flag over a variable over the default). An operator who set the
// bridge's NATS login and SSRF allow-list once finds `jetgate subscriptions …` using them too.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { connect } from "@nats-io/transport-node";
import { ensureStreamsReady } from "../../broker/jetstream/index.ts";
import { BRIDGE_DEFAULTS, bridgeEnv, configFromEnv, type BridgeConfig } from "../../bridge/config.ts";
import { startTestBroker } from "../harness/nats.ts";
import { runJetgate } from "../harness/cli.ts";
import { SECRET_A } from "./helpers.ts";

const cleanups: Array<() => Promise<unknown> | void> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test("every bridge setting reaches a bridge process through its JETGATE_BRIDGE_* variable unchanged", () => {
  const config: BridgeConfig = {
    servers: ["nats://10.0.0.1:4222", "nats://10.0.0.2:4222"],
    natsUser: "bridge",
    natsPass: "bridge-pass",
    natsToken: "token-1",
    host: "0.0.0.0",
    port: 9000,
    adminToken: "admin-token-1",
    ssrfAllow: ["10.0.0.0/8", "127.0.0.1"],
    httpsOnly: true,
    userAgent: "Test-Agent/1",
    attemptLog: false,
    attemptLogMaxAgeMs: 3_600_000,
    redriveMaxAgeMs: 7_200_000,
    autoDisableAfterMs: 0,
    autoDisableMinFailures: 9,
    maxRetryAfterMs: 60_000,
    shutdownDeadlineMs: 1_500,
    readyDeadlineMs: 30_000,
    connectionsPerOrigin: 8,
    maxInFlight: 77,
    taskAckWaitMs: 12_000,
    logLevel: "warn",
    instance: "test-instance",
    registry: "/srv/jetgate/registry",
  };
  assert.deepEqual(Object.keys(config).sort(), Object.keys(BRIDGE_DEFAULTS).sort(), "the sample covers every setting");
  const env = bridgeEnv(config);
  assert.ok(Object.keys(env).every((name) => name.startsWith("JETGATE_BRIDGE_")));
  assert.deepEqual(configFromEnv(env), config);
});

test("subscription commands connect with the bridge's NATS login and apply its SSRF allow-list from JETGATE_BRIDGE_*", async () => {
  // No anonymous access: only a client that logs in as `ops` gets in.
  const broker = await startTestBroker({
    nodes: 1,
    streams: false,
    extraConfig: `\nauthorization { users: [ { user: ops, password: "ops-secret" } ] }\n`,
  });
  cleanups.push(() => broker.stop());
  const nc = await connect({ servers: broker.servers, user: "ops", pass: "ops-secret" });
  cleanups.push(() => nc.close());
  await ensureStreamsReady(nc, { replicas: broker.replicas, timeoutMs: 60_000 });
  const dir = mkdtempSync(join(tmpdir(), "jetgate-cli-config-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "subscriptions.yaml");
  writeFileSync(file, `subscriptions:\n  - id: loopback\n    url: http://127.0.0.1:9/hook\n    filter: events.>\n    secret: ${SECRET_A}\n`);

  const servers = { JETGATE_BRIDGE_NATS_SERVERS: broker.servers.join(",") };
  const login = { JETGATE_BRIDGE_NATS_USER: "ops", JETGATE_BRIDGE_NATS_PASS: "ops-secret" };

  const anonymous = await runJetgate(["subscriptions", "list"], { env: servers });
  assert.equal(anonymous.code, 1, `without the login the broker refuses the command; stderr: ${anonymous.stderr}`);

  // A loopback receiver is refused unless the allow-list lets it through.
  const guarded = await runJetgate(["subscriptions", "apply", file], { env: { ...servers, ...login } });
  assert.equal(guarded.code, 1, `the SSRF guard refuses 127.0.0.1; stderr: ${guarded.stderr}`);

  const applied = await runJetgate(["subscriptions", "apply", file], { env: { ...servers, ...login, JETGATE_BRIDGE_SSRF_ALLOW: "127.0.0.1" } });
  assert.equal(applied.code, 0, applied.stderr);
  assert.deepEqual(JSON.parse(applied.stdout).created, ["loopback"]);

  const listed = await runJetgate(["subscriptions", "list"], { env: { ...servers, ...login } });
  assert.equal(listed.code, 0, listed.stderr);
  const subscriptions = (parse(listed.stdout) as { subscriptions: Array<{ id: string }> }).subscriptions;
  assert.deepEqual(subscriptions.map((s) => s.id), ["loopback"]);
});
