// The nats-server configs in deploy/ are what operators copy: each must parse in the nats-server
// we support (`nats-server -t` checks a config and exits).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureNatsServer } from "../../broker/server/index.ts";

const root = join(import.meta.dirname, "../..");

function checkConfig(file: string, env: Record<string, string>) {
  return spawnSync(ensureNatsServer().path, ["-t", "-c", file], { encoding: "utf8", env: { ...process.env, ...env } });
}

test("the dev cluster and single-node configs are valid nats-server configs", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "jetgate-conf-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const files = readdirSync(join(root, "deploy/nats/dev")).filter((f) => f.endsWith(".conf"));
  assert.deepEqual(files.sort(), ["n1.conf", "n2.conf", "n3.conf", "single.conf"]);
  for (const f of files) {
    // The stack passes every port through the environment (scripts/stack.ts, nodeEnv).
    const result = checkConfig(join(root, "deploy/nats/dev", f), {
      JETGATE_NATS_STORE: dir,
      JETGATE_NATS_PORT: "4222",
      JETGATE_NATS_WEBSOCKET_PORT: "9222",
      JETGATE_NATS_MONITOR_PORT: "8222",
      JETGATE_NATS_CLUSTER_PORT: "6222",
      JETGATE_NATS_ROUTE_1: "nats-route://127.0.0.1:6222",
      JETGATE_NATS_ROUTE_2: "nats-route://127.0.0.1:6223",
      JETGATE_NATS_ROUTE_3: "nats-route://127.0.0.1:6224",
    });
    assert.equal(result.status, 0, `${f}: ${result.stderr}`);
  }
});

const haveOpenssl = spawnSync("sh", ["-c", "command -v openssl"]).status === 0;

test(
  "the production example is a valid config with TLS and per-role users",
  { skip: haveOpenssl ? false : "openssl is not installed, so no test certificate can be made" },
  (t) => {
    const dir = mkdtempSync(join(tmpdir(), "jetgate-conf-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const cert = join(dir, "cert.pem");
    const key = join(dir, "key.pem");
    const made = spawnSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost"]);
    assert.equal(made.status, 0);
    const result = checkConfig(join(root, "deploy/nats/production/nats.conf"), {
      JETGATE_NODE_NAME: "n1",
      JETGATE_NATS_STORE: join(dir, "store"),
      JETGATE_TLS_CERT: cert,
      JETGATE_TLS_KEY: key,
      JETGATE_TLS_CA: cert,
      JETGATE_EDGE_PASSWORD: "edge-secret",
      JETGATE_BRIDGE_PASSWORD: "bridge-secret",
      JETGATE_ADMIN_PASSWORD: "admin-secret",
    });
    assert.equal(result.status, 0, result.stderr);
    // A config that references a missing certificate is refused, so the check above can fail.
    const broken = checkConfig(join(root, "deploy/nats/production/nats.conf"), {
      JETGATE_NODE_NAME: "n1",
      JETGATE_NATS_STORE: join(dir, "store"),
      JETGATE_TLS_CERT: join(dir, "missing.pem"),
      JETGATE_TLS_KEY: key,
      JETGATE_TLS_CA: cert,
    });
    assert.notEqual(broken.status, 0);
  },
);
