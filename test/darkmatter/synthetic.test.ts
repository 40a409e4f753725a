import { test } from "node:test";
import * as assert from "node:assert/strict";
import { InputError } from "../../src/errors";
import { noiseCorrelationTable, syntheticExperiment, syntheticPoints, SyntheticInput } from "../../src/darkmatter/synthetic";
import { normals, rng } from "../helpers/random";

/**
 * A small SAE world: `latents` unit decoder rows in a k-dim subspace of R^d (so x has low-variance directions, as
 * residual streams do), L0 = 3 codes per token drawn with geometric-ish frequencies (rare latents have small mean
 * activation), positive values.
 */
function world(d: number, k: number, latents: number, tokens: number, seed: number): SyntheticInput {
  const basis = normals(k * d, seed), coef = normals(latents * k, seed + 1);
  const decoder = new Float32Array(latents * d);
  for (let i = 0; i < latents; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) {
      let v = 0;
      for (let a = 0; a < k; a++) v += coef[i * k + a] * basis[a * d + j];
      decoder[i * d + j] = v;
      s += v * v;
    }
    for (let j = 0; j < d; j++) decoder[i * d + j] /= Math.sqrt(s);
  }
  const u = rng(seed + 2);
  const rowPtr = [0], indices: number[] = [], values: number[] = [];
  for (let t = 0; t < tokens; t++) {
    const chosen = new Set<number>();
    while (chosen.size < 3) chosen.add(Math.min(latents - 1, Math.floor((-Math.log(1 - u()) * latents) / 4)));
    for (const i of [...chosen].sort((a, b) => a - b)) { indices.push(i); values.push(1 + 2 * u()); }
    rowPtr.push(indices.length);
  }
  return { decoder, latents, d, codes: { rowPtr, indices, values } };
}

const input = world(16, 12, 16, 4000, 11);

test("activation noise shows up as linear error, reconstruction noise as nonlinear error (Table 1's diagonal)", () => {
  const r = syntheticExperiment(input, { ablatedPercents: [0, 50], seed: 3 });
  assert.equal(r.tokens, 4000);
  assert.ok(Math.abs(r.noiseUnit - r.stdX / 4) < 1e-15, "default unit: σ = 4 is one per-dim std");
  const lin = r.grid.estimatedLinearError, nl = r.grid.estimatedNonlinearError;
  // No noise, no ablation: the SAE reproduces x exactly.
  assert.ok(r.grid.points[0].fvuRecon < 1e-20 && r.grid.points[0].fvuLinear < 1e-20, `${r.grid.points[0].fvuRecon}`);
  for (const p of [...r.grid.points, ...r.lines.flatMap((l) => l.points)]) {
    // In-sample OLS can only lower the residual, so the linear estimate is never negative.
    assert.ok(p.estimatedLinearError >= -1e-12, `${JSON.stringify(p)}`);
    assert.equal(p.estimatedNonlinearError, p.fvuLinear);
  }
  for (let i = 1; i < 5; i++) {
    for (let j = 0; j < 5; j++) {
      assert.ok(lin[i][j] > lin[i - 1][j], `σ_a ${i} raises the linear estimate (σ_r ${j})`);
      assert.ok(nl[j][i] > nl[j][i - 1], `σ_r ${i} raises the nonlinear estimate (σ_a ${j})`);
    }
  }
  // Reconstruction noise is independent of x', so it adds (almost) nothing to the linear estimate.
  for (let i = 0; i < 5; i++) assert.ok(Math.abs(lin[i][4] - lin[i][0]) < 0.01, `row ${i}: ${lin[i]}`);
  const [[saLin, saNl], [srLin, srNl]] = r.correlation.values;
  assert.ok(saLin > 0.9 && srNl > 0.9, `diagonal ${saLin}, ${srNl}`);
  assert.ok(Math.abs(saNl) < 0.3 && Math.abs(srLin) < 0.3, `off-diagonal ${saNl}, ${srLin}`);
  assert.deepEqual(r.correlation.values, noiseCorrelationTable(r.grid.points).values);
});

test("ablating low-activation latents raises FVU much more than FVU_nonlinear", () => {
  const r = syntheticExperiment(input, { gridLevels: [0, 1], seed: 3 });
  assert.deepEqual(r.lines.map((l) => [l.sigmaActivation, l.sigmaReconstruction]), [[1, 0.6], [0.6, 1]]);
  // The ablation order is ascending mean activation.
  for (let k = 1; k < r.latents; k++) assert.ok(r.meanActivation[r.ablationOrder[k]] >= r.meanActivation[r.ablationOrder[k - 1]]);
  for (const line of r.lines) {
    const pts = line.points;
    assert.deepEqual(pts.map((p) => p.ablatedPercent), [0, 10, 20, 30, 40, 50]);
    assert.deepEqual(pts.map((p) => p.ablatedLatents), [0, 1, 3, 4, 6, 8]);
    for (let k = 1; k < pts.length; k++) assert.ok(pts[k].fvuRecon > pts[k - 1].fvuRecon, `fvu rises with ablation: ${k}`);
    const dRecon = pts[5].fvuRecon - pts[0].fvuRecon, dLin = pts[5].fvuLinear - pts[0].fvuLinear;
    assert.ok(dRecon > 0.1, `ΔFVU ${dRecon}`);
    assert.ok(dLin < dRecon / 4, `ΔFVU_nonlinear ${dLin} vs ΔFVU ${dRecon}`);
  }
});

test("an SAE that shrinks its own image makes purely linear error", () => {
  // encode(x) = 0.9·codes, no b_dec: r = 0.9x, so SaeError = 0.1x is exactly linear in x.
  const encoded = { ...input.codes, values: Array.from(input.codes.values, (v) => 0.9 * v) };
  const { points } = syntheticPoints({ ...input, encoded }, [{ ablatedPercent: 0, sigmaActivation: 0, sigmaReconstruction: 0 }]);
  assert.ok(points[0].fvuRecon > 0.005, `${points[0].fvuRecon}`);
  assert.ok(points[0].fvuLinear < 1e-20, `${points[0].fvuLinear}`);
});

test("the noise depends only on the seed and the row, not on chunking or on the other configurations", () => {
  const cfg = { ablatedPercent: 20, sigmaActivation: 2, sigmaReconstruction: 3 };
  const a = syntheticPoints(input, [cfg], { seed: 5, rowsPerChunk: 300 }).points[0];
  const b = syntheticPoints(input, [{ ...cfg, sigmaActivation: 0 }, cfg], { seed: 5, rowsPerChunk: 5000 }).points[1];
  for (const k of ["fvuRecon", "fvuLinear"] as const) assert.ok(Math.abs(a[k] - b[k]) < 1e-10 * a[k], `${k}: ${a[k]} vs ${b[k]}`);
  const c = syntheticPoints(input, [cfg], { seed: 6 }).points[0];
  assert.notEqual(c.fvuRecon, a.fvuRecon);
});

test("noise units: absolute, per-dim std, and the token cap", () => {
  const cfg = [{ ablatedPercent: 0, sigmaActivation: 1, sigmaReconstruction: 0 }];
  const std = syntheticPoints(input, cfg, { noiseUnit: "std" });
  assert.equal(std.noiseUnit, std.stdX);
  const abs = syntheticPoints(input, cfg, { noiseUnit: std.stdX });
  assert.equal(abs.points[0].fvuLinear, std.points[0].fvuLinear);
  const capped = syntheticPoints(input, cfg, { maxTokens: 1000 });
  assert.equal(capped.tokens, 1000);
  assert.equal(syntheticPoints(input, cfg).tokens, 4000);
});

test("bad input is an InputError naming the parameter", () => {
  const cfg = [{ ablatedPercent: 0, sigmaActivation: 0, sigmaReconstruction: 0 }];
  const bad = (f: () => unknown, source: string) => assert.throws(f, (e: unknown) => e instanceof InputError && e.source === source);
  bad(() => syntheticPoints({ ...input, decoder: new Float32Array(3) }, cfg), "decoder");
  bad(() => syntheticPoints({ ...input, codes: { ...input.codes, indices: Array.from(input.codes.indices, () => 99) } }, cfg), "codes.indices");
  bad(() => syntheticPoints({ ...input, encoded: { rowPtr: [0, 0], indices: [], values: [] } }, cfg), "encoded");
  bad(() => syntheticPoints(input, [{ ...cfg[0], ablatedPercent: 120 }]), "ablatedPercent");
  bad(() => syntheticPoints(input, [{ ...cfg[0], sigmaActivation: -1 }]), "sigmaActivation");
  bad(() => syntheticPoints(input, cfg, { noiseUnit: 0 }), "noiseUnit");
  bad(() => syntheticPoints(input, cfg, { maxTokens: 10 }), "codes");
  bad(() => syntheticExperiment(input, { gridLevels: [1] }), "gridLevels");
});
