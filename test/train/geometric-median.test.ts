import { test } from "node:test";
import * as assert from "node:assert/strict";
import { geometricMedian } from "../../src/train/geometric-median";
import { normals } from "../helpers/random";

test("symmetric configurations have their centre as geometric median", () => {
  // the vertices of a square around (1, −2), plus a centrally symmetric cloud around (3, 0, 5)
  const square = [2, -1, 0, -1, 0, -3, 2, -3];
  const m1 = geometricMedian(square, 4, 2);
  assert.ok(m1.converged);
  assert.ok(Math.hypot(m1.median[0] - 1, m1.median[1] + 2) < 1e-6);
  const half = normals(3 * 50, 3);
  const cloud: number[] = [];
  for (let i = 0; i < 50; i++) {
    cloud.push(3 + half[3 * i], half[3 * i + 1], 5 + half[3 * i + 2]);
    cloud.push(3 - half[3 * i], -half[3 * i + 1], 5 - half[3 * i + 2]);
  }
  const m2 = geometricMedian(cloud, 100, 3, { tol: 1e-10, maxIter: 1000 });
  assert.ok(Math.hypot(m2.median[0] - 3, m2.median[1], m2.median[2] - 5) < 1e-6, `got ${Array.from(m2.median)}`);
});

test("on a line it is the ordinary median, even when it coincides with a data point", () => {
  const m = geometricMedian([0, 1, 2, 3, 100], 5, 1, { tol: 1e-9, maxIter: 1000 });
  assert.ok(Math.abs(m.median[0] - 2) < 1e-6, `got ${m.median[0]}`);
});

test("an outlier drags the mean but barely moves the geometric median", () => {
  const rows = 101, d = 4;
  const pts = normals(rows * d, 5).map((v) => 0.1 * v);
  for (let t = 0; t < d; t++) pts[(rows - 1) * d + t] = 1e4; // one huge-norm point
  const m = geometricMedian(pts, rows, d);
  let meanShift = 0, medianShift = 0;
  for (let t = 0; t < d; t++) {
    let s = 0;
    for (let i = 0; i < rows; i++) s += pts[i * d + t];
    meanShift = Math.max(meanShift, Math.abs(s / rows));
    medianShift = Math.max(medianShift, Math.abs(m.median[t]));
  }
  assert.ok(meanShift > 90, `the mean moves ~1e4/101 (got ${meanShift})`);
  assert.ok(medianShift < 0.1, `the median stays with the cloud (got ${medianShift})`);
});

test("the iteration cap and tolerance are honoured and inputs are validated", () => {
  const pts = normals(200 * 3, 9);
  const capped = geometricMedian(pts, 200, 3, { maxIter: 2, tol: 0 });
  assert.equal(capped.iterations, 2);
  assert.equal(capped.converged, false);
  const loose = geometricMedian(pts, 200, 3, { tol: 1e3 });
  assert.equal(loose.iterations, 1);
  assert.ok(loose.converged);
  assert.throws(() => geometricMedian([1, 2, 3], 2, 2), /fewer than rows·d/);
  assert.throws(() => geometricMedian([1, NaN], 1, 2), /non-finite/);
  assert.throws(() => geometricMedian([1, 2], 0, 2), /rows ≥ 1/);
});
