import { test } from "node:test";
import * as assert from "node:assert/strict";
import { InputError } from "../../src/errors";
import {
  explainedVarianceLegacy, fvu, fvuNonlinear, l0, METRICS, MultinomialResampler, normalizedMse, percentileInterval, r2,
  r2Flat, r2MeanOverDims, RegressionAccumulator,
} from "../../src/linalg";
import { normals } from "../helpers/random";
import { f32, fixtures, maxRelError } from "./fixtures";

// The golden example of formats-and-metrics.md §3: x = [[2,0],[0,4]], x̂ = [[2,1],[0,3]].
const gx = [2, 0, 0, 4], gxh = [2, 1, 0, 3];

test("golden 2×2: fvu = 2/10 = 0.2", () => assert.equal(fvu(gx, gxh, 2), 0.2));
test("golden 2×2: explained_variance_legacy = mean(1 − 1/5, 1 − 1/5) = 0.8", () => {
  assert.ok(Math.abs(explainedVarianceLegacy(gx, gxh, 2) - 0.8) < 1e-15);
});
test("golden 2×2: r2_mean_over_dims = mean(1 − 0/2, 1 − 2/8) = 0.875 (not 1 − fvu)", () => {
  assert.equal(r2MeanOverDims(gx, gxh, 2), 0.875);
});
test("golden 2×2: r2_flat = 1 − 2/11 (one scalar mean 1.5 of all entries)", () => {
  assert.ok(Math.abs(r2Flat(gx, gxh, 2) - (1 - 2 / 11)) < 1e-15);
});
test("golden 2×2: normalized_mse = mean(1/4, 1/16) = 0.15625 (uncentred)", () => {
  assert.equal(normalizedMse(gx, gxh, 2), 0.15625);
});
test("fvu_nonlinear = fvu(x, Sae(x) + LinearError): golden x with Sae = x̂ − 1 and LinearError = 1 gives 0.2", () => {
  assert.ok(Math.abs(fvuNonlinear(gx, gxh.map((v) => v - 1), [1, 1, 1, 1], 2) - 0.2) < 1e-15);
});
test("l0 counts latents > 0 per token: [[0, 1, 2], [0, 0, -1]] → 1", () => assert.equal(l0([0, 1, 2, 0, 0, -1], 3), 1));
test("scalar r2: y = [1, 2, 3, 4], ŷ = [1, 2, 3, 3] → 1 − 1/5", () => assert.ok(Math.abs(r2([1, 2, 3, 4], [1, 2, 3, 3]) - 0.8) < 1e-15));

test("predicting the per-dimension mean explains exactly 0", () => {
  const rows = 37, cols = 5;
  const y = normals(rows * cols, 11).map((v, i) => v * (1 + (i % cols)) + 100 * (i % cols));
  const mean = new Float64Array(cols);
  for (let i = 0; i < y.length; i++) mean[i % cols] += y[i];
  for (let j = 0; j < cols; j++) mean[j] /= rows;
  const yHat = Float64Array.from(y, (_, i) => mean[i % cols]);
  assert.equal(r2MeanOverDims(y, yHat, cols), 0);
  assert.equal(fvu(y, yHat, cols), 1);
  const s = Float64Array.from({ length: rows }, (_, t) => y[t * cols]);
  assert.equal(r2(s, Float64Array.from(s, () => mean[0])), 0);
});

test("every metric matches the numpy reference", () => {
  const m = fixtures.metrics;
  const x = f32(m.x), xh = f32(m.xhat);
  const ref = [m.metrics.fvu, m.metrics.r2_mean_over_dims, m.metrics.r2_flat, m.metrics.normalized_mse, m.explained_variance_legacy,
    m.fvu_nonlinear, m.l0, m.r2_scalar];
  const got = [fvu(x, xh, m.d), r2MeanOverDims(x, xh, m.d), r2Flat(x, xh, m.d), normalizedMse(x, xh, m.d),
    explainedVarianceLegacy(x, xh, m.d), fvuNonlinear(x, f32(m.sae), f32(m.lin), m.d), l0(f32(m.latents), m.m),
    r2(Float32Array.from(m.ys), Float32Array.from(m.yshat))];
  assert.ok(maxRelError(got, ref, 0) < 1e-12, `max relative error ${maxRelError(got, ref, 0)}`);
});

test("METRICS names each metric once, with the names of formats-and-metrics.md", () => {
  assert.deepEqual(Object.keys(METRICS).sort(),
    ["explained_variance_legacy", "fvu", "fvu_nonlinear", "l0", "normalized_mse", "r2", "r2_flat", "r2_mean_over_dims"]);
});

test("bad metric input is an InputError", () => {
  assert.throws(() => fvu([1, 2, 3], [1, 2], 1), InputError);
  assert.throws(() => fvu([1, 2, 3], [1, 2, 3], 2), InputError);
  assert.throws(() => l0([1, 2, 3], 0), InputError);
  assert.throws(() => fvuNonlinear([1, 2], [1, 2], [1], 1), InputError);
});

test("streaming accumulation is chunk-independent and accurate when means dwarf the spread", () => {
  // Dimension means of 1e7 with unit spread: Σy² − nȳ² would lose every digit in float64.
  const rows = 3000, cols = 4;
  const noise = normals(rows * cols, 3), err = normals(rows * cols, 4);
  const y = Float64Array.from(noise, (v, i) => 1e7 * (1 + (i % cols)) + v);
  const yHat = Float64Array.from(y, (v, i) => v + 0.5 * err[i]);
  // Two-pass reference in float64 on the deviations, which are exact here.
  let sse = 0, sst = 0;
  const mean = new Float64Array(cols);
  for (let i = 0; i < y.length; i++) mean[i % cols] += noise[i] / rows;
  for (let i = 0; i < y.length; i++) { sse += (y[i] - yHat[i]) ** 2; sst += (noise[i] - mean[i % cols]) ** 2; }
  const whole = new RegressionAccumulator(cols);
  whole.add(y, yHat, rows);
  const parts = new RegressionAccumulator(cols);
  for (let r = 0; r < rows; r += 7) {
    const k = Math.min(7, rows - r);
    parts.add(y.subarray(r * cols, (r + k) * cols), yHat.subarray(r * cols, (r + k) * cols), k);
  }
  for (const acc of [whole, parts]) {
    const res = acc.result();
    assert.ok(Math.abs(res.fvu - sse / sst) / (sse / sst) < 1e-8, `fvu ${res.fvu} vs ${sse / sst}`);
  }
  const a = whole.result(), b = parts.result();
  assert.ok(maxRelError([b.fvu, b.r2MeanOverDims, b.r2Flat, b.normalizedMse], [a.fvu, a.r2MeanOverDims, a.r2Flat, a.normalizedMse], 0) < 1e-9);
});

test("a constant target dimension is excluded from r2_mean_over_dims and counted", () => {
  const y = [1, 5, 2, 5, 3, 5, 4, 5], yHat = [1.5, 5, 2, 4, 3, 6, 4, 5];
  const acc = new RegressionAccumulator(2);
  acc.add(y, yHat, 4);
  const res = acc.result();
  assert.equal(res.constantDims, 1);
  assert.ok(Number.isNaN(res.r2PerDim[1]));
  assert.equal(res.r2MeanOverDims, 1 - 0.25 / 5);
});

test("multinomial resampler: n draws per resample, chunking-independent, seeded", () => {
  const total = 500, B = 40;
  const a = new MultinomialResampler(total, B, 9), b = new MultinomialResampler(total, B, 9);
  const whole = a.next(total);
  const parts = [b.next(123), b.next(1), b.next(376)];
  for (let r = 0; r < B; r++) {
    let sum = 0;
    for (let t = 0; t < total; t++) {
      const w = whole[r * total + t];
      assert.ok(Number.isInteger(w) && w >= 0);
      sum += w;
    }
    assert.equal(sum, total);
    const joined = [...parts[0].subarray(r * 123, r * 123 + 123), ...parts[1].subarray(r, r + 1), ...parts[2].subarray(r * 376, r * 376 + 376)];
    assert.deepEqual(joined, Array.from(whole.subarray(r * total, (r + 1) * total)));
  }
  assert.notDeepEqual(new MultinomialResampler(total, B, 10).next(total), whole);
  assert.throws(() => new MultinomialResampler(10, 2, 0).next(11), InputError);
  // Multinomial(n, 1/n) counts: mean 1, variance 1 − 1/n.
  const big = new MultinomialResampler(20000, 5, 1).next(20000);
  let s = 0, s2 = 0;
  for (const w of big) { s += w; s2 += w * w; }
  const mean = s / big.length, variance = s2 / big.length - mean * mean;
  assert.ok(Math.abs(mean - 1) < 1e-12 && Math.abs(variance - 1) < 0.03, `variance ${variance}`);
});

test("each bootstrap replicate equals the metric recomputed on the materialised resample", () => {
  const rows = 700, cols = 3, B = 25; // chunks of 300 rows span the accumulator's 256-row bootstrap blocks
  const y = Float64Array.from(normals(rows * cols, 21), (v, i) => v * (i % cols + 1) + 50);
  const yHat = Float64Array.from(y, (v, i) => v + 0.7 * Math.sin(i));
  for (const perDim of [true, false]) {
    const acc = new RegressionAccumulator(cols, { bootstrap: { resamples: B, level: 0.9, perDim } });
    const resampler = new MultinomialResampler(rows, B, 4);
    const weights: Float64Array[] = [];
    for (let r = 0; r < rows; r += 300) {
      const k = Math.min(300, rows - r);
      const w = resampler.next(k);
      weights.push(w);
      acc.add(y.subarray(r * cols, (r + k) * cols), yHat.subarray(r * cols, (r + k) * cols), k, w);
    }
    const res = acc.result();
    assert.ok(res.intervals);
    for (let b = 0; b < B; b++) {
      const ys: number[] = [], hs: number[] = [];
      let t0 = 0;
      for (const w of weights) {
        const k = w.length / B;
        for (let t = 0; t < k; t++) {
          for (let c = 0; c < w[b * k + t]; c++) {
            for (let j = 0; j < cols; j++) { ys.push(y[(t0 + t) * cols + j]); hs.push(yHat[(t0 + t) * cols + j]); }
          }
        }
        t0 += k;
      }
      assert.ok(Math.abs(res.intervals!.fvu.replicates[b] - fvu(ys, hs, cols)) < 1e-10, `fvu replicate ${b}`);
      if (perDim) assert.ok(Math.abs(res.intervals!.r2MeanOverDims!.replicates[b] - r2MeanOverDims(ys, hs, cols)) < 1e-10);
      else assert.equal(res.intervals!.r2MeanOverDims, null);
    }
    const iv = res.intervals!.fvu;
    assert.ok(iv.lo <= res.fvu && res.fvu <= iv.hi && iv.se > 0 && iv.level === 0.9);
  }
});

test("percentile intervals interpolate between order statistics", () => {
  const iv = percentileInterval(Float64Array.from([5, 1, 4, 2, 3]), 0.5);
  assert.equal(iv.lo, 2);
  assert.equal(iv.hi, 4);
  assert.ok(Math.abs(iv.se - Math.sqrt(2.5)) < 1e-15);
});
