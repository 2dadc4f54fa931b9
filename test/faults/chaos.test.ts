// Nothing acknowledged is lost under faults (issue 10): for each edge runtime, a steady load of
// unique events while NATS nodes, a bridge and the edge are SIGKILLed and restarted, and
// subscribers fail, hang and throttle; then the ledgers must agree. Bounded here (npm test);
// `npm run test:faults` runs the long form (JETGATE_FAULT_KILLS=50).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { buildRegistry } from "../../registry/index.ts";
import { EDGE_RUNTIMES } from "../harness/worker.ts";
import { report, runFaults, RunResources } from "./run.ts";

const ROOT = join(import.meta.dirname, "../..");
/** NATS node kills per runtime: 10 here, 50 in the long form. */
const KILLS = Number(process.env.JETGATE_FAULT_KILLS ?? 10);
const RATE = Number(process.env.JETGATE_FAULT_RATE ?? 50);
let registryDir: string;

before(async () => {
  // Inside the checkout, so the generated validators resolve ajv's runtime from node_modules.
  mkdirSync(join(ROOT, ".jetgate/tmp"), { recursive: true });
  registryDir = mkdtempSync(join(ROOT, ".jetgate/tmp/faults-registry-"));
  await buildRegistry({ dir: join(ROOT, "schemas"), out: registryDir });
});

after(() => {
  if (registryDir) rmSync(registryDir, { recursive: true, force: true });
});

for (const runtime of EDGE_RUNTIMES) {
  test(`${runtime} edge: every 202 is stored once and delivered or dead-lettered, through ${KILLS} NATS node kills, bridge and edge kills`, async (t) => {
    const res = new RunResources();
    t.after(() => res.cleanup((line) => console.log(line)));
    const result = await runFaults({ runtime, registryDir, natsKills: KILLS, ratePerSecond: RATE, log: (line) => t.diagnostic(line) }, res);
    for (const line of report(runtime, result)) console.log(line);
    assert.ok(Number(result.counts.accepted202) > 0, "the edge accepted events during the run");
    assert.ok(result.chaos.kills.nats >= KILLS, `at least ${KILLS} NATS kills`);
    assert.deepEqual(result.failures, [], "the ledgers agree");
    res.passed = true;
  });
}
