import { test } from "node:test";
import * as assert from "node:assert/strict";
import { InputError } from "../../src/errors";
import { loadNativeBlas } from "../../src/backend/native";
import {
  arraySource, evaluateLeastSquares, explicitSplit, fitLeastSquares, generatedSource, NormalEquations, predict,
  selectOutputs, testSelection, trainSelection, trainTestSplit,
} from "../../src/linalg";
import { normals } from "../helpers/random";
import { f32, fixtures, flat, maxRelError } from "./fixtures";

const kernelVariants = loadNativeBlas().blas ? [true, false] : [false];
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

interface RegressionFixture {
  x: number[][]; y: number[][]; d: number; p: number; n_train: number; cond_x: number;
  intercept: Reference; no_intercept: Reference;
}
interface Reference {
  coef: number[][]; b: number[] | null; rank: number; train_pred: number[][] | null;
  test: { fvu: number; r2_mean_over_dims: number; r2_per_dim: number[]; r2_flat: number; normalized_mse: number };
}

function setup(name: string) {
  const c = fixtures.regression[name] as RegressionFixture;
  const n = c.x.length;
  const x = arraySource(f32(c.x), c.d, "x"), y = arraySource(f32(c.y), c.p, "y");
  const split = explicitSplit(n, range(0, c.n_train), range(c.n_train, n));
  return { c, n, x, y, split };
}

function checkMetrics(fit: ReturnType<typeof fitLeastSquares>, name: string, ref: Reference, native: boolean, label: string) {
  const { x, y, split } = setup(name);
  const m = evaluateLeastSquares(fit, x, y, { rows: testSelection(split), native });
  assert.ok(maxRelError([m.fvu, m.r2MeanOverDims, m.r2Flat, m.normalizedMse],
    [ref.test.fvu, ref.test.r2_mean_over_dims, ref.test.r2_flat, ref.test.normalized_mse], 0) < 1e-6, `${label}: test metrics`);
  assert.ok(maxRelError(m.r2PerDim, ref.test.r2_per_dim, 0) < 1e-6, `${label}: per-dim R²`);
}

for (const native of kernelVariants) {
  const kind = native ? "native" : "JS";
  for (const name of ["well", "ill"]) {
    for (const intercept of [true, false]) {
      test(`${kind}: ${name}-conditioned fit (${intercept ? "with" : "without"} intercept) matches numpy lstsq to 1e-6`, () => {
        const { c, x, y, split } = setup(name);
        const ref = intercept ? c.intercept : c.no_intercept;
        const warnings: string[] = [];
        const fit = fitLeastSquares(x, y, { intercept, rows: trainSelection(split), native, onWarning: (w) => warnings.push(w) });
        if (name === "ill") assert.ok(c.cond_x >= 1e6, "the fixture is ill-conditioned");
        assert.equal(fit.rank, c.d);
        assert.deepEqual(fit.dependentColumns, []);
        assert.deepEqual(warnings, []);
        assert.ok(maxRelError(fit.coefficients, flat(ref.coef), 0) < 1e-6, `coefficients: ${maxRelError(fit.coefficients, flat(ref.coef), 0)}`);
        if (intercept) assert.ok(maxRelError(fit.intercept!, ref.b!, 0) < 1e-6, "intercept");
        else assert.equal(fit.intercept, null);
        checkMetrics(fit, name, ref, native, name);
      });
    }
  }

  test(`${kind}: rank-deficient data is reported, and fitted values still match numpy`, () => {
    const { c, x, y, split } = setup("rankdef");
    for (const intercept of [true, false]) {
      const ref = intercept ? c.intercept : c.no_intercept;
      const seen: string[] = [];
      const fit = fitLeastSquares(x, y, { intercept, rows: trainSelection(split), native, onWarning: (w) => seen.push(w) });
      assert.equal(fit.rank, ref.rank);
      assert.deepEqual(fit.dependentColumns, [5, 6, 7]);
      assert.equal(seen.length, 1);
      assert.match(seen[0], /singular.*rank 5 of 8.*5, 6, 7/s);
      assert.deepEqual(fit.warnings, seen);
      const trainX = f32(c.x.slice(0, c.n_train));
      assert.ok(maxRelError(predict(fit, trainX, c.n_train, { native }), flat(ref.train_pred!)) < 1e-6, "fitted values");
      checkMetrics(fit, "rankdef", ref, native, "rankdef");
    }
  });

  test(`${kind}: a constant column is dependent on the intercept and fine without it`, () => {
    const { c, x, y, split } = setup("constant");
    const warnings: string[] = [];
    const withB = fitLeastSquares(x, y, { intercept: true, rows: trainSelection(split), native, onWarning: (w) => warnings.push(w) });
    assert.equal(withB.rank, c.intercept.rank);
    assert.deepEqual(withB.dependentColumns, [2]);
    assert.match(warnings.join("\n"), /zero variance.*\(2\)/);
    const trainX = f32(c.x.slice(0, c.n_train));
    assert.ok(maxRelError(predict(withB, trainX, c.n_train, { native }), flat(c.intercept.train_pred!)) < 1e-6);
    checkMetrics(withB, "constant", c.intercept, native, "constant with intercept");
    const noB = fitLeastSquares(x, y, { intercept: false, rows: trainSelection(split), native });
    assert.equal(noB.rank, 4);
    assert.deepEqual(noB.warnings, []);
    assert.ok(maxRelError(noB.coefficients, flat(c.no_intercept.coef), 0) < 1e-6);
  });
}

test("chunked, re-chunked and unchunked fits agree", () => {
  const { c, x, y, split } = setup("ill");
  const whole = fitLeastSquares(x, y, { rows: trainSelection(split), rowsPerChunk: 100_000 });
  const small = fitLeastSquares(x, y, { rows: trainSelection(split), rowsPerChunk: 7 });
  // A source that yields ragged chunks (1, 2, 3, ... rows) regardless of the hint.
  const xs = f32(c.x), ys = f32(c.y);
  const ragged = (data: Float32Array, cols: number) => generatedSource(data.length / cols, cols, function* () {
    let r = 0, k = 1;
    while (r * cols < data.length) { yield data.subarray(r * cols, Math.min(data.length, (r + k) * cols)); r += k; k++; }
  }, "ragged");
  const raggedFit = fitLeastSquares(ragged(xs, c.d), ragged(ys, c.p), { rows: trainSelection(split), rowsPerChunk: 16 });
  for (const fit of [small, raggedFit]) {
    assert.ok(maxRelError(fit.coefficients, whole.coefficients, 0) < 1e-9);
    assert.ok(maxRelError(fit.intercept!, whole.intercept!, 0) < 1e-9);
  }
  const m1 = evaluateLeastSquares(whole, x, y, { rows: testSelection(split), rowsPerChunk: 100_000 });
  const m2 = evaluateLeastSquares(whole, x, y, { rows: testSelection(split), rowsPerChunk: 3 });
  assert.ok(Math.abs(m1.fvu - m2.fvu) < 1e-12 && Math.abs(m1.r2MeanOverDims - m2.r2MeanOverDims) < 1e-12);
});

test("one accumulation solves both with and without an intercept; selectOutputs splits joint fits", () => {
  const { c, split } = setup("well");
  const ne = new NormalEquations(c.d, c.p);
  const xs = f32(c.x.slice(0, c.n_train)), ys = f32(c.y.slice(0, c.n_train));
  ne.add(xs, ys, c.n_train);
  assert.ok(maxRelError(ne.solve({ intercept: true }).coefficients, flat(c.intercept.coef), 0) < 1e-6);
  assert.ok(maxRelError(ne.solve({ intercept: false }).coefficients, flat(c.no_intercept.coef), 0) < 1e-6);
  const joint = fitLeastSquares(arraySource(f32(c.x), c.d), arraySource(f32(c.y), c.p), { rows: trainSelection(split) });
  const last = selectOutputs(joint, 1, 3);
  assert.equal(last.outputs, 2);
  const ref = c.intercept.coef.map((r: number[]) => r.slice(1, 3));
  assert.ok(maxRelError(last.coefficients, flat(ref), 0) < 1e-6);
});

test("nearly dependent columns: solved with a conditioning warning, or dropped under a stricter rankTolerance", () => {
  const n = 500, d = 3;
  const z = normals(n * 4, 31);
  const x = new Float64Array(n * d), y = new Float64Array(n);
  for (let t = 0; t < n; t++) {
    x[t * d] = z[t]; x[t * d + 1] = z[n + t]; x[t * d + 2] = z[t] + 3e-5 * z[2 * n + t]; // column 2 ≈ column 0
    y[t] = x[t * d] - 2 * x[t * d + 1] + 0.1 * z[3 * n + t];
  }
  const src = arraySource(x, d), ys = arraySource(y, 1);
  const loose = fitLeastSquares(src, ys);
  assert.equal(loose.rank, 3);
  assert.ok(loose.conditionEstimate > 1e8);
  assert.match(loose.warnings.join(), /condition number/);
  const strict = fitLeastSquares(src, ys, { rankTolerance: 1e-8 });
  assert.equal(strict.rank, 2);
  assert.deepEqual(strict.dependentColumns, [2]);
  assert.equal(strict.coefficients[2], 0);
  // In-sample the larger model fits at least as well, and only barely better (column 2 adds almost nothing).
  const mLoose = evaluateLeastSquares(loose, src, ys), mStrict = evaluateLeastSquares(strict, src, ys);
  assert.ok(mLoose.fvu <= mStrict.fvu && mStrict.fvu < 1.01 * mLoose.fvu);
});

test("bad input is an InputError, never a wrong number", () => {
  const d = 3, n = 40;
  const xs = normals(n * d, 1), ys = normals(n, 2);
  const x = arraySource(xs, d, "acts.npy"), y = arraySource(ys, 1, "target");
  // Mismatched row counts.
  assert.throws(() => fitLeastSquares(x, arraySource(ys.subarray(0, n - 1), 1, "target")), (e: unknown) =>
    e instanceof InputError && /target.*39 rows.*acts\.npy.*40/.test(e.message));
  // Fewer fitting rows than features.
  const few = explicitSplit(n, [0, 1, 2], range(3, n));
  assert.throws(() => fitLeastSquares(x, y, { rows: trainSelection(few) }), (e: unknown) =>
    e instanceof InputError && /3 fitting rows cannot determine 3 coefficients and an intercept/.test(e.message));
  // NaN / Inf rows: an error naming the source and row, or dropped and counted on request.
  const bad = Float32Array.from(xs);
  bad[7 * d + 1] = NaN;
  bad[20 * d] = Infinity;
  const xb = arraySource(bad, d, "acts.npy");
  assert.throws(() => fitLeastSquares(xb, y), (e: unknown) => e instanceof InputError && /acts\.npy: row 7 holds NaN/.test(e.message));
  const warnings: string[] = [];
  const dropped = fitLeastSquares(xb, y, { dropNonFinite: true, onWarning: (w) => warnings.push(w) });
  assert.equal(dropped.droppedNonFinite, 2);
  assert.equal(dropped.rows, n - 2);
  assert.match(warnings.join(), /dropped 2 row/);
  const keep = range(0, n).filter((i) => i !== 7 && i !== 20);
  const ref = fitLeastSquares(arraySource(Float32Array.from(keep.flatMap((i) => Array.from(xs.subarray(i * d, i * d + d)))), d),
    arraySource(Float32Array.from(keep.map((i) => ys[i])), 1));
  assert.ok(maxRelError(dropped.coefficients, ref.coefficients, 0) < 1e-12);
  // A source that lies about its size, and one whose chunks split rows.
  const liar = generatedSource(n + 5, d, () => [xs], "liar");
  assert.throws(() => fitLeastSquares(liar, arraySource(normals(n + 5, 3), 1)), /liar: yields 40 rows but declares 45/);
  const torn = generatedSource(n, d, () => [xs.subarray(0, 4), xs.subarray(4)], "torn");
  assert.throws(() => fitLeastSquares(torn, y), /torn: a chunk of 4 values does not hold whole rows of 3/);
  // Predictions with the wrong width.
  const fit = fitLeastSquares(x, y);
  assert.throws(() => predict(fit, new Float32Array(8), 2), InputError);
  assert.throws(() => evaluateLeastSquares(fit, arraySource(new Float32Array(8), 4), y), InputError);
});

test("the paper's split: first N of a seeded permutation train, the rest test", () => {
  const s = trainTestSplit(1000, { trainRows: 600, seed: 5 });
  assert.equal(s.trainRows, 600);
  assert.equal(s.testRows, 400);
  let train = 0, test = 0;
  for (const r of s.roles) { if (r === 1) train++; else if (r === 2) test++; }
  assert.deepEqual([train, test], [600, 400]);
  assert.deepEqual(trainTestSplit(1000, { trainRows: 600, seed: 5 }).roles, s.roles, "same seed, same split");
  assert.notDeepEqual(trainTestSplit(1000, { trainRows: 600, seed: 6 }).roles, s.roles, "another seed, another split");
  // Not just the first rows: training rows are spread over the data.
  assert.ok(s.roles.subarray(0, 500).filter((r) => r === 1).length > 250);
  assert.equal(trainTestSplit(1000, { trainFraction: 0.25 }).trainRows, 250);
  const capped = trainTestSplit(1000, { trainRows: 600, testRows: 100 });
  assert.equal(capped.testRows, 100);
  assert.equal(capped.roles.filter((r) => r === 0).length, 300);
  assert.throws(() => trainTestSplit(100, { trainRows: 100 }), InputError);
  assert.throws(() => trainTestSplit(100, { trainFraction: 1.5 }), InputError);
  assert.throws(() => trainTestSplit(100, {}), InputError);
});
