import { test } from "node:test";
import * as assert from "node:assert/strict";
import { MultinomialResampler } from "../../src/linalg";

test("skipping rows leaves the resampler where drawing them would have", () => {
  const total = 10_000, B = 7;
  const full = new MultinomialResampler(total, B, 3);
  const head = full.next(6_000), tail = full.next(4_000);
  const skipped = new MultinomialResampler(total, B, 3);
  skipped.skip(6_000);
  assert.deepEqual(skipped.next(4_000), tail);
  for (let b = 0; b < B; b++) {
    let s = 0;
    for (let t = 0; t < 6_000; t++) s += head[b * 6_000 + t];
    for (let t = 0; t < 4_000; t++) s += tail[b * 4_000 + t];
    assert.equal(s, total, "every resample draws the total");
  }
  assert.throws(() => skipped.skip(1), /only 0 of 10000 remain/);
});
