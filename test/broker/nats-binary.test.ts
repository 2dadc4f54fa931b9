// Every part runs nats-server through broker/server/nats-binary.ts, which refuses anything older than
// 2.10.23 (2.10.20–22 lost streams on crashes; 2.9 lacks what the bridge builds on).
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BrokerError } from "../../broker/index.ts";
import { MIN_NATS_VERSION, compareVersions, ensureNatsServer, findNatsServer } from "../../broker/server/index.ts";

/** A stand-in binary that only answers --version, as nats-server does. */
function fakeNatsServer(dir: string, version: string): string {
  const path = join(dir, `nats-server-${version}`);
  writeFileSync(path, `#!/bin/sh\necho "nats-server: v${version}"\n`);
  chmodSync(path, 0o755);
  return path;
}

function withEnv<T>(name: string, value: string, fn: () => T): T {
  const before = process.env[name];
  process.env[name] = value;
  try {
    return fn();
  } finally {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
  }
}

test("versions compare numerically, not as text", () => {
  assert.ok(compareVersions("2.10.23", "2.9.10") > 0);
  assert.ok(compareVersions("2.10.22", MIN_NATS_VERSION) < 0);
  assert.equal(compareVersions("2.10.23", MIN_NATS_VERSION), 0);
  assert.ok(compareVersions("2.12.1", MIN_NATS_VERSION) > 0);
});

test("a nats-server older than 2.10.23 is refused with NOT_INSTALLED; a recent one is taken", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "jetgate-natsbin-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const old of ["2.9.10", "2.10.22"]) {
    assert.throws(
      () => withEnv("JETGATE_NATS_SERVER", fakeNatsServer(dir, old), () => findNatsServer()),
      (err: unknown) => err instanceof BrokerError && err.code === "NOT_INSTALLED",
      `nats-server ${old} must be refused`,
    );
  }
  const recent = fakeNatsServer(dir, "2.10.27");
  assert.deepEqual(withEnv("JETGATE_NATS_SERVER", recent, () => findNatsServer()), { path: recent, version: "2.10.27" });
});

test("the nats-server the suites run is ≥ 2.10.23", () => {
  const found = ensureNatsServer();
  assert.ok(compareVersions(found.version, MIN_NATS_VERSION) >= 0, `${found.path} is ${found.version}`);
});
