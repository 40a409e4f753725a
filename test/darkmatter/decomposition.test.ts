import { test } from "node:test";
import * as assert from "node:assert/strict";
import { InputError } from "../../src/errors";
import { decomposeSaeError, DecompositionResult, normPredictionTest, SaeInput } from "../../src/darkmatter";
import { arraySource, explicitSplit, mapSource, predict, trainTestSplit } from "../../src/linalg";
import { normals } from "../helpers/random";
import { f32, fixtures, flat, maxRelError } from "../linalg/fixtures";

const fx = fixtures.decomposition;
const n = fx.x.length, d = fx.d as number, nTrain = fx.n_train as number;
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
const split = explicitSplit(n, range(0, nTrain), range(nTrain, n));
const xs = f32(fx.x), xh = f32(fx.xhat);
const fixtureInput = (): SaeInput => ({ activations: arraySource(xs, d, "acts"), sae: { reconstructions: arraySource(xh, d, "recons") } });

for (const intercept of [true, false]) {
  const ref = intercept ? fx.intercept : fx.no_intercept;
  test(`decomposition (${intercept ? "with" : "without"} intercept) matches the float64 numpy reference`, () => {
    const r = decomposeSaeError(fixtureInput(), { intercept, split, bootstrap: false });
    assert.equal(r.intercept, intercept);
    assert.deepEqual([r.rows.train, r.rows.evaluated, r.fitOn, r.evaluatedOn], [nTrain, n - nTrain, "train", "test"]);
    assert.ok(maxRelError(r.linearMap.coefficients, flat(ref.coef), 0) < 1e-6, "b*");
    if (intercept) assert.ok(maxRelError(r.linearMap.intercept!, ref.b, 0) < 1e-6, "b* intercept");
    else assert.equal(r.linearMap.intercept, null);
    const got = [r.vectorR2.value, r.normR2.value, r.fvu.value, r.fvuNonlinear.value, r.energy.saeError, r.energy.linearError, r.energy.nonlinearError];
    const want = [ref.vector_r2, ref.norm_r2, ref.fvu, ref.fvu_nonlinear, ref.energy.saeError, ref.energy.linearError, ref.energy.nonlinearError];
    assert.ok(maxRelError(got, want, 0) < 1e-6, `metrics: ${maxRelError(got, want, 0)}`);
    assert.equal(r.vectorR2.interval, null);
    // saeError = linear + nonlinear + cross, exactly, on any rows.
    assert.ok(Math.abs(r.energy.saeError - (r.energy.linearError + r.energy.nonlinearError + r.energy.crossTerm)) < 1e-9 * r.energy.saeError);
  });

  test(`in-sample (${intercept ? "with" : "without"} intercept): Σ‖SaeError‖² = Σ‖LinearError‖² + Σ‖NonlinearError‖²`, () => {
    const r = decomposeSaeError(fixtureInput(), { intercept, fitOn: "all", bootstrap: false });
    const e = r.energy;
    assert.equal(r.rows.evaluated, n);
    assert.ok(Math.abs(e.saeError - (e.linearError + e.nonlinearError)) < 1e-6 * e.saeError, `cross term ${e.crossTerm}`);
    const want = ref.energy_in_sample;
    assert.ok(maxRelError([e.saeError, e.linearError, e.nonlinearError], [want.saeError, want.linearError, want.nonlinearError], 0) < 1e-6);
    if (intercept) assert.ok(r.fvuNonlinear.value <= r.fvu.value, "FVU_nonlinear ≤ FVU in-sample with an intercept");
  });
}

test("norm-prediction components match numpy (b* fitted on the training rows)", () => {
  for (const intercept of [true, false]) {
    const ref = (intercept ? fx.intercept : fx.no_intercept).component_r2;
    const r = normPredictionTest(fixtureInput(), { intercept, split, linearMapFitOn: "train", bootstrap: false });
    assert.equal(r.linearMap.source, "train");
    const names = Object.keys(ref);
    const got = names.map((k) => r.components[k as keyof typeof r.components].value);
    assert.ok(maxRelError(got, names.map((k) => ref[k]), 0) < 1e-6, `${intercept}: ${JSON.stringify(got)}`);
    // Passing the decomposition's b* gives the same numbers.
    const dec = decomposeSaeError(fixtureInput(), { intercept, split, bootstrap: false });
    const viaMap = normPredictionTest(fixtureInput(), { intercept, split, linearMap: dec.linearMap, bootstrap: false });
    assert.equal(viaMap.linearMap.source, "given");
    assert.ok(maxRelError(names.map((k) => viaMap.components[k as keyof typeof r.components].value), got, 0) < 1e-9);
  }
});

// A toy SAE: shrink towards the mean and add a ReLU bump, so the error has linear and nonlinear parts.
function toySae(x: Float32Array, rows: number, dim: number): Float32Array {
  const out = new Float32Array(rows * dim);
  for (let t = 0; t < rows; t++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += x[t * dim + j] * ((j % 3) - 1);
    for (let j = 0; j < dim; j++) out[t * dim + j] = 0.8 * x[t * dim + j] + Math.max(0, s - 0.5) * (j % 2 ? 0.3 : -0.2);
  }
  return out;
}

function summary(r: DecompositionResult): number[] {
  return [r.vectorR2.value, r.normR2.value, r.fvu.value, r.fvuNonlinear.value, r.energy.nonlinearError, ...r.linearMap.coefficients];
}

test("a reconstruct function, precomputed reconstructions and precomputed errors give the same result; so do chunk sizes", () => {
  const rows = 400, dim = 5;
  const x = normals(rows * dim, 77).map((v, i) => v * (i % dim === 0 ? 30 : 1) + 4);
  const recon = toySae(x, rows, dim);
  const err = Float64Array.from(x, (v, i) => v - recon[i]); // exact: float64 holds any difference of float32s
  const acts = arraySource(x, dim, "acts");
  let calls = 0;
  const viaFn = decomposeSaeError({ activations: acts, sae: { reconstruct: (c, k) => { calls += k; return toySae(c, k, dim); } } },
    { trainRows: 250, seed: 3, rowsPerChunk: 64 });
  assert.equal(calls, rows, "the SAE runs once per row: training rows in pass 1, test rows in pass 2");
  const viaRecon = decomposeSaeError({ activations: acts, sae: { reconstructions: arraySource(recon, dim) } }, { trainRows: 250, seed: 3, rowsPerChunk: 1000 });
  const viaErr = decomposeSaeError({ activations: acts, sae: { errors: arraySource(err, dim) } }, { trainRows: 250, seed: 3, rowsPerChunk: 7 });
  for (const other of [viaRecon, viaErr]) assert.ok(maxRelError(summary(other), summary(viaFn), 1e-9) < 1e-8);
  // Same seed → same split and same bootstrap intervals regardless of chunking.
  assert.ok(viaFn.fvu.interval && viaErr.fvu.interval);
  assert.ok(maxRelError(viaFn.fvu.interval.replicates, viaErr.fvu.interval.replicates, 0) < 1e-9);
  assert.ok(maxRelError(viaFn.vectorR2.interval!.replicates, viaErr.vectorR2.interval!.replicates, 0) < 1e-9);
  for (const e of [viaFn.vectorR2, viaFn.normR2, viaFn.fvu, viaFn.fvuNonlinear]) {
    assert.ok(e.interval!.lo <= e.value && e.value <= e.interval!.hi, "the point estimate lies in its interval");
    assert.equal(e.interval!.replicates.length, 200);
  }
  assert.deepEqual(viaFn.bootstrap, { resamples: 200, seed: 0, level: 0.95 });
  // LinearError from the returned map reproduces the energy split.
  const lin = predict(viaFn.linearMap, x.subarray(0, dim), 1);
  assert.equal(lin.length, dim);
  // Another split seed gives another (but similar) answer.
  const other = decomposeSaeError({ activations: acts, sae: { errors: arraySource(err, dim) } }, { trainRows: 250, seed: 4, bootstrap: false });
  assert.notEqual(other.fvu.value, viaFn.fvu.value);
});

test("bad input: d mismatch, row mismatch, NaN rows, wrong SAE output, too few training rows", () => {
  const rows = 60, dim = 4;
  const x = normals(rows * dim, 5);
  const acts = arraySource(x, dim, "acts.npy");
  const isInput = (re: RegExp) => (e: unknown) => e instanceof InputError && re.test(e.message);
  assert.throws(() => decomposeSaeError({ activations: acts, sae: { reconstructions: arraySource(new Float32Array(rows * 3), 3, "sae.out") } }),
    isInput(/sae\.out: has 3 columns but acts\.npy has d = 4/));
  assert.throws(() => decomposeSaeError({ activations: acts, sae: { errors: arraySource(new Float32Array((rows - 1) * dim), dim, "errs") } }),
    isInput(/errs: has 59 rows but acts\.npy has 60/));
  assert.throws(() => decomposeSaeError({ activations: acts, sae: { reconstruct: (_c, k) => new Float32Array(k * 3) } }),
    isInput(/sae\.reconstruct: returned \d+ values for \d+ rows of d = 4/));
  assert.throws(() => decomposeSaeError({ activations: acts, sae: { reconstruct: (_c, k) => new Float32Array(k * dim).fill(NaN) } }),
    isInput(/not finite although x is/));
  assert.throws(() => decomposeSaeError({ activations: acts, sae: { reconstruct: (c) => c } }, { trainRows: 4 }),
    isInput(/4 training rows cannot determine b\* for d = 4 with an intercept/));
  assert.throws(() => decomposeSaeError({ activations: acts, sae: { reconstruct: (c) => c } }, { fitOn: "all", evaluateOn: "test" }), InputError);

  const bad = Float32Array.from(x);
  bad[10 * dim + 2] = NaN;
  bad[33 * dim] = -Infinity;
  const sae = { reconstruct: (c: Float32Array, k: number) => toySae(c, k, dim) };
  assert.throws(() => decomposeSaeError({ activations: arraySource(bad, dim, "acts.npy"), sae }), isInput(/acts\.npy: row 10 holds NaN/));
  const warnings: string[] = [];
  const dropped = decomposeSaeError({ activations: arraySource(bad, dim, "acts.npy"), sae },
    { dropNonFinite: true, trainRows: 36, seed: 1, onWarning: (w) => warnings.push(w), bootstrap: false });
  assert.equal(dropped.rows.droppedNonFinite, 2);
  assert.equal(dropped.rows.train + dropped.rows.evaluated, rows - 2);
  assert.match(warnings.join("\n"), /dropped 2 row/);
  assert.ok(Number.isFinite(dropped.fvu.value) && Number.isFinite(dropped.vectorR2.value));
  // Same numbers as on the data without those rows, each remaining row keeping its role.
  const roles = trainTestSplit(rows, { trainRows: 36, seed: 1 }).roles;
  const keep = range(0, rows).filter((i) => i !== 10 && i !== 33);
  const clean = Float32Array.from(keep.flatMap((i) => Array.from(x.subarray(i * dim, i * dim + dim))));
  const cleanSplit = explicitSplit(keep.length, range(0, keep.length).filter((j) => roles[keep[j]] === 1),
    range(0, keep.length).filter((j) => roles[keep[j]] === 2));
  const reference = decomposeSaeError({ activations: arraySource(clean, dim), sae }, { split: cleanSplit, bootstrap: false });
  assert.ok(maxRelError(summary(dropped), summary(reference), 1e-9) < 1e-12);
});

test("rank-deficient activations are reported through the decomposition's warnings", () => {
  const rows = 300, dim = 4;
  const x = normals(rows * dim, 8);
  for (let t = 0; t < rows; t++) x[t * dim + 3] = x[t * dim + 1]; // a duplicated dimension
  const warnings: string[] = [];
  const r = decomposeSaeError({ activations: arraySource(x, dim), sae: { reconstruct: (c, k) => toySae(c, k, dim) } },
    { onWarning: (w) => warnings.push(w), bootstrap: false });
  assert.equal(r.linearMap.rank, 3);
  assert.deepEqual(r.linearMap.dependentColumns, [3]);
  assert.ok(warnings.some((w) => /rank 3 of 4/.test(w)));
  assert.deepEqual(r.warnings, warnings);
  assert.ok(Number.isFinite(r.vectorR2.value));
});

test("mapSource-derived activations stream through the decomposition", () => {
  const rows = 200, dim = 3;
  const base = arraySource(normals(rows * dim, 12), dim, "base");
  const shifted = mapSource(base, dim, (c) => Float32Array.from(c, (v) => v + 100), "shifted");
  const r = decomposeSaeError({ activations: shifted, sae: { reconstruct: (c, k) => toySae(c, k, dim) } }, { bootstrap: false });
  assert.equal(r.rows.total, rows);
  // The toy SAE's shrinkage of the +100 offset is a huge but purely linear error: b* with an intercept absorbs it.
  assert.ok(r.fvu.value > 10 && r.fvuNonlinear.value < 0.05, `${r.fvu.value} ${r.fvuNonlinear.value}`);
});
