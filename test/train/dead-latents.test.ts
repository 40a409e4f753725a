import { test } from "node:test";
import * as assert from "node:assert/strict";
import { DeadLatentTracker } from "../../src/train/dead-latents";
import { SparseActs } from "../../src/train/sparse";

function acts(rows: number[][]): SparseActs {
  const a = new SparseActs(rows.length, 16);
  let p = 0;
  rows.forEach((latents, b) => {
    a.ptr[b] = p;
    for (const j of latents) { a.idx[p] = j; a.val[p] = 1; p++; }
  });
  a.ptr[rows.length] = p;
  return a;
}

test("a latent is dead once it has not fired for a full window of tokens", () => {
  const t = new DeadLatentTracker(4, 10);
  t.update(acts([[0], [1]]), 4); // 4 tokens: 0 and 1 fire
  assert.deepEqual(Array.from(t.tokensSinceFired), [0, 0, 4, 4]);
  assert.equal(t.deadFraction(), 0, "nobody has had a full window yet");
  t.update(acts([[0], []]), 6); // 10 tokens in total
  assert.deepEqual(Array.from(t.tokensSinceFired), [0, 6, 10, 10]);
  assert.equal(t.deadCount(), 2);
  assert.ok(t.isDead(2) && t.isDead(3) && !t.isDead(1));
  t.update(acts([[3]]), 4);
  assert.deepEqual(Array.from(t.tokensSinceFired), [4, 10, 14, 0]);
  assert.equal(t.deadFraction(), 0.5); // latents 1 and 2
  assert.throws(() => new DeadLatentTracker(4, 0), /deadWindowTokens/);
});
