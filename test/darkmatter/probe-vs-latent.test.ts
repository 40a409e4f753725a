import { test } from "node:test";
import * as assert from "node:assert/strict";
import { InputError } from "../../src/errors";
import { pearson, probeVsLatent, runningMean, SparseLatents } from "../../src/darkmatter";
import { explicitSplit } from "../../src/linalg";
import { f32, fixtures, maxRelError } from "../linalg/fixtures";

const fx = fixtures.probe;
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

function csr(dense: number[][]): SparseLatents {
  const rowPtr = [0], indices: number[] = [], values: number[] = [];
  for (const row of dense) {
    row.forEach((v, i) => { if (v !== 0) { indices.push(i); values.push(v); } });
    rowPtr.push(indices.length);
  }
  return { rowPtr, indices, values: Float32Array.from(values) };
}

test("probe vs mean active value matches numpy; dead latents are dropped; order is by mean active value", () => {
  const split = explicitSplit(fx.n, range(0, fx.n_train), range(fx.n_train, fx.n));
  const r = probeVsLatent({ decoder: f32(fx.decoder), d: fx.d, latents: csr(fx.latents) }, { split, rowsPerChunk: 37, bootstrap: { resamples: 30 } });
  assert.equal(r.intercept, false);
  assert.equal(r.latentCount, fx.m);
  const alive = range(0, fx.m).filter((i) => fx.count[i] > 0);
  assert.deepEqual(Array.from(r.latents).sort((a, b) => a - b), alive, "the dead latent 4 is dropped");
  for (let k = 1; k < r.latents.length; k++) assert.ok(r.meanActive[k - 1] >= r.meanActive[k], "sorted descending");
  const byLatent = (arr: Float64Array) => alive.map((i) => arr[Array.from(r.latents).indexOf(i)]);
  assert.ok(maxRelError(byLatent(r.probe), alive.map((i) => fx.probe[i]), 0) < 1e-6, "a*·d_i");
  assert.ok(maxRelError(byLatent(r.meanActive), alive.map((i) => fx.mean_active[i]), 0) < 1e-12);
  assert.deepEqual(byLatent(r.activeCount), alive.map((i) => fx.count[i]));
  assert.ok(Math.abs(r.probeR2.value - fx.test_r2) < 1e-6 * Math.abs(fx.test_r2));
  assert.equal(r.probeR2.interval!.replicates.length, 30);
  // numpy's corrcoef over the live latents (fixture), not the project's own pearson.
  assert.ok(Math.abs(r.correlation - fx.correlation) < 1e-6, `${r.correlation} vs numpy ${fx.correlation}`);
});

test("bad sparse latents and decoders are InputErrors", () => {
  const decoder = new Float32Array(6 * 2).fill(1);
  const ok: SparseLatents = { rowPtr: [0, 1, 2], indices: [0, 5], values: [1, 2] };
  const run = (latents: SparseLatents, dec = decoder, d = 2) => probeVsLatent({ decoder: dec, d, latents }, { trainRows: 1 });
  assert.throws(() => run({ ...ok, indices: [0, 6] }), (e: unknown) => e instanceof InputError && /latents\.indices: entry 1: 6 is not a latent/.test(e.message));
  assert.throws(() => run({ ...ok, rowPtr: [0, 2, 1] }), /latents\.rowPtr/);
  assert.throws(() => run({ ...ok, values: [1, NaN] }), /latents\.values: entry 1/);
  assert.throws(() => run(ok, new Float32Array(5), 2), /decoder: 5 values/);
  assert.throws(() => run({ rowPtr: [0, 1, 2, 2], indices: [0, 1], values: [1, 1] }), /too few training rows/);
});

test("running mean over valid windows", () => {
  assert.deepEqual(Array.from(runningMean([1, 2, 3, 4, 5], 2)), [1.5, 2.5, 3.5, 4.5]);
  assert.deepEqual(Array.from(runningMean([1, 2], 3)), []);
  assert.throws(() => runningMean([1], 0), InputError);
});

test("pearson on closed-form cases", () => {
  assert.equal(pearson([1, 2, 3, 4], [2, 4, 6, 8]), 1);
  assert.equal(pearson([1, 2, 3, 4], [8, 6, 4, 2]), -1);
  assert.ok(Math.abs(pearson([1, 2, 3], [1, 3, 2]) - 0.5) < 1e-15, "cov 1/3 over variances 2/3 and 2/3");
  assert.ok(Number.isNaN(pearson([1, 1, 1], [1, 2, 3])), "a constant series has no correlation");
  assert.ok(Number.isNaN(pearson([1], [2])));
});
