// The docs cannot drift from the code: every shell example marked runnable in README.md and
// docs/*.md (a fence with the info string `sh runnable`, see docs/README.md) runs as written against
// a local stack started the way `npm start` starts it, each block with `bash -euo pipefail` from the
// repository root, and must exit 0 and leave no process behind. The one change made to a block is
// its ports: the stack runs on a port block of its own (--port-base), never on the fixed ports of
// DESIGN.md, and the fixed ports in a block become that block's (test/e2e/docs-blocks.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { stopStaleNodes } from "../../broker/server/index.ts";
import {
  ROOT,
  freeStackPortBase,
  groupAlive,
  groupGone,
  nodePids,
  processAlive,
  processesInGroup,
  stackNodeSpecs,
  startStackProcess,
  stopGroup,
  type StackProcess,
} from "../harness/stack.ts";
import { allRunnableBlocks, OWN_PORTS, portMap, rewritePorts, runnableBlocks, type RunnableBlock } from "./docs-blocks.ts";

/** Registry build, three nodes, workerd and the bridge on two busy cores: generous, but bounded. */
const UP_DEADLINE_MS = 180_000;
/** After the banner, until the edge and the bridge both answer as ready. */
const READY_DEADLINE_MS = 60_000;
/** One block: a few CLI starts (~2 s each under tsx) and waits that the blocks bound themselves. */
const BLOCK_DEADLINE_MS = 90_000;
/** A block's background processes get this long to go after it exits (its own `trap … EXIT`). */
const LEFTOVER_DEADLINE_MS = 10_000;
const EXIT_DEADLINE_MS = 60_000;

/** The pages each audience reads must each keep at least one runnable example. */
const MUST_HAVE_RUNNABLE = ["README.md", "docs/schema-authors.md", "docs/producers.md", "docs/subscribers.md", "docs/operators.md"];

interface BlockResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  leftovers: Array<{ pid: number; comm: string }>;
}

function tail(text: string, lines = 40): string {
  return text.split("\n").slice(-lines).join("\n");
}

/** Runs one block in its own process group; kills the group at the deadline or if it leaves processes behind. */
async function runBlock(script: string): Promise<BlockResult> {
  const env = { ...process.env };
  // node:test marks its children; a node the example starts is no test. BASH_ENV would run a file first.
  delete env.NODE_TEST_CONTEXT;
  delete env.BASH_ENV;
  const child = spawn("bash", ["--noprofile", "--norc", "-c", `set -euo pipefail\n${script}`], {
    cwd: ROOT,
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  assert.ok(child.pid, "bash started");
  const pgid = child.pid;
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<"deadline">((resolve) => (timer = setTimeout(() => resolve("deadline"), BLOCK_DEADLINE_MS)));
  const first = await Promise.race([exited, deadline]);
  clearTimeout(timer);
  if (first === "deadline") {
    if (groupAlive(pgid)) process.kill(-pgid, "SIGKILL");
    await exited;
    throw new Error(`the block did not finish within ${BLOCK_DEADLINE_MS} ms; its output:\n${tail(output)}`);
  }
  const leftovers = (await groupGone(pgid, LEFTOVER_DEADLINE_MS)) ? [] : processesInGroup(pgid);
  if (groupAlive(pgid)) process.kill(-pgid, "SIGKILL");
  return { ...first, output, leftovers };
}

/** Polls a URL until it answers 2xx; the stack's banner comes before every part has settled. */
async function untilOk(url: string, what: string, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
      last = `${res.status} ${await res.text()}`;
      if (res.ok) return;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await sleep(250);
  }
  throw new Error(`${what} (${url}) was not ready within ${deadlineMs} ms; last answer: ${last}`);
}

function blockName(block: RunnableBlock): string {
  return `${block.file}:${block.line} › ${block.heading}`;
}

const blocks = allRunnableBlocks(ROOT);

test("a runnable block's fixed ports become the test stack's, and nothing else in it changes", () => {
  const map = portMap(30_000);
  const script = "curl http://127.0.0.1:8787/x -d '{\"n\":18787,\"port\":8790}' --servers nats://127.0.0.1:4222,nats://127.0.0.1:4224 http://127.0.0.1:8222/ :8792 :8793 :9999";
  assert.equal(
    rewritePorts(script, map),
    "curl http://127.0.0.1:30000/x -d '{\"n\":18787,\"port\":30003}' --servers nats://127.0.0.1:30010,nats://127.0.0.1:30012 http://127.0.0.1:30040/ :30005 :30006 :9999",
  );
});

test("a runnable block is a fence with the info string `sh runnable`, named by the heading above it", () => {
  const page = ["# Page", "```sh", "not run", "```", "## Try it", "```sh runnable", "echo one", "echo two", "```", "```yaml", "```sh runnable", "```"].join("\n");
  assert.deepEqual(runnableBlocks("docs/x.md", page), [{ file: "docs/x.md", heading: "Try it", line: 6, script: "echo one\necho two" }]);
  assert.throws(() => runnableBlocks("docs/x.md", "```bash runnable\necho\n```"), /exactly/);
  assert.throws(() => runnableBlocks("docs/x.md", "```sh runnable\necho"), /never closed/);
});

test(
  "every runnable example in README.md and docs/ runs as written against the local stack",
  { timeout: UP_DEADLINE_MS + READY_DEADLINE_MS + blocks.length * (BLOCK_DEADLINE_MS + LEFTOVER_DEADLINE_MS) + 2 * EXIT_DEADLINE_MS },
  async (t) => {
    for (const file of MUST_HAVE_RUNNABLE) {
      assert.ok(blocks.some((b) => b.file === file), `${file} keeps at least one runnable example`);
    }

    const base = await freeStackPortBase(OWN_PORTS.map((p) => p.offset));
    const ports = portMap(base);
    const dataDir = mkdtempSync(join(tmpdir(), "jetgate-docs-"));
    const stack: StackProcess = startStackProcess({ dataDir, base, via: "node" });
    let natsPids: number[] = [];
    let workerdPids: number[] = [];
    t.after(async () => {
      // Whatever happened above: nothing this test started may outlive it.
      if (groupAlive(stack.pgid)) process.kill(-stack.pgid, "SIGKILL");
      await stopStaleNodes(stackNodeSpecs(dataDir)).catch(() => undefined);
      for (const pid of [...natsPids, ...workerdPids]) if (processAlive(pid)) process.kill(pid, "SIGKILL");
      rmSync(dataDir, { recursive: true, force: true });
    });

    await stack.waitForLine(/Jetgate local stack is up/, "the stack's banner", UP_DEADLINE_MS);
    await untilOk(`http://127.0.0.1:${ports.get(8787)}/healthz`, "the edge", READY_DEADLINE_MS);
    await untilOk(`http://127.0.0.1:${ports.get(8790)}/readyz`, "the bridge", READY_DEADLINE_MS);
    natsPids = nodePids(dataDir);
    workerdPids = processesInGroup(stack.pgid)
      .filter((p) => p.comm === "workerd")
      .map((p) => p.pid);
    t.diagnostic(`stack on port base ${base}: ${natsPids.length} nats-server nodes, workerd pids ${workerdPids.join(", ") || "none found"}`);

    for (const block of blocks) {
      await t.test(blockName(block), async () => {
        const result = await runBlock(rewritePorts(block.script, ports));
        assert.deepEqual(
          result.leftovers,
          [],
          `the example left processes running after it exited (they were killed); its output:\n${tail(result.output)}`,
        );
        assert.equal(result.code, 0, `the example exited with ${result.code ?? result.signal}; its output:\n${tail(result.output)}`);
      });
    }

    await t.test("the stack stops on Ctrl-C and leaves no nats-server or workerd running", async () => {
      await stopGroup(stack, "SIGINT", EXIT_DEADLINE_MS);
      const left = [...natsPids, ...workerdPids].filter(processAlive);
      assert.deepEqual(left, [], "every nats-server node and workerd the stack started is gone");
    });
  },
);
