// The grouping the workerd publisher puts in front of its Durable Object RPCs: who ships, what
// travels together, what each caller gets back, and what happens on failure and on a stuck ship.
import { test } from "node:test";
import assert from "node:assert/strict";
import { GroupCommit, WaitTimeout } from "../../worker/publish/group-commit.ts";

/** A ship function whose shipments the test settles by hand; answers item × 10. */
function manualShip() {
  const shipments: Array<{ items: number[]; settle(fail?: Error): void }> = [];
  const ship = (items: number[]) =>
    new Promise<number[]>((resolve, reject) => {
      shipments.push({ items, settle: (fail) => (fail ? reject(fail) : resolve(items.map((i) => i * 10))) });
    });
  return { shipments, ship };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test("a lone caller ships at once; callers arriving while the shipment is under way go together in the next", async () => {
  const { shipments, ship } = manualShip();
  const commit = new GroupCommit(ship, 1, 100, 5_000);
  const first = commit.submit([1]);
  await tick();
  assert.deepEqual(shipments.map((s) => s.items), [[1]]);
  const later = [commit.submit([2]), commit.submit([3, 4]), commit.submit([5])];
  await tick();
  assert.equal(shipments.length, 1, "nothing more ships while the one allowed shipment is under way");
  shipments[0]!.settle();
  assert.deepEqual(await first, [10]);
  await tick();
  assert.deepEqual(shipments.map((s) => s.items), [[1], [2, 3, 4, 5]]);
  shipments[1]!.settle();
  assert.deepEqual(await Promise.all(later), [[20], [30, 40], [50]], "each caller gets its own results, in order");
});

test("maxInFlight shipments go at once, and maxItems caps a shipment", async () => {
  const { shipments, ship } = manualShip();
  const commit = new GroupCommit(ship, 2, 3, 5_000);
  const all = [commit.submit([1]), commit.submit([2]), commit.submit([3, 4]), commit.submit([5]), commit.submit([6, 7])];
  await tick();
  assert.deepEqual(shipments.map((s) => s.items), [[1], [2]]);
  shipments[0]!.settle();
  await tick();
  assert.deepEqual(shipments[2]!.items, [3, 4, 5], "the next shipment takes what fits in maxItems");
  shipments[1]!.settle();
  await tick();
  assert.deepEqual(shipments[3]!.items, [6, 7]);
  shipments[2]!.settle();
  shipments[3]!.settle();
  assert.deepEqual(await Promise.all(all), [[10], [20], [30, 40], [50], [60, 70]]);
});

test("a failed shipment fails only its own callers; the queue goes on", async () => {
  const { shipments, ship } = manualShip();
  const commit = new GroupCommit(ship, 1, 100, 5_000);
  const first = commit.submit([1]);
  const second = commit.submit([2]);
  await tick();
  shipments[0]!.settle(new Error("rpc failed"));
  await assert.rejects(first, /rpc failed/);
  await tick();
  shipments[1]!.settle();
  assert.deepEqual(await second, [20]);
});

test("a caller stuck behind a shipment that never ends gives up with WaitTimeout, and its items never ship", async () => {
  const { shipments, ship } = manualShip();
  const commit = new GroupCommit(ship, 1, 100, 50);
  void commit.submit([1]); // never settled
  const waiting = commit.submit([2]);
  await assert.rejects(waiting, WaitTimeout);
  shipments[0]!.settle();
  await tick();
  assert.deepEqual(shipments.map((s) => s.items), [[1]], "the caller that gave up left the queue");
  const next = commit.submit([3]);
  await tick();
  assert.deepEqual(shipments[1]?.items, [3]);
  shipments[1]!.settle();
  assert.deepEqual(await next, [30]);
});
