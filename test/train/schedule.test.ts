import { test } from "node:test";
import * as assert from "node:assert/strict";
import { defaultLearningRate, effectiveWarmup, learningRateAt } from "../../src/train/schedule";

test("the default learning rate is 2e-4/√(n/2^14) (paper: ≈1.333e-4 for 36,864 latents)", () => {
  assert.equal(defaultLearningRate(2 ** 14), 2e-4);
  assert.ok(Math.abs(defaultLearningRate(36864) - 1.3333e-4) < 1e-8);
  assert.ok(Math.abs(defaultLearningRate(4096) - 4e-4) < 1e-15);
});

test("warm-up is 1000 steps, capped at a fraction of short runs", () => {
  assert.equal(effectiveWarmup(100_000, 1000, 0.1), 1000);
  assert.equal(effectiveWarmup(2000, 1000, 0.1), 200);
  assert.equal(effectiveWarmup(5, 1000, 0.1), 0);
});

test("learning rate: linear warm-up to the peak, then linear decay towards 0", () => {
  const lr = 1e-3, warmup = 10, total = 110;
  const at = (s: number) => learningRateAt(s, lr, warmup, total);
  assert.ok(Math.abs(at(0) - 1e-4) < 1e-15);
  assert.ok(Math.abs(at(4) - 5e-4) < 1e-15);
  assert.equal(at(9), lr);
  assert.equal(at(10), lr);
  assert.ok(Math.abs(at(60) - 5e-4) < 1e-15);
  assert.ok(Math.abs(at(109) - 1e-5) < 1e-15);
  assert.equal(at(110), 0);
  for (let s = 1; s < total; s++) {
    if (s < warmup) assert.ok(at(s) > at(s - 1));
    else if (s > warmup) assert.ok(at(s) < at(s - 1));
  }
  // no warm-up: starts at the peak
  assert.equal(learningRateAt(0, lr, 0, 50), lr);
});
