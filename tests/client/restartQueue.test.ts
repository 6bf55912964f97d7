import * as assert from "node:assert/strict";
import { test } from "node:test";
import { RestartQueue } from "../../extension/src/restartQueue";

function gate() {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

test("requests during a restart merge into one follow-up run", async () => {
  const runs: boolean[] = [];
  const first = gate();
  const queue = new RestartQueue(async (force) => {
    runs.push(force);
    if (runs.length === 1) await first.promise;
  });
  const a = queue.request(false);
  const b = queue.request(false);
  const c = queue.request(true);
  const d = queue.request(false);
  assert.equal(b, c);
  assert.equal(c, d);
  first.open();
  await Promise.all([a, b, c, d]);
  assert.deepEqual(runs, [false, true]);
  await queue.idle();
  await queue.request(false);
  assert.deepEqual(runs, [false, true, false]);
});

test("a failing run does not block the next", async () => {
  let calls = 0;
  const queue = new RestartQueue(async () => {
    calls += 1;
    if (calls === 1) throw new Error("first fails");
  });
  const first = queue.request();
  const second = queue.request();
  await assert.rejects(first);
  await second;
  assert.equal(calls, 2);
});
