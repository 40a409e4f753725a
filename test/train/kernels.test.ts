import { test } from "node:test";
import * as assert from "node:assert/strict";
import { KernelArena } from "../../src/train/kernels";
import { normals } from "../helpers/random";

const LENGTHS = [0, 1, 3, 4, 5, 8, 17, 256, 259];

function arena(): KernelArena {
  return new KernelArena(KernelArena.bytesFor(Array(8).fill(300)));
}

test("dot, axpy, dotAxpy and scal match float64 loops, including the scalar tails", () => {
  for (const n of LENGTHS) {
    const A = arena();
    const a = A.floats(n), b = A.floats(n), y = A.floats(n);
    a.set(normals(n, 1 + n)); b.set(normals(n, 2 + n)); y.set(normals(n, 3 + n));
    let ref = 0;
    for (let i = 0; i < n; i++) ref += a[i] * b[i];
    assert.ok(Math.abs(A.k.dot(a.byteOffset, b.byteOffset, n) - ref) <= 1e-5 * (1 + Math.abs(ref)), `dot n=${n}`);
    const y0 = y.slice();
    A.k.axpy(0.75, a.byteOffset, y.byteOffset, n);
    for (let i = 0; i < n; i++) assert.equal(y[i], Math.fround(y0[i] + Math.fround(0.75 * a[i])), `axpy n=${n} i=${i}`);
    const y1 = y.slice();
    const s = A.k.dotAxpy(-0.5, a.byteOffset, y.byteOffset, b.byteOffset, n);
    assert.ok(Math.abs(s - ref) <= 1e-5 * (1 + Math.abs(ref)), `dotAxpy dot n=${n}`);
    for (let i = 0; i < n; i++) assert.equal(y[i], Math.fround(y1[i] + Math.fround(-0.5 * a[i])), `dotAxpy axpy n=${n} i=${i}`);
    const a0 = a.slice();
    A.k.scal(-1.5, a.byteOffset, n);
    for (let i = 0; i < n; i++) assert.equal(a[i], Math.fround(-1.5 * a0[i]), `scal n=${n} i=${i}`);
  }
});

test("kernels touch only the n floats they are given", () => {
  const A = arena();
  const buf = A.floats(24);
  buf.fill(1);
  A.k.axpy(2, buf.byteOffset, buf.byteOffset + 4 * 12, 5);
  A.k.scal(3, buf.byteOffset + 4, 6);
  assert.deepEqual(Array.from(buf), [1, 3, 3, 3, 3, 3, 3, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1]);
});

test("collectAbove returns every entry of p + q above the threshold, in order, and stops at cap", () => {
  const A = arena();
  const n = 256;
  const p = A.floats(n), q = A.floats(n), idx = A.ints(n), val = A.floats(n);
  p.set(normals(n, 5)); q.set(normals(n, 6));
  for (const thr of [-Infinity, -0.5, 0, 1.2, 10]) {
    const expected: [number, number][] = [];
    for (let i = 0; i < n; i++) if (Math.fround(p[i] + q[i]) > thr) expected.push([i, Math.fround(p[i] + q[i])]);
    const c = A.k.collectAbove(p.byteOffset, q.byteOffset, n, thr, idx.byteOffset, val.byteOffset, n);
    assert.equal(c, expected.length, `count at thr=${thr}`);
    for (let i = 0; i < c; i++) {
      assert.equal(idx[i], expected[i][0]);
      assert.equal(val[i], expected[i][1]);
    }
  }
  const all = A.k.collectAbove(p.byteOffset, q.byteOffset, n, -Infinity, idx.byteOffset, val.byteOffset, 7);
  assert.equal(all, 7);
  assert.deepEqual(Array.from(idx.subarray(0, 7)), [0, 1, 2, 3, 4, 5, 6]);
  // −∞ in q excludes an entry
  q[3] = -Infinity;
  const c = A.k.collectAbove(p.byteOffset, q.byteOffset, 4, -1e30, idx.byteOffset, val.byteOffset, n);
  assert.deepEqual(Array.from(idx.subarray(0, c)), [0, 1, 2]);
});

test("collectAboveEach compares each entry of p + q with its own threshold, exactly, in order", () => {
  const A = arena();
  const n = 256;
  const p = A.floats(n), q = A.floats(n), t = A.floats(n), idx = A.ints(n), val = A.floats(n);
  p.set(normals(n, 15)); q.set(normals(n, 16)); t.set(normals(n, 17).map((v) => 0.5 * v));
  for (let i = 0; i < n; i += 9) t[i] = Math.fround(p[i] + q[i]); // on the threshold: not above it
  const expected: [number, number][] = [];
  for (let i = 0; i < n; i++) if (Math.fround(p[i] + q[i]) > t[i]) expected.push([i, Math.fround(p[i] + q[i])]);
  assert.ok(expected.length > 20 && expected.length < n - 20);
  const c = A.k.collectAboveEach(p.byteOffset, q.byteOffset, t.byteOffset, n, idx.byteOffset, val.byteOffset, n);
  assert.deepEqual(Array.from(idx.subarray(0, c)), expected.map(([i]) => i));
  assert.deepEqual(Array.from(val.subarray(0, c)), expected.map(([, v]) => v));
  assert.equal(A.k.collectAboveEach(p.byteOffset, q.byteOffset, t.byteOffset, n, idx.byteOffset, val.byteOffset, 5), 5, "stops at cap");
  assert.equal(A.k.collectAboveEach(p.byteOffset, q.byteOffset, t.byteOffset, 0, idx.byteOffset, val.byteOffset, n), 0);
});

test("reset hands the arena out again, zeroed", () => {
  const A = new KernelArena(KernelArena.bytesFor([8, 8]));
  const a = A.floats(8);
  a.fill(3);
  A.ints(8).fill(-1);
  assert.throws(() => A.floats(1), /overflow/);
  A.reset();
  const b = A.floats(8), c = A.ints(8);
  assert.equal(b.byteOffset, a.byteOffset);
  assert.deepEqual(Array.from(b), Array(8).fill(0));
  assert.deepEqual(Array.from(c), Array(8).fill(0));
});

test("adam matches torch's update formula elementwise", () => {
  const n = 20;
  const A = arena();
  const p = A.floats(n), g = A.floats(n), m = A.floats(n), v = A.floats(n);
  p.set(normals(n, 7)); g.set(normals(n, 8)); m.set(normals(n, 9).map((x) => 0.1 * x)); v.set(normals(n, 10).map((x) => x * x));
  const [p0, g0, m0, v0] = [p.slice(), g.slice(), m.slice(), v.slice()];
  const b1 = 0.9, b2 = 0.999, eps = 1e-8, lr = 1e-3, t = 3, gscale = 0.5;
  const step = lr / (1 - b1 ** t), inv = 1 / Math.sqrt(1 - b2 ** t);
  A.k.adam(p.byteOffset, g.byteOffset, m.byteOffset, v.byteOffset, n, gscale, b1, 1 - b1, b2, 1 - b2, step, inv, eps);
  for (let i = 0; i < n; i++) {
    const gi = gscale * g0[i];
    const mi = b1 * m0[i] + (1 - b1) * gi, vi = b2 * v0[i] + (1 - b2) * gi * gi;
    const pi = p0[i] - (step * mi) / (Math.sqrt(vi) * inv + eps);
    assert.ok(Math.abs(m[i] - mi) < 1e-6 * (1 + Math.abs(mi)), `m[${i}]`);
    assert.ok(Math.abs(v[i] - vi) < 1e-6 * (1 + Math.abs(vi)), `v[${i}]`);
    assert.ok(Math.abs(p[i] - pi) < 1e-6 * (1 + Math.abs(pi)), `p[${i}]`);
  }
});

test("an arena refuses to hand out more than it holds, and sizes beyond wasm32 are refused up front", () => {
  const A = new KernelArena(KernelArena.bytesFor([8]));
  A.floats(8);
  assert.throws(() => A.floats(1), /overflow/);
  assert.throws(() => new KernelArena(5 * 1024 ** 3), /wasm32 limit/);
});
